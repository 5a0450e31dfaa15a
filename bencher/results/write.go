package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// Defaults of the results directory.
const (
	// DefaultDir is the results directory of the CLI.
	DefaultDir = "results"
	// FileMode is the mode of written documents.
	FileMode fs.FileMode = 0o644
	// DirMode is the mode of a results directory that Write creates.
	DirMode fs.FileMode = 0o755
	// Ext is the extension of document files: DIR/ID.json.
	Ext = ".json"
)

// ErrExists is returned by Write when the directory already holds a
// document with the same ID.
var ErrExists = errors.New("results: a document with this id already exists")

// tempPattern is the os.CreateTemp pattern of a document being written: a
// hidden file without the .json extension, which listings ignore.
func tempPattern(id string) string { return "." + id + Ext + ".tmp-*" }

// Write stores doc as DIR/ID.json, creating the directory if needed, and
// returns the file's path; dir "" means DefaultDir. The write is atomic: the document goes to a
// temporary file in the same directory, which is synced, given FileMode,
// and renamed into place, and then the directory is synced; a reader sees
// the whole document or none, and a crash leaves at most a hidden
// temporary file, which listings ignore.
func Write(dir string, doc *Document) (path string, err error) {
	if !validID(doc.ID) {
		return "", fmt.Errorf("results: write: invalid document id %q", doc.ID)
	}
	if dir == "" {
		dir = DefaultDir
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return "", fmt.Errorf("results: write: %w", err)
	}
	path = filepath.Join(dir, doc.ID+Ext)
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%w: %s", ErrExists, path)
	}
	return path, writeAtomic(dir, path, doc)
}

// WriteFile stores doc as the file path, replacing any file there, as
// atomically as Write does (the temporary file is made beside path); the
// directory is created if needed.
func WriteFile(path string, doc *Document) error {
	if !validID(doc.ID) {
		return fmt.Errorf("results: write: invalid document id %q", doc.ID)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	return writeAtomic(dir, path, doc)
}

// writeAtomic writes doc into a temporary file of dir, syncs it and
// renames it to path, then syncs dir.
func writeAtomic(dir, path string, doc *Document) (err error) {
	f, err := os.CreateTemp(dir, tempPattern(doc.ID))
	if err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = Encode(f, doc); err != nil {
		return err
	}
	if err = f.Chmod(FileMode); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	return syncDir(dir)
}

// FallbackDirName is the directory, under the system's temporary
// directory, that WriteFallback keeps documents in.
const FallbackDirName = "bencher-unsaved"

// fallbackRoot is the directory FallbackDirName is made in; tests change it.
var fallbackRoot = os.TempDir

// FallbackDir returns where WriteFallback keeps documents:
// $TMPDIR/bencher-unsaved.
func FallbackDir() string { return filepath.Join(fallbackRoot(), FallbackDirName) }

// WriteFallback keeps a document that could not be written where it
// belonged (a full disk, a directory gone) in FallbackDir, atomically as
// Write does, and returns its path: a finished run is never lost silently.
func WriteFallback(doc *Document) (string, error) {
	return Write(FallbackDir(), doc)
}

// TempMaxAge is the age past which CleanTemps takes a temporary document
// file for the leftover of a crashed or killed writer rather than a write
// in progress.
const TempMaxAge = 10 * time.Minute

// CleanTemps removes the leftover temporary files of documents (see Write)
// in dir that are older than olderThan, and returns their names. A
// missing dir has none.
func CleanTemps(dir string, olderThan time.Duration) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("results: clean: %w", err)
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isTempName(name) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < olderThan {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err == nil {
			removed = append(removed, name)
		}
	}
	return removed, nil
}

// isTempName reports whether name is that of a temporary document file
// (tempPattern): ".ID.json.tmp-RANDOM".
func isTempName(name string) bool {
	id, rest, ok := strings.Cut(strings.TrimPrefix(name, "."), Ext+".tmp-")
	return ok && strings.HasPrefix(name, ".") && validID(id) && rest != ""
}

// CheckWritable makes dir if needed and checks that a file can be created
// in it and removed, so that a run whose document could not be written
// fails before it starts rather than after.
func CheckWritable(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".bencher-probe-*")
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte("probe\n"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	return errors.Join(werr, cerr, rerr)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("results: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("results: sync directory %s: %w", dir, err)
	}
	return nil
}

// WritePartial builds the document of a run that ended early (see
// NewPartial) and writes it (see Write). It is what a CLI calls after a
// Ctrl-C or a fatal error, so that what was measured is kept.
func WritePartial(dir string, res *bencher.Result, m Meta, cause error) (*Document, string, error) {
	doc := NewPartial(res, m, cause)
	path, err := Write(dir, doc)
	return doc, path, err
}

// Encode writes doc as JSON: the header indented, then the records one per
// line, last. Non-finite numbers of ServerSide are left out (JSON has
// none); HTML characters are not escaped.
func Encode(w io.Writer, doc *Document) error {
	h := doc.Header
	h.ServerSide = finiteServerSide(h.ServerSide)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&h); err != nil {
		return fmt.Errorf("results: encode: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n}\n")))
	if !h.RecordsOmitted {
		_, _ = bw.WriteString(",\n  \"records\": [")
		enc.SetIndent("", "")
		for i := range doc.Records {
			buf.Reset()
			if err := enc.Encode(&doc.Records[i]); err != nil {
				return fmt.Errorf("results: encode record %d: %w", i, err)
			}
			sep := ",\n    "
			if i == 0 {
				sep = "\n    "
			}
			_, _ = bw.WriteString(sep)
			_, _ = bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
		if len(doc.Records) > 0 {
			_, _ = bw.WriteString("\n  ")
		}
		_, _ = bw.WriteString("]")
	}
	_, _ = bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("results: encode: %w", err)
	}
	return nil
}

// finiteServerSide returns s without its non-finite numbers (a copy when
// it has any).
func finiteServerSide(s *ServerSide) *ServerSide {
	if s == nil {
		return nil
	}
	c := *s
	for _, p := range []**float64{
		&c.GPUMemoryPeakBytes, &c.EnergyJoules, &c.PowerWattsMean, &c.GPUUtilizationMean,
		&c.KVCacheUsagePeak, &c.PrefixCacheHitRatio, &c.Preemptions,
	} {
		if *p != nil && (math.IsNaN(**p) || math.IsInf(**p, 0)) {
			*p = nil
		}
	}
	if len(c.Extra) > 0 {
		c.Extra = make(map[string]float64, len(s.Extra))
		for k, v := range s.Extra {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				c.Extra[k] = v
			}
		}
	}
	return &c
}
