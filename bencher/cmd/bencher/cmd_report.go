package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// reportOptions are the flags of bencher report.
type reportOptions struct {
	files          []string
	format         string
	slo            string
	allowSaturated bool
}

// compareOptions are the flags of bencher compare.
type compareOptions struct {
	base, cur, threshold, format, junit string
}

// addReportCommands adds report and compare.
func addReportCommands(app *kingpin.Application, c *cli) {
	rep := app.Command("report", "Render result documents again: the terminal table, markdown, json or junit. "+
		"Several documents give one table: those of one matrix (or sweep) its matrix (or sweep) table, the others "+
		"a matrix table of them all.")
	rep.Arg("file", "Result documents (results/ID.json, or results/*.json).").Required().StringsVar(&c.report.files)
	rep.Flag("format", "Report format: table, markdown, json or junit.").Default("table").
		EnumVar(&c.report.format, "table", "markdown", "md", "json", "junit")
	rep.Flag("slo", "Gates checked against every document, as bencher run --slo; a breach (or a value without "+
		"samples) exits 3.").PlaceHolder("EXPR").StringVar(&c.report.slo)
	rep.Flag("allow-saturated", allowSaturatedHelp).BoolVar(&c.report.allowSaturated)

	cmp := app.Command("compare", "Compare a new run with a base run; exit 3 when a threshold is breached (a regression).")
	cmp.Arg("base", "The base run's document.").Required().StringVar(&c.compare.base)
	cmp.Arg("new", "The new run's document.").Required().StringVar(&c.compare.cur)
	cmp.Flag("threshold", "Relative thresholds, NAME=[+|-]N%: 'ttft_p95=+10%,output_throughput=-5%' "+
		"(default: p50 and p95 latencies +10%, throughputs -5%, success rate -1%).").PlaceHolder("LIST").StringVar(&c.compare.threshold)
	cmp.Flag("format", "Output format: table, markdown or json.").Default("table").
		EnumVar(&c.compare.format, "table", "markdown", "md", "json")
	cmp.Flag("junit", "Also write a JUnit XML report (a test case per threshold, failing on a regression) to FILE.").
		PlaceHolder("FILE").StringVar(&c.compare.junit)
}

// reportCommand is bencher report.
func reportCommand(o *reportOptions, stdout, stderr io.Writer) int {
	f, err := report.ParseFormat(o.format)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	var gates []gate.Gate
	if strings.TrimSpace(o.slo) != "" {
		if gates, err = gate.Parse(o.slo, stats.IsValueName); err != nil {
			return fail(stderr, usagef("--slo: %w", err))
		}
	}
	var hs []*results.Header
	for _, path := range o.files {
		h, err := results.ReadHeader(path)
		if err != nil {
			return fail(stderr, usagef("%s: %w", path, err))
		}
		if gates != nil {
			h.Gates = results.CheckGates(gates, h, o.allowSaturated) // the gates asked for now, not those of the run
		}
		hs = append(hs, h)
	}
	if err := renderHeaders(stdout, hs, f); err != nil {
		return fail(stderr, err)
	}
	code := exitOK
	for _, h := range hs {
		for _, g := range h.Gates {
			if gates != nil && !g.Pass {
				fmt.Fprintf(stderr, "bencher: SLO gate breached in run %s: %s\n", h.ID, g.String())
				code = exitBreach
			}
		}
	}
	return code
}

// compareCommand is bencher compare.
func compareCommand(o *compareOptions, stdout, stderr io.Writer) int {
	f, err := report.ParseFormat(o.format)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	thresholds := report.DefaultThresholds()
	if o.threshold != "" {
		if thresholds, err = report.ParseThresholds(o.threshold); err != nil {
			return fail(stderr, usagef("--threshold: %w", err))
		}
	}
	base, err := results.ReadHeader(o.base)
	if err != nil {
		return fail(stderr, usagef("%s: %w", o.base, err))
	}
	cur, err := results.ReadHeader(o.cur)
	if err != nil {
		return fail(stderr, usagef("%s: %w", o.cur, err))
	}
	if o.junit != "" {
		if err := results.CheckWritable(filepath.Dir(o.junit)); err != nil {
			return fail(stderr, fmt.Errorf("--junit %s: its directory is not writable: %w", o.junit, err))
		}
	}
	c := report.CompareHeaders(base, cur, thresholds)
	if err := c.Write(stdout, f); err != nil {
		return fail(stderr, err)
	}
	if o.junit != "" {
		if err := writeFile(o.junit, func(w io.Writer) error { return report.JUnitComparison(w, c) }); err != nil {
			return fail(stderr, fmt.Errorf("--junit: %w", err))
		}
	}
	if c.Regressed {
		for _, r := range c.Reasons {
			fmt.Fprintf(stderr, "bencher: regression: %s\n", r)
		}
		return exitBreach
	}
	return exitOK
}

// renderHeaders writes the report of one run, or one JUnit report of all,
// or for several runs their tables: one sweep table per sweep, one matrix
// table per matrix, and one matrix table of the others, each followed by
// the gate outcomes of its runs (terminal and Markdown tables).
func renderHeaders(w io.Writer, hs []*results.Header, f report.Format) error {
	if f == report.FormatJUnit {
		return report.JUnit(w, hs...)
	}
	if len(hs) == 1 {
		return report.ReportHeader(w, hs[0], f)
	}
	// In the order they ran (a glob gives them by ID, whose second has
	// no order within it), so that each size pairs with its first profile.
	hs = slices.Clone(hs)
	slices.SortStableFunc(hs, func(a, b *results.Header) int {
		return a.Environment.StartTime.Compare(b.Environment.StartTime)
	})
	for _, g := range groupRuns(hs) {
		if err := simulatedBanner(w, g.runs, f); err != nil {
			return err
		}
		render := report.Matrix
		if g.sweep {
			render = report.Sweep
		}
		if err := render(w, g.runs, f); err != nil {
			return err
		}
		if f != report.FormatJSON {
			if err := writeGates(w, g.runs); err != nil {
				return err
			}
		}
	}
	return nil
}

// runGroup is runs shown in one table.
type runGroup struct {
	runs  []*results.Header
	sweep bool
}

// groupRuns groups runs by their sweep or matrix label, in the order of
// their first runs; the runs of neither make one more group.
func groupRuns(hs []*results.Header) []runGroup {
	var out []runGroup
	index := map[string]int{}
	var rest []*results.Header
	for _, h := range hs {
		key, sweep := "", false
		switch {
		case h.Labels["sweep"] != "":
			key, sweep = "sweep="+h.Labels["sweep"], true
		case h.Labels["matrix"] != "":
			key = "matrix=" + h.Labels["matrix"]
		default:
			rest = append(rest, h)
			continue
		}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, runGroup{sweep: sweep})
		}
		out[i].runs = append(out[i].runs, h)
	}
	if len(rest) > 0 {
		out = append(out, runGroup{runs: rest})
	}
	return out
}

// writeGates writes the gate outcomes of runs that have some, one line
// each.
func writeGates(w io.Writer, hs []*results.Header) error {
	for _, h := range hs {
		for _, g := range h.Gates {
			if _, err := fmt.Fprintf(w, "%s %s\n", h.ID, g.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile writes path with fn, as a final write (see finalWrites).
func writeFile(path string, fn func(io.Writer) error) error {
	_, err := guarded(func() (bool, error) {
		f, err := os.Create(path)
		if err != nil {
			return false, err
		}
		if err := fn(f); err != nil {
			f.Close()
			return false, err
		}
		return true, f.Close()
	})
	return err
}
