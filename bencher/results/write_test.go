package results

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/gate"
)

func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results") // created by Write
	doc := fakeDoc(100, start)
	path, err := Write(dir, doc)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, doc.ID+".json"), path)
	assert.Equal(t, []string{doc.ID + ".json"}, listNames(t, dir), "no temporary file left")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, FileMode, fi.Mode().Perm())

	_, err = Write(dir, doc)
	require.ErrorIs(t, err, ErrExists)
	assert.Equal(t, []string{doc.ID + ".json"}, listNames(t, dir), "no temporary file left after a failure")

	bad := *doc
	bad.ID = "../escape"
	_, err = Write(dir, &bad)
	require.EqualError(t, err, `results: write: invalid document id "../escape"`)
}

// TestWriteReaderNeverSeesPartialFile reads the target path while large
// documents are written to it over and over: every read finds no file or a
// whole document.
func TestWriteReaderNeverSeesPartialFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := fakeDoc(2000, start)
	doc.ID = "20261127T101500Z-aaaaaa"
	path := filepath.Join(dir, doc.ID+".json")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	reads := 0
	wg.Go(func() {
		for ctx.Err() == nil {
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if !assert.NoError(t, err) || !assert.True(t, json.Valid(data), "partial file of %d bytes", len(data)) {
				return
			}
			reads++
		}
	})
	for range 10 {
		_, err := Write(dir, doc)
		require.NoError(t, err)
		require.NoError(t, os.Remove(path))
	}
	_, err := Write(dir, doc)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)
	cancel()
	wg.Wait()
	assert.Positive(t, reads)
	assert.Equal(t, []string{doc.ID + ".json"}, listNames(t, dir))
}

// TestWriteFailureLeavesNothing makes the encoding fail (a gate threshold
// that JSON cannot hold) and checks that the temporary file is removed.
func TestWriteFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := fakeDoc(10, start)
	nan := 0.0
	nan /= nan
	doc.Gates = []gate.Outcome{{Gate: gate.Gate{Name: "ttft_p95", Op: gate.LE, Threshold: nan, Text: "ttft_p95<=NaN"}}}
	_, err := Write(dir, doc)
	require.ErrorContains(t, err, "results: encode: json: ")
	require.ErrorContains(t, err, "unsupported value: NaN")
	assert.Empty(t, listNames(t, dir))
}

func TestEncodeLayout(t *testing.T) {
	t.Parallel()
	doc := fakeDoc(3, start)
	data := encode(t, doc)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	assert.Equal(t, "{", string(lines[0]))
	assert.Equal(t, `  "schema_version": 1,`, string(lines[1]))
	assert.Equal(t, `  "kind": "benchstation.run",`, string(lines[2]))
	n := len(lines)
	assert.Equal(t, `  "records": [`, string(lines[n-6]))
	for _, l := range lines[n-5 : n-2] {
		assert.True(t, bytes.HasPrefix(l, []byte(`    {"index":`)), string(l))
	}
	assert.Equal(t, "  ]", string(lines[n-2]))
	assert.Equal(t, "}", string(lines[n-1]))

	doc.Records = nil
	assert.Contains(t, string(encode(t, doc)), `"records": []`)
	doc.RecordsOmitted = true
	assert.NotContains(t, string(encode(t, doc)), `"records"`)
}

func TestEncodeDropsNonFiniteServerSide(t *testing.T) {
	t.Parallel()
	doc := fakeDoc(3, start)
	nan, one := 0.0, 1.0
	nan /= nan
	doc.ServerSide = &ServerSide{EnergyJoules: &nan, Preemptions: &one, Extra: map[string]float64{"x": nan, "y": 2}}
	var got Document
	require.NoError(t, json.Unmarshal(encode(t, doc), &got))
	assert.Equal(t, &ServerSide{Preemptions: &one, Extra: map[string]float64{"y": 2}}, got.ServerSide)
	assert.NotNil(t, doc.ServerSide.EnergyJoules, "the caller's document is not modified")
}

// TestWriteFallback keeps a document that cannot go where it belongs in
// the clearly named fallback directory. Not parallel: it changes the
// fallback root.
func TestWriteFallback(t *testing.T) {
	root := t.TempDir()
	old := fallbackRoot
	fallbackRoot = func() string { return root }
	t.Cleanup(func() { fallbackRoot = old })
	doc := fakeDoc(3, start)
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o644))
	_, err := Write(notADir, doc)
	require.Error(t, err)
	path, err := WriteFallback(doc)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, FallbackDirName, doc.ID+Ext), path)
	back, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, doc.ID, back.ID)
}

// TestCleanTempsAndCheckWritable: leftover temporary documents older than
// the limit are removed, recent ones and documents are kept; the probe of
// a writable directory leaves nothing, that of a file fails.
func TestCleanTempsAndCheckWritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, CheckWritable(dir))
	assert.Empty(t, listNames(t, dir), "the probe is removed")
	old := filepath.Join(dir, ".20261127T101500Z-aaaaaa.json.tmp-123")
	recent := filepath.Join(dir, ".20261127T101500Z-bbbbbb.json.tmp-456")
	keep := filepath.Join(dir, "20261127T101500Z-cccccc.json")
	for _, p := range []string{old, recent, keep} {
		require.NoError(t, os.WriteFile(p, []byte("{}"), 0o644))
	}
	past := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(old, past, past))
	removed, err := CleanTemps(dir, TempMaxAge)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Base(old)}, removed)
	assert.NoFileExists(t, old)
	assert.FileExists(t, recent)
	assert.FileExists(t, keep)
	require.Error(t, CheckWritable(keep), "a file is no directory")
}
