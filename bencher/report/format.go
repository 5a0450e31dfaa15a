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
	"github.com/benchstation/benchstation/bencher/stats"
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

// NA is what reports print for a statistic that has no samples (a
// latency of a run that measured no first token, a rate of a run that
// measured no request): never 0.00, which would read as a measurement.
const NA = "n/a"

// valueOf formats the summary value called name with format, or NA when
// the run has no value for it (see stats.Summary.Value).
func valueOf(s *stats.Summary, name string, format func(float64) string) string {
	v, ok := s.Value(name)
	if !ok {
		return NA
	}
	return format(v)
}

// optValue returns the summary value called name, nil when it is absent.
func optValue(s *stats.Summary, name string) *float64 {
	v, ok := s.Value(name)
	if !ok {
		return nil
	}
	return &v
}

// distStat formats a statistic v of distribution d, NA without samples.
func distStat(d stats.Distribution, v float64) string {
	if d.Count == 0 {
		return NA
	}
	return f2(v)
}

// pctSign formats a ratio as a percentage with its sign ("99.50%").
func pctSign(v float64) string { return pct(v) + "%" }

// itoa formats a whole value.
func itoa(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

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
