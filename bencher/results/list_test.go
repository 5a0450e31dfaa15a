package results

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeDocs writes documents started at the given offsets from start and
// returns their IDs in the order given.
func writeDocs(t *testing.T, dir string, offsets ...time.Duration) []string {
	t.Helper()
	var ids []string
	for _, off := range offsets {
		doc := fakeDoc(20, start.Add(off))
		_, err := Write(dir, doc)
		require.NoError(t, err)
		ids = append(ids, doc.ID)
	}
	return ids
}

func TestListSkipsWithReasons(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ids := writeDocs(t, dir, 2*time.Hour, 0, time.Hour)
	whole := string(encode(t, fakeDoc(20, start)))
	// A crash during a write leaves a hidden temporary file: ignored.
	writeFile(t, dir, ".20261127T101500Z-dead00.json.tmp-12345", whole[:100])
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.json"), 0o755))
	writeFile(t, dir, "README.md", "# results\n")
	writeFile(t, dir, "corrupt.json", "{\"schema_version\": 1, \"kind\": ")
	writeFile(t, dir, "foreign.json", `{"dashboard": {"title": "GPU"}}`)
	writeFile(t, dir, "future.json", `{"schema_version": 7, "kind": "benchstation.run"}`)
	writeFile(t, dir, "cut.json", whole[:len(whole)-100])
	require.NoError(t, os.Symlink("nowhere.json", filepath.Join(dir, "dangling.json")))

	l, err := List(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range l.Runs {
		got = append(got, e.Header.ID)
		assert.Equal(t, filepath.Join(dir, e.Header.ID+".json"), e.Path)
		assert.Positive(t, e.Size)
	}
	assert.Equal(t, []string{ids[1], ids[2], ids[0]}, got, "by start time")
	p := func(name string) string { return filepath.Join(dir, name) }
	assert.Equal(t, []Skipped{
		{p("README.md"), "not a .json file"},
		{p("corrupt.json"), `field "kind": truncated document: unexpected EOF`},
		{p("cut.json"), "truncated document"},
		{p("dangling.json"), "stat " + p("dangling.json") + ": no such file or directory"},
		{p("foreign.json"), "not a run document: no schema_version"},
		{p("future.json"), "newer schema version: the document has schema_version 7, this bencher reads up to 1; upgrade the bencher"},
	}, l.Skipped)
}

func TestListMissingDirectory(t *testing.T) {
	t.Parallel()
	l, err := List(filepath.Join(t.TempDir(), "none"))
	require.NoError(t, err)
	assert.Equal(t, &Listing{Runs: []Entry{}, Skipped: []Skipped{}}, l)
}

func TestIndexRereadsOnlyChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ids := writeDocs(t, dir, 0, time.Minute, 2*time.Minute)
	ix := NewIndex(dir)
	first, err := ix.List()
	require.NoError(t, err)
	require.Len(t, first.Runs, 3)

	// Unchanged files are not read again: the same headers come back.
	again, err := ix.List()
	require.NoError(t, err)
	for i := range again.Runs {
		assert.Same(t, first.Runs[i].Header, again.Runs[i].Header)
	}

	// One file replaced, one removed, one added, one broken.
	changed := fakeDoc(20, start.Add(time.Minute))
	changed.ID, changed.Name = ids[1], "changed"
	require.NoError(t, os.Remove(filepath.Join(dir, ids[1]+".json")))
	_, err = Write(dir, changed)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, ids[2]+".json")))
	added := writeDocs(t, dir, time.Hour)
	writeFile(t, dir, "bad.json", "{")

	l, err := ix.List()
	require.NoError(t, err)
	require.Len(t, l.Runs, 3)
	assert.Same(t, first.Runs[0].Header, l.Runs[0].Header)
	assert.Equal(t, "changed", l.Runs[1].Header.Name)
	assert.Equal(t, added[0], l.Runs[2].Header.ID)
	assert.Equal(t, []Skipped{{filepath.Join(dir, "bad.json"), "truncated document: unexpected EOF"}}, l.Skipped)
}
