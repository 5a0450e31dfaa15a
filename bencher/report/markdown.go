package report

import (
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/results"
)

// mdTable returns a Markdown table. align holds 'l' or 'r' per column.
func mdTable(header []string, align string, rows [][]string) string {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteString("\n")
	}
	row(header)
	b.WriteString("|")
	for i := range header {
		if i < len(align) && align[i] == 'r' {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		row(r)
	}
	return b.String()
}

// mdCell escapes a table cell: one line, pipes escaped.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s, 200), "|", `\|`)
}

// code returns s as inline code (or "" for "").
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// markdownReport returns the Markdown report of a run.
func markdownReport(h *results.Header) string {
	var b strings.Builder
	b.WriteString("### Serving benchmark: " + mdCell(h.Title()) + "\n\n")
	b.WriteString(mdBanners(h))
	s := &h.Summary
	rows := [][]string{
		{"Run", code(h.ID)},
		{"Target", mdTarget(h)},
		{"Model", code(h.Environment.Model)},
		{"Status", status(h)},
		{"Successful requests", strconv.Itoa(s.Succeeded) + " / " + strconv.Itoa(s.Requests)},
		{"Not sent (outside the success rate)", strconv.Itoa(s.NotSent)},
		{"Success rate", valueOf(s, "success_rate", pctSign)},
		{"Benchmark duration (s)", measured(s, f2(s.Window.DurationS))},
		{"Total input / generated tokens", strconv.Itoa(s.InputTokens) + " / " + strconv.Itoa(s.OutputTokens)},
		{"Request throughput (req/s)", valueOf(s, "request_throughput", f2)},
	}
	if s.Goodput != nil {
		rows = append(rows, []string{"Request goodput (req/s)", valueOf(s, "goodput", f2) +
			" (" + valueOf(s, "slo_attainment", pctSign) + " met " + strings.Join(s.Goodput.SLOs, ", ") + ")"})
	}
	rows = append(rows,
		[]string{"Output token throughput (tok/s)", valueOf(s, "output_throughput", f2)},
		[]string{"Total token throughput (tok/s)", valueOf(s, "total_token_throughput", f2)},
		[]string{"Concurrency (requested / achieved mean / max)", requestedConcurrency(&h.Config.Run) + " / " +
			valueOf(s, "concurrency", f2) + " / " + valueOf(s, "max_concurrency", itoa)},
		[]string{"Request rate, req/s (requested / arrival rate, scheduled)", requestedRate(&h.Config.Run) + " / " +
			valueOf(s, "request_rate", f2)},
	)
	b.WriteString(mdTable([]string{"Metric", "Value"}, "lr", rows) + "\n")
	b.WriteString(mdLatencies(h) + "\n")
	if bt := mdBatch(h); bt != "" {
		b.WriteString(bt + "\n")
	}
	if ss := mdServerSide(h); ss != "" {
		b.WriteString(ss + "\n")
	}
	if e := mdErrors(h); e != "" {
		b.WriteString(e + "\n")
	}
	if g := mdGates(h); g != "" {
		b.WriteString(g + "\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// mdBanners returns GitHub alerts for a simulated or incomplete run.
func mdBanners(h *results.Header) string {
	var b strings.Builder
	if h.Environment.Simulated {
		b.WriteString("> [!WARNING]\n> **SIMULATED**: the target was the built-in simulator, not a real server.\n\n")
	}
	switch h.Status {
	case results.StatusInterrupted:
		b.WriteString("> [!CAUTION]\n> **INTERRUPTED**: partial results, " + strconv.Itoa(finished(h)) +
			" of " + strconv.Itoa(h.Config.Run.Requests) + " requests finished.\n\n")
	case results.StatusFailed:
		b.WriteString("> [!CAUTION]\n> **FAILED**: " + mdCell(h.Error) + "\n\n")
	}
	if h.ClientSaturated() {
		b.WriteString("> [!WARNING]\n> **CLIENT SATURATED**: " + mdCell(saturation(h)) + ".\n\n")
	}
	return b.String()
}

// mdLatencies returns the latency table.
func mdLatencies(h *results.Header) string {
	var rows [][]string
	for _, m := range latencySections(h) {
		d := m.get(&h.Summary)
		rows = append(rows, []string{m.long, distStat(d, d.Mean), distStat(d, d.P50), distStat(d, d.P90),
			distStat(d, d.P95), distStat(d, d.P99)})
	}
	return mdTable([]string{"Latency (ms)", "Mean", "Median", "P90", "P95", "P99"}, "lrrrrr", rows)
}

// mdErrors returns the error table, or "".
func mdErrors(h *results.Header) string {
	if len(h.Errors) == 0 {
		return ""
	}
	var rows [][]string
	for _, e := range h.Errors {
		ex := ""
		if len(e.Examples) > 0 {
			ex = oneLine(e.Examples[0], 100)
		}
		rows = append(rows, []string{string(e.Class), strconv.Itoa(e.Count), ex})
	}
	return mdTable([]string{"Error class", "Count", "Example"}, "lrl", rows)
}

// mdGates returns the gate table, or "".
func mdGates(h *results.Header) string {
	if len(h.Gates) == 0 {
		return ""
	}
	var rows [][]string
	for _, o := range h.Gates {
		verdict, actual := "✅ pass", num(o.Actual)
		if !o.Pass {
			verdict = "❌ FAIL"
		}
		switch {
		case o.NotMeasured:
			actual = NA + " (" + gate.NotMeasured + ")"
		case !o.Found:
			actual = NA + " (" + gate.NoSamples + ")"
		}
		rows = append(rows, []string{code(o.Text), actual, verdict})
	}
	return mdTable([]string{"Gate", "Actual", "Result"}, "lrl", rows)
}

// mdTarget returns the target, marked when simulated.
func mdTarget(h *results.Header) string {
	if h.Environment.Simulated {
		return code(h.Environment.Target) + " **(SIMULATED)**"
	}
	return code(h.Environment.Target)
}
