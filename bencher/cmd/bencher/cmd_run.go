package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// runCommand is bencher run: one run, or one per level of a sweep.
func runCommand(ctx context.Context, o *loadOptions, red *secret.Redactor, stdout, stderr io.Writer, log *slog.Logger, bar bool) int {
	if o.profile != "" {
		p, err := findProfile(o.profile)
		if err != nil {
			return fail(stderr, usageError{err})
		}
		if o.set.mode && o.mode != p.mode {
			return fail(stderr, usagef("--mode %s, but --profile %s is a profile of the %s mode", o.mode, p.name, p.mode))
		}
		p.apply(o)
	}
	p, err := newPlan(o, red)
	if err != nil {
		return fail(stderr, err)
	}
	if err := p.readStart(os.Getenv, time.Now()); err != nil {
		return fail(stderr, err)
	}
	specs, err := runSpecs(p, o)
	if err != nil {
		return fail(stderr, err)
	}
	if err := p.check(specs); err != nil {
		return fail(stderr, err)
	}
	render := func(w io.Writer, hs []*results.Header) error {
		return report.ReportHeader(w, hs[0], p.format)
	}
	if o.sweep != "" {
		render = func(w io.Writer, hs []*results.Header) error {
			if err := simulatedBanner(w, hs, p.format); err != nil {
				return err
			}
			return report.Sweep(w, hs, p.format)
		}
	}
	return benchmark(ctx, p, specs, render, stdout, stderr, log, bar)
}

// simulatedBanner writes a line saying that the runs were simulated, for
// tables that do not say it themselves (not in JSON).
func simulatedBanner(w io.Writer, hs []*results.Header, f report.Format) error {
	if f == report.FormatJSON || !slices.ContainsFunc(hs, func(h *results.Header) bool { return h.Environment.Simulated }) {
		return nil
	}
	_, err := fmt.Fprintln(w, "*** SIMULATED: the target was the built-in simulator, not a real server ***")
	return err
}

// runSpecs returns the one spec of a run, or one per level of --sweep.
func runSpecs(p *plan, o *loadOptions) ([]spec, error) {
	base := p.baseSpec(o)
	if o.sweep == "" {
		return []spec{base}, nil
	}
	levels, err := parseLevels(o.sweep, o.rate == 0)
	if err != nil {
		return nil, usagef("--sweep: %w", err)
	}
	sweepID := results.NewID(time.Now())
	var specs []spec
	for _, l := range levels {
		s := base
		s.labels = withLabel(base.labels, "sweep", sweepID)
		if o.rate > 0 {
			s.rate = l
			s.barLabel = "rate=" + strconv.FormatFloat(l, 'g', -1, 64)
		} else {
			s.concurrency = int(l)
			s.barLabel = "c=" + strconv.Itoa(s.concurrency)
		}
		s.name = strings.TrimSpace(o.name + " " + s.barLabel)
		specs = append(specs, s)
	}
	return specs, nil
}

// parseLevels reads a comma-separated list of positive numbers, whole ones
// when whole is set.
func parseLevels(list string, whole bool) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || whole && v != math.Trunc(v) {
			kind := "a positive number"
			if whole {
				kind = "a whole number of at least 1"
			}
			return nil, fmt.Errorf("%q is not %s", f, kind)
		}
		out = append(out, v)
	}
	return out, nil
}

// withLabel returns a copy of labels with k=v added.
func withLabel(labels map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for lk, lv := range labels {
		out[lk] = lv
	}
	out[k] = v
	return out
}

// headers returns the headers of the runs.
func headers(rs []ran) []*results.Header {
	out := make([]*results.Header, len(rs))
	for i, r := range rs {
		out[i] = &r.doc.Header
	}
	return out
}

