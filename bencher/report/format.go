package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher/results"
)

// Format is an output format.
type Format string

// The output formats.
const (
	FormatTable    Format = "table"    // the terminal table
	FormatMarkdown Format = "markdown" // GitHub-flavoured Markdown
	FormatJSON     Format = "json"     // indented JSON
	FormatJUnit    Format = "junit"    // JUnit XML (reports only)
)

// ErrFormat is wrapped by the errors of unknown or unsupported formats.
var ErrFormat = errors.New("report: unknown format")

// ParseFormat reads a format name ("table", "markdown" or "md", "json",
// "junit"); empty means FormatTable.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "table", "text":
		return FormatTable, nil
	case "markdown", "md":
		return FormatMarkdown, nil
	case "json":
		return FormatJSON, nil
	case "junit", "xml":
		return FormatJUnit, nil
	}
	return "", fmt.Errorf("%w %q (want table, markdown, json or junit)", ErrFormat, s)
}

// Report writes the report of one run in format f: the terminal table,
// Markdown, JSON (the document without its records: the configuration,
// the environment, the summary, errors and gate outcomes), or JUnit XML.
func Report(w io.Writer, doc *results.Document, f Format) error {
	return ReportHeader(w, &doc.Header, f)
}

// ReportHeader is Report for a document's header, as a listing gives it.
func ReportHeader(w io.Writer, h *results.Header, f Format) error {
	switch f {
	case FormatTable, "":
		return writeString(w, tableReport(h))
	case FormatMarkdown:
		return writeString(w, markdownReport(h))
	case FormatJSON:
		return writeJSON(w, h)
	case FormatJUnit:
		return JUnit(w, h)
	}
	return fmt.Errorf("%w %q", ErrFormat, f)
}

// writeString writes s to w.
func writeString(w io.Writer, s string) error {
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// writeJSON writes v as indented JSON without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// f2 formats a number with two decimals.
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// pct formats a ratio as a percentage with two decimals, without the sign.
func pct(v float64) string { return f2(100 * v) }

// num formats a value for tables: integers as such, others with two
// decimals (four below 0.01, so small latencies do not read as 0).
func num(v float64) string {
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) < 0.01:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return f2(v)
}

// oneLine returns s on one line, at most n runes long.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
