package results

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Set BENCHSTATION_LIST_TIMING to a directory to measure listing 1,000
// documents of 5,000 records each (about 4.5 GB, written on the first
// run):
//
//	BENCHSTATION_LIST_TIMING=/tmp/runs go test -run TestListTiming -v ./bencher/results/
const (
	timingDocs    = 1000
	timingRecords = 5000
)

func TestListTiming(t *testing.T) {
	dir := os.Getenv("BENCHSTATION_LIST_TIMING")
	if dir == "" {
		t.Skip("set BENCHSTATION_LIST_TIMING=DIR to measure listing 1,000 documents of 5,000 records")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if names, _ := os.ReadDir(dir); len(names) < timingDocs {
		t0 := time.Now()
		makeTimingDocs(t, dir)
		t.Logf("wrote %d documents in %v", timingDocs, time.Since(t0))
	}
	var fi os.FileInfo
	t0 := time.Now()
	ix := NewIndex(dir)
	l, err := ix.List()
	require.NoError(t, err)
	first := time.Since(t0)
	require.Len(t, l.Runs, timingDocs)
	fi, err = os.Stat(l.Runs[0].Path)
	require.NoError(t, err)
	t.Logf("first listing (reads %d headers, %d MB each): %v", len(l.Runs), fi.Size()>>20, first)
	for range 3 {
		t0 = time.Now()
		l, err = ix.List()
		require.NoError(t, err)
		t.Logf("next listing (cached, stat only): %v", time.Since(t0))
	}
	t0 = time.Now()
	for _, e := range l.Runs[:100] {
		_, err := ReadHeader(e.Path)
		require.NoError(t, err)
	}
	t.Logf("ReadHeader, one goroutine: %v per document", time.Since(t0)/100)
	t0 = time.Now()
	_, err = Read(l.Runs[0].Path)
	require.NoError(t, err)
	t.Logf("Read of a whole document: %v", time.Since(t0))
}

// makeTimingDocs writes the documents of TestListTiming: the records are
// encoded once and shared, each header is its own.
func makeTimingDocs(t *testing.T, dir string) {
	base := fakeDoc(timingRecords, start)
	var whole bytes.Buffer
	require.NoError(t, Encode(&whole, base))
	sep := []byte(",\n  \"records\": [")
	tail := whole.Bytes()[bytes.Index(whole.Bytes(), sep):]
	for i := range timingDocs {
		doc := *base
		doc.Header.ID = fmt.Sprintf("%s-%06x", start.Add(time.Duration(i)*time.Minute).Format(idTimeLayout), i)
		doc.Environment.StartTime = start.Add(time.Duration(i) * time.Minute)
		doc.Records = nil
		var b bytes.Buffer
		require.NoError(t, Encode(&b, &doc))
		head := b.Bytes()[:bytes.Index(b.Bytes(), sep)]
		path := filepath.Join(dir, doc.ID+Ext)
		require.NoError(t, os.WriteFile(path, append(head, tail...), FileMode))
	}
}

// BenchmarkReadHeader reads the header of a document of 5,000 records.
func BenchmarkReadHeader(b *testing.B) {
	path, err := Write(b.TempDir(), fakeDoc(timingRecords, start))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadHeader(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexList lists a directory of 100 documents whose headers
// are cached.
func BenchmarkIndexList(b *testing.B) {
	dir := b.TempDir()
	for i := range 100 {
		doc := fakeDoc(10, start.Add(time.Duration(i)*time.Second))
		_, err := Write(dir, doc)
		require.NoError(b, err)
	}
	ix := NewIndex(dir)
	_, err := ix.List()
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ix.List(); err != nil {
			b.Fatal(err)
		}
	}
}
