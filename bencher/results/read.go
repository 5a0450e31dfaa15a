package results

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/benchstation/benchstation/bencher"
)

// Errors of reading a document.
var (
	// ErrNotRun is wrapped by the errors of files that are not run
	// documents: not JSON, not an object, or without this package's
	// schema_version and kind.
	ErrNotRun = errors.New("not a run document")
	// ErrNewerVersion is wrapped when a document's schema_version is newer
	// than SchemaVersion.
	ErrNewerVersion = errors.New("newer schema version")
	// ErrTruncated is wrapped when a document's file ends before its JSON does.
	ErrTruncated = errors.New("truncated document")
)

// Read reads the whole document at path.
func Read(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	d := &Document{}
	if err := decode(bufio.NewReaderSize(f, 256<<10), &d.Header, &d.Records); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return d, nil
}

// Decode reads a whole document from r.
func Decode(r io.Reader) (*Document, error) {
	d := &Document{}
	if err := decode(r, &d.Header, &d.Records); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return d, nil
}

// ReadHeader reads the header of the document at path: it stops reading
// at the records (which this package writes last), so its cost does not
// grow with their number. It checks that the file ends as a JSON object
// does, so that a file cut short is reported as ErrTruncated.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	h, err := readHeader(f)
	if err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return h, nil
}

// readHeader decodes the header of an open document file and checks its end.
func readHeader(f *os.File) (*Header, error) {
	h := &Header{}
	if err := decode(f, h, nil); err != nil {
		return nil, err
	}
	if err := checkEnd(f); err != nil {
		return nil, err
	}
	return h, nil
}

// checkEnd reports ErrTruncated unless the last non-space byte of f is '}'.
func checkEnd(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n := min(fi.Size(), 64)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, fi.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for i := len(buf) - 1; i >= 0; i-- {
		switch c := buf[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == '}':
			return nil
		}
		return ErrTruncated
	}
	return ErrTruncated
}

// DecodeHeader reads the header of a document from r, stopping at the
// records (see ReadHeader); it does not check the document's end.
func DecodeHeader(r io.Reader) (*Header, error) {
	h := &Header{}
	if err := decode(r, h, nil); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return h, nil
}

// headerFields maps the header's JSON field names to the fields.
func headerFields(h *Header) map[string]any {
	return map[string]any{
		"schema_version": &h.SchemaVersion, "kind": &h.Kind, "id": &h.ID,
		"name": &h.Name, "labels": &h.Labels, "profile": &h.Profile,
		"status": &h.Status, "stop_reason": &h.StopReason, "error": &h.Error,
		"config": &h.Config, "environment": &h.Environment, "summary": &h.Summary,
		"errors": &h.Errors, "gates": &h.Gates, "scheduler_lateness": &h.SchedulerLateness,
		"clock_source": &h.ClockSource, "client": &h.Client, "prewarm": &h.Prewarm,
		"server_side": &h.ServerSide, "batch": &h.Batch, "record_count": &h.RecordCount,
		"records_omitted": &h.RecordsOmitted,
		"shard":           &h.Shard, "merged": &h.Merged,
	}
}

// decode reads a document's top-level fields one by one into h, and its
// records into records; with records nil it stops at the records once the
// version and the summary are read. Unknown fields are skipped, so that
// fields added within a schema version do not break older readers.
func decode(r io.Reader, h *Header, records *[]bencher.Record) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: not a JSON object", ErrNotRun)
	}
	fields := headerFields(h)
	var seenVersion, seenSummary bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := t.(string)
		var dst any = new(json.RawMessage) // skipped
		switch ptr, ok := fields[key]; {
		case key == "records" && records != nil:
			dst = records
		case key == "records" && seenVersion && seenSummary:
			return checkHeader(h)
		case ok:
			dst = ptr
		}
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("field %q: %w", key, syntaxError(err))
		}
		switch key {
		case "schema_version":
			seenVersion = true
			if err := checkVersion(h.SchemaVersion); err != nil {
				return err
			}
		case "summary":
			seenSummary = true
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntaxError(err)
	}
	if !seenVersion {
		return fmt.Errorf("%w: no schema_version", ErrNotRun)
	}
	return checkHeader(h)
}

// checkVersion checks a document's schema_version.
func checkVersion(v int) error {
	switch {
	case v > SchemaVersion:
		return fmt.Errorf("%w: the document has schema_version %d, this bencher reads up to %d; upgrade the bencher",
			ErrNewerVersion, v, SchemaVersion)
	case v < 1:
		return fmt.Errorf("%w: schema_version %d", ErrNotRun, v)
	}
	return nil
}

// checkHeader checks the kind and fills the maps a document always has.
func checkHeader(h *Header) error {
	if h.Kind != Kind {
		return fmt.Errorf("%w: kind %q, want %q", ErrNotRun, h.Kind, Kind)
	}
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	return nil
}

// syntaxError marks an unexpected end of the input as ErrTruncated.
func syntaxError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, io.ErrUnexpectedEOF)
	}
	return err
}
