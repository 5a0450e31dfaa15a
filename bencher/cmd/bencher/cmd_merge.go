package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
)

// mergeOptions are the flags of bencher merge.
type mergeOptions struct {
	files                   []string
	out, resultsDir, format string
}

// addMergeCommand adds merge.
func addMergeCommand(app *kingpin.Application, o *mergeOptions) {
	m := app.Command("merge", "Join the documents of the shards of a sharded run (bencher run --shard) into the "+
		"document of the whole run: the records of every shard on one clock, the summary computed again from them.")
	m.Arg("file", "The shards' documents, such as results/RUN/shard-*.json (a pattern is expanded here too, "+
		"for a command line that no shell expanded).").Required().StringsVar(&o.files)
	m.Flag("output", "Write the merged document to FILE (replacing it), or into FILE when it is a directory "+
		"(default: into --results-dir, as RUN_ID.json).").Short('o').PlaceHolder("FILE").StringVar(&o.out)
	m.Flag("results-dir", "Directory the merged document is written to without --output.").
		Default("./" + results.DefaultDir).StringVar(&o.resultsDir)
	m.Flag("format", "Report format: table, json or markdown.").Default("table").EnumVar(&o.format, "table", "json", "markdown", "md")
}

// mergeCommand is bencher merge.
func mergeCommand(o *mergeOptions, stdout, stderr io.Writer) int {
	f, err := report.ParseFormat(o.format)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	files, err := expandFiles(o.files)
	if err != nil {
		return fail(stderr, err)
	}
	docs := make([]*results.Document, len(files))
	for i, path := range files {
		if docs[i], err = results.Read(path); err != nil {
			return fail(stderr, usagef("%s: %w", path, err))
		}
	}
	doc, err := results.Merge(docs, files)
	if err != nil {
		return fail(stderr, usageError{errors.New(strings.TrimPrefix(err.Error(), "results: "))})
	}
	path, err := guarded(func() (string, error) { return writeMerged(o, doc) })
	if err != nil {
		return fail(stderr, fmt.Errorf("writing the merged document: %w", err))
	}
	if err := report.ReportHeader(stdout, &doc.Header, f); err != nil {
		return fail(stderr, fmt.Errorf("writing the report: %w", err))
	}
	noteMerged(stderr, doc, path)
	code := verdict(stderr, []ran{{doc, path}}, false)
	if code == exitInterrupted {
		code = exitError // the run was; the merge was not
	}
	return code
}

// expandFiles returns the files args name: a pattern that names no file
// itself is expanded, and must match one; a file named twice counts once.
func expandFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		names := []string{a}
		if _, err := os.Lstat(a); err != nil && strings.ContainsAny(a, "*?[") {
			names, err = filepath.Glob(a)
			if err != nil || len(names) == 0 {
				return nil, usagef("no file matches %s", a)
			}
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// writeMerged writes the merged document where the flags say.
func writeMerged(o *mergeOptions, doc *results.Document) (string, error) {
	if o.out == "" {
		return results.Write(o.resultsDir, doc)
	}
	if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
		return results.Write(o.out, doc)
	}
	return o.out, results.WriteFile(o.out, doc)
}

// noteMerged says what was merged: each shard, the clocks, and where the
// document went.
func noteMerged(w io.Writer, doc *results.Document, path string) {
	m := doc.Merged
	for _, s := range m.Shards {
		started := "started " + signed(s.Shift) + " after start_at"
		if s.RecordCount == 0 {
			started = "sent no request"
		}
		fmt.Fprintf(w, "bencher: shard %d/%d: %s on %s, %d records, %s; %s; target clock %s\n",
			s.Index, m.Count, s.ID, s.Host, s.RecordCount, s.Status, started, offsetText(s.ClockOffset))
	}
	if m.ClockSpread != nil {
		fmt.Fprintf(w, "bencher: the shards' clock offsets differ by up to %s (± %s); not applied to the records\n",
			m.ClockSpread.Round(time.Microsecond), m.ClockSpreadUncertainty.Round(time.Microsecond))
	}
	sum := &doc.Summary
	fmt.Fprintf(w, "bencher: merged run %s %s: %s; written to %s\n", doc.ID, doc.Status, outcome(sum), path)
}

// offsetText renders a clock offset, or says that none was measured.
func offsetText(o *bencher.ClockOffset) string {
	if o == nil {
		return "not measured (the target sent no Date header, or the shard had no time to read it)"
	}
	return fmt.Sprintf("%s ± %s (%d samples)", signed(o.Offset), o.Uncertainty.Round(time.Microsecond), o.Samples)
}

// signed renders d with its sign, rounded to the microsecond.
func signed(d time.Duration) string {
	d = d.Round(time.Microsecond)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