// benchmark runs specs against the target, renders what ran, writes the
// JUnit report and returns the exit code.
func benchmark(ctx context.Context, p *plan, specs []spec, render func(io.Writer, []*results.Header) error,
	stdout, stderr io.Writer, log *slog.Logger, bar bool) int {
	if err := preflight(p.o, log); err != nil {
		return fail(stderr, err)
	}
	s, err := startSession(ctx, p, stderr, log, bar)
	if err != nil {
		return fail(stderr, err)
	}
	rs, runErr := s.runAll(ctx, specs)
	s.close()
	if len(rs) > 0 {
		if err := render(stdout, headers(rs)); err != nil {
			runErr = firstErr(runErr, fmt.Errorf("writing the report: %w", err))
		}
		if len(specs) == 1 && rs[0].path != "" {
			s.noteWritten(rs[0].doc, rs[0].path)
		}
	}
	if p.o.junit != "" && len(rs) > 0 {
		if _, err := guarded(func() (bool, error) { return true, writeJUnit(p.o.junit, headers(rs)) }); err != nil {
			runErr = firstErr(runErr, err)
		}
	}
	if runErr != nil {
		code := fail(stderr, runErr)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return code
	}
	code := verdict(stderr, rs, p.apiKey != "")
	if ctx.Err() != nil && len(rs) < len(specs) && code != exitInterrupted {
		fmt.Fprintf(stderr, "bencher: interrupted after %d of %d runs\n", len(rs), len(specs))
		return exitInterrupted
	}
	return code
}

// preflight checks, before anything runs, that the result documents and
// the JUnit report can be written: a probe file is created and removed in
// --results-dir and beside --junit. It removes the leftover temporary
// files of documents whose writer was killed.
func preflight(o *loadOptions, log *slog.Logger) error {
	dir := o.resultsDir
	if dir == "" {
		dir = results.DefaultDir
	}
	if err := results.CheckWritable(dir); err != nil {
		return fmt.Errorf("--results-dir %s is not writable: %w", dir, err)
	}
	if removed, err := results.CleanTemps(dir, results.TempMaxAge); err == nil && len(removed) > 0 {
		log.Info("removed leftover temporary result files", "dir", dir, "files", removed)
	}
	if o.junit != "" {
		if fi, err := os.Stat(o.junit); err == nil && fi.IsDir() {
			return fmt.Errorf("--junit %s is a directory", o.junit)
		}
		if err := results.CheckWritable(filepath.Dir(o.junit)); err != nil {
			return fmt.Errorf("--junit %s: its directory is not writable: %w", o.junit, err)
		}
	}
	return nil
}

// finishedOf says how many requests of an interrupted run had finished.
func finishedOf(d *results.Document) string {
	n := d.Summary.Requests + d.Summary.WarmupRequests - d.Summary.ErrorsByClass[bencher.ErrCanceled]
	if d.RecordCount == 0 && !d.RecordsOmitted {
		return "0 requests (before its start: nothing was measured)"
	}
	total := d.Config.Run.Requests
	if d.Shard != nil && d.Shard.Requests > 0 {
		total = d.Shard.Requests // this shard's part of the run's requests
	}
	if total > 0 {
		return fmt.Sprintf("%d of %d requests", n, total)
	}
	return fmt.Sprintf("%d requests", n)
}

// firstErr returns a, or b when a is nil.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// writeJUnit writes the JUnit report of runs to path.
func writeJUnit(path string, hs []*results.Header) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := report.JUnit(f, hs...); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}

// verdict returns the exit code of the runs that ran, saying why when it
// is not 0: an interruption wins, then a failed run, then a breached gate.
func verdict(stderr io.Writer, rs []ran, withKey bool) int {
	code := exitOK
	raise := func(c int) {
		rank := map[int]int{exitOK: 0, exitBreach: 1, exitError: 2, exitInterrupted: 3}
		if rank[c] > rank[code] {
			code = c
		}
	}
	for _, r := range rs {
		d := r.doc
		switch {
		case d.Status == results.StatusInterrupted:
			fmt.Fprintf(stderr, "bencher: run %s was interrupted after %s; the partial result was written\n",
				d.ID, finishedOf(d))
			raise(exitInterrupted)
		case d.Status == results.StatusFailed:
			fmt.Fprintf(stderr, "bencher: run %s failed: %s\n", d.ID, d.Error)
			raise(exitError)
		case d.Summary.Requests > 0 && d.Summary.Succeeded == 0:
			fmt.Fprintf(stderr, "bencher: run %s: no request succeeded (see the errors above)\n", d.ID)
			raise(exitError)
		}
		if n := d.Summary.HTTPStatusCounts[401] + d.Summary.HTTPStatusCounts[403]; n > 0 {
			fmt.Fprintf(stderr, "bencher: run %s: %d requests answered 401/403: %s\n", d.ID, n,
				keyHint(withKey))
		}
		for _, g := range d.Gates {
			if !g.Pass {
				fmt.Fprintf(stderr, "bencher: SLO gate breached in run %s: %s\n", d.ID, g.String())
				raise(exitBreach)
			}
		}
	}
	return code
}
