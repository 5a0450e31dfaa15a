package results

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Entry is a run document found in a directory.
type Entry struct {
	// Path is the document's file; Size and ModTime its size and
	// modification time when it was read.
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// Header is the document's header. Headers returned by an Index are
	// shared between listings and must not be modified.
	Header *Header `json:"header"`
}

// Skipped is a file of a results directory that is not a readable run
// document, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Listing is what a results directory holds.
type Listing struct {
	// Runs are the documents, by start time (then ID).
	Runs []Entry `json:"runs"`
	// Skipped are the other files, by name. Hidden files (such as the
	// temporary files of writes in progress or interrupted by a crash) and
	// directories are ignored, not skipped.
	Skipped []Skipped `json:"skipped"`
}

// List reads the headers of the run documents in dir (see Index.List). A
// directory that does not exist holds no runs.
func List(dir string) (*Listing, error) {
	return NewIndex(dir).List()
}

// Index lists a results directory and keeps the headers it read, so that
// listing again reads only the files that are new or have changed (by size
// and modification time): one directory read and a stat per file. It is
// safe for concurrent use.
type Index struct {
	dir   string
	mu    sync.Mutex
	cache map[string]indexed // by file name
}

// indexed is what the index knows of one file.
type indexed struct {
	size    int64
	modTime time.Time
	header  *Header
	reason  string // why the file was skipped, when header is nil
}

// NewIndex returns an empty index of dir ("" means DefaultDir).
func NewIndex(dir string) *Index {
	if dir == "" {
		dir = DefaultDir
	}
	return &Index{dir: dir, cache: map[string]indexed{}}
}

// List returns the run documents of the directory and the files skipped,
// each with a reason; one bad file never fails the listing. Headers are read
// with ReadHeader, in parallel, for files not seen before or changed since.
// The error is that of reading the directory itself; a directory that does
// not exist gives an empty listing.
func (ix *Index) List() (*Listing, error) {
	ents, err := os.ReadDir(ix.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Listing{Runs: []Entry{}, Skipped: []Skipped{}}, nil
	}
	if err != nil {
		return nil, err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	seen := make(map[string]indexed, len(ents))
	var stale []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		in := ix.stat(e)
		if old, ok := ix.cache[name]; ok && old.size == in.size && old.modTime.Equal(in.modTime) && in.reason == "" {
			in = old
		} else if in.reason == "" {
			stale = append(stale, name)
		}
		seen[name] = in
	}
	ix.readHeaders(stale, seen)
	ix.cache = seen
	return ix.listing(), nil
}

// stat returns what a directory entry's metadata says: its size and time,
// or a reason to skip it.
func (ix *Index) stat(e fs.DirEntry) indexed {
	if !strings.HasSuffix(e.Name(), Ext) {
		return indexed{reason: "not a " + Ext + " file"}
	}
	fi, err := e.Info()
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(filepath.Join(ix.dir, e.Name()))
	}
	switch {
	case err != nil:
		return indexed{reason: err.Error()}
	case !fi.Mode().IsRegular():
		return indexed{reason: "not a regular file"}
	}
	return indexed{size: fi.Size(), modTime: fi.ModTime()}
}

// readHeaders reads the headers of the named files into seen, in parallel.
func (ix *Index) readHeaders(names []string, seen map[string]indexed) {
	out := make([]indexed, len(names))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for i := range work {
				in := seen[names[i]]
				h, err := readHeaderFile(filepath.Join(ix.dir, names[i]))
				in.header = h
				if err != nil {
					in.reason = err.Error()
				}
				out[i] = in
			}
		})
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, name := range names {
		seen[name] = out[i]
	}
}

// readHeaderFile is ReadHeader with the reasons of a listing: errors
// without the "results: PATH:" prefix, since the listing names the file.
func readHeaderFile(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(f)
}

// listing builds the listing from the cache.
func (ix *Index) listing() *Listing {
	l := &Listing{Runs: []Entry{}, Skipped: []Skipped{}}
	for name, in := range ix.cache {
		path := filepath.Join(ix.dir, name)
		if in.header == nil {
			l.Skipped = append(l.Skipped, Skipped{Path: path, Reason: in.reason})
			continue
		}
		l.Runs = append(l.Runs, Entry{Path: path, Size: in.size, ModTime: in.modTime, Header: in.header})
	}
	slices.SortFunc(l.Runs, func(a, b Entry) int {
		return cmp.Or(a.Header.Environment.StartTime.Compare(b.Header.Environment.StartTime),
			cmp.Compare(a.Header.ID, b.Header.ID), cmp.Compare(a.Path, b.Path))
	})
	slices.SortFunc(l.Skipped, func(a, b Skipped) int { return cmp.Compare(a.Path, b.Path) })
	return l
}
