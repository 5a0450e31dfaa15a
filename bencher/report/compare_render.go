package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Write writes the comparison in format f: a terminal table, Markdown or
// JSON.
func (c *Comparison) Write(w io.Writer, f Format) error {
	switch f {
	case FormatTable, "":
		return writeString(w, c.table())
	case FormatMarkdown:
		return writeString(w, c.markdown())
	case FormatJSON:
		return writeJSON(w, c)
	}
	return fmt.Errorf("%w %q for a comparison (want table, markdown or json)", ErrFormat, f)
}

// cells returns the formatted cells of a row: base, new, change, relative,
// threshold.
func (r *Row) cells() []string {
	out := []string{value(r.Name, r.Base), value(r.Name, r.New), "", "", ""}
	if r.Delta != nil {
		out[2] = deltaText(r.Name, *r.Delta)
		out[3] = relText(r.Relative, *r.Delta)
	}
	if r.Threshold != nil {
		out[4] = r.Threshold.limitText()
	}
	return out
}

// isRatio reports whether a value is a 0–1 ratio, shown as a percentage.
func isRatio(name string) bool {
	return name == "success_rate" || name == "error_rate" || name == "slo_attainment"
}

// isCount reports whether a value is a count, shown as an integer.
func isCount(name string) bool {
	switch name {
	case "requests", "warmup_requests", "succeeded", "failed", "attempts", "retries", "input_tokens",
		"output_tokens", "good_requests", "max_concurrency", "max_server_concurrency", "requested_concurrency":
		return true
	}
	return strings.HasPrefix(name, "errors_") || strings.HasPrefix(name, "http_status_") ||
		strings.HasSuffix(name, "_count")
}

// value formats a value, NA when the run has no samples for it.
func value(name string, v *float64) string {
	switch {
	case v == nil:
		return NA
	case isRatio(name):
		return pct(*v) + "%"
	case isCount(name):
		return strconv.FormatFloat(*v, 'f', 0, 64)
	}
	return f2(*v)
}

// deltaText formats a signed change: percentage points for ratios.
func deltaText(name string, d float64) string {
	if isRatio(name) {
		return signed(f2(100*d), d) + "pp"
	}
	return signed(value(name, &d), d)
}

// relText formats a relative change, "new" from a base of 0.
func relText(rel *float64, delta float64) string {
	if rel == nil {
		return signed("inf", delta) + "%"
	}
	return signed(f2(100**rel), *rel) + "%"
}

// signed prefixes a formatted non-negative number with "+".
func signed(s string, v float64) string {
	if v >= 0 && !strings.HasPrefix(s, "-") {
		return "+" + s
	}
	return s
}

// label returns the row's name with its unit: "ttft_p95 (ms)".
func (r *Row) label() string {
	if r.Unit == "" {
		return r.Name
	}
	return r.Name + " (" + r.Unit + ")"
}

// verdictText returns a row's verdict for the terminal.
func (r *Row) verdictText() string {
	switch r.Verdict {
	case VerdictFail:
		return "FAIL"
	case VerdictMissing:
		return "MISSING"
	case VerdictPass:
		return "ok"
	}
	return ""
}

// table returns the terminal table of the comparison.
func (c *Comparison) table() string {
	var b textBuilder
	b.rule(" Benchmark Comparison ", '=')
	b.WriteString("Base: " + c.Base.describe() + "\n")
	b.WriteString("New:  " + c.New.describe() + "\n")
	for _, w := range c.Warnings {
		b.WriteString("! " + w + "\n")
	}
	b.WriteString(strings.Repeat("-", width) + "\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Metric\tBase\tNew\tChange\tRelative\tThreshold\tVerdict\t")
	for i := range c.Rows {
		r := &c.Rows[i]
		fmt.Fprintln(tw, r.label()+"\t"+strings.Join(r.cells(), "\t")+"\t"+r.verdictText()+"\t")
	}
	_ = tw.Flush()
	b.WriteString(strings.Repeat("=", width) + "\n")
	b.WriteString(c.resultLine() + "\n")
	for _, r := range c.Reasons {
		b.WriteString("  - " + r + "\n")
	}
	return trimLines(b.String())
}

// resultLine returns the one-line outcome.
func (c *Comparison) resultLine() string {
	if c.Regressed {
		return fmt.Sprintf("Result: REGRESSED (%d %s)", len(c.Reasons), plural(len(c.Reasons), "reason", "reasons"))
	}
	return "Result: OK (no threshold breached)"
}

// describe returns a run's ID, title, start and marks.
func (r RunRef) describe() string {
	s := r.ID
	if r.Title != r.ID {
		s += " " + r.Title
	}
	s += " (" + r.Start.UTC().Format(time.RFC3339) + ")"
	if r.Simulated {
		s += " SIMULATED"
	}
	if r.Status != "completed" {
		s += " " + strings.ToUpper(string(r.Status))
	}
	return s
}

// markdown returns the Markdown comparison.
func (c *Comparison) markdown() string {
	var b strings.Builder
	b.WriteString("### Benchmark comparison\n\n")
	b.WriteString("Base: " + code(c.Base.ID) + " " + mdCell(c.Base.Title) + " · New: " + code(c.New.ID) + " " + mdCell(c.New.Title) + "\n\n")
	if len(c.Warnings) > 0 {
		b.WriteString("> [!WARNING]\n")
		for _, w := range c.Warnings {
			b.WriteString("> - " + mdCell(w) + "\n")
		}
		b.WriteString("\n")
	}
	var rows [][]string
	for i := range c.Rows {
		r := &c.Rows[i]
		label := code(r.Name)
		if r.Unit != "" {
			label += " (" + r.Unit + ")"
		}
		rows = append(rows, append(append([]string{label}, r.cells()...), mdVerdict(r.Verdict)))
	}
	b.WriteString(mdTable([]string{"Metric", "Base", "New", "Change", "Relative", "Threshold", "Verdict"}, "lrrrrrl", rows))
	if c.Regressed {
		b.WriteString("\n**❌ Regressed**\n\n")
		for _, r := range c.Reasons {
			b.WriteString("- " + mdCell(r) + "\n")
		}
	} else {
		b.WriteString("\n**✅ No regression** (no threshold breached)\n")
	}
	return b.String()
}

// mdVerdict returns a verdict with an emoji.
func mdVerdict(v Verdict) string {
	switch v {
	case VerdictPass:
		return "✅"
	case VerdictFail:
		return "❌ fail"
	case VerdictMissing:
		return "❌ missing"
	}
	return ""
}

// plural returns one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// trimLines removes trailing spaces from every line.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
