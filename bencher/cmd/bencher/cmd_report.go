package main

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
)

// reportOptions are the flags of bencher report.
type reportOptions struct {
	files  []string
	format string
}

// compareOptions are the flags of bencher compare.
type compareOptions struct {
	base, cur, threshold, format string
}

// addReportCommands adds report and compare.
func addReportCommands(app *kingpin.Application, c *cli) {
	rep := app.Command("report", "Render result documents again: the terminal table, markdown, json or junit.")
	rep.Arg("file", "Result documents (results/ID.json).").Required().StringsVar(&c.report.files)
	rep.Flag("format", "Report format: table, markdown, json or junit.").Default("table").
		EnumVar(&c.report.format, "table", "markdown", "md", "json", "junit")

	cmp := app.Command("compare", "Compare a new run with a base run; exit 3 when a threshold is breached (a regression).")
	cmp.Arg("base", "The base run's document.").Required().StringVar(&c.compare.base)
	cmp.Arg("new", "The new run's document.").Required().StringVar(&c.compare.cur)
	cmp.Flag("threshold", "Relative thresholds, NAME=[+|-]N%: 'ttft_p95=+10%,output_throughput=-5%' "+
		"(default: p50 and p95 latencies +10%, throughputs -5%, success rate -1%).").PlaceHolder("LIST").StringVar(&c.compare.threshold)
	cmp.Flag("format", "Output format: table, markdown or json.").Default("table").
		EnumVar(&c.compare.format, "table", "markdown", "md", "json")
}

// reportCommand is bencher report.
func reportCommand(o *reportOptions, stdout, stderr io.Writer) int {
	f, err := report.ParseFormat(o.format)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	var hs []*results.Header
	for _, path := range o.files {
		h, err := results.ReadHeader(path)
		if err != nil {
			return fail(stderr, usagef("%s: %w", path, err))
		}
		hs = append(hs, h)
	}
	if err := renderHeaders(stdout, hs, f); err != nil {
		return fail(stderr, err)
	}
	return exitOK
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
	c := report.CompareHeaders(base, cur, thresholds)
	if err := c.Write(stdout, f); err != nil {
		return fail(stderr, err)
	}
	if c.Regressed {
		for _, r := range c.Reasons {
			fmt.Fprintf(stderr, "bencher: regression: %s\n", r)
		}
		return exitBreach
	}
	return exitOK
}

// renderHeaders writes the report of each run, or one JUnit report of all.
func renderHeaders(w io.Writer, hs []*results.Header, f report.Format) error {
	if f == report.FormatJUnit {
		return report.JUnit(w, hs...)
	}
	for _, h := range hs {
		if err := report.ReportHeader(w, h, f); err != nil {
			return err
		}
	}
	return nil
}
