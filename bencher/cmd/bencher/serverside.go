package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
)

// readPrometheus checks the --prometheus-* flags and keeps the options of
// the Prometheus client; without --prometheus-url there is none.
func (p *plan) readPrometheus() error {
	o := &p.o.prom
	selectors := []struct{ flag, value string }{
		{"prometheus-selector", o.selector}, {"prometheus-gpu-selector", o.gpuSelector},
		{"prometheus-vllm-selector", o.vllmSelector},
	}
	for _, s := range selectors {
		if _, err := serverside.ParseSelector(s.value); err != nil {
			return usagef("--%s: %w", s.flag, err)
		}
		if s.value != "" && o.url == "" {
			return usagef("--%s needs --prometheus-url", s.flag)
		}
	}
	if o.url == "" {
		return nil
	}
	opts := []serverside.Option{
		serverside.WithSelector(o.selector), serverside.WithGPUSelector(o.gpuSelector),
		serverside.WithVLLMSelector(o.vllmSelector), serverside.WithWait(o.wait), serverside.WithTimeout(o.timeout),
		serverside.WithRedactor(p.red),
	}
	if _, err := serverside.New(o.url, opts...); err != nil {
		return usagef("--prometheus-url: %w", err)
	}
	p.promOpts = opts
	return nil
}

// openPrometheus returns the Prometheus client of the plan, or nil
// without --prometheus-url.
func openPrometheus(p *plan, log *slog.Logger) *serverside.Client {
	if p.promOpts == nil {
		return nil
	}
	c, err := serverside.New(p.o.prom.url, append(p.promOpts, serverside.WithLogger(log))...)
	if err != nil {
		return nil // checked by readPrometheus: not reached
	}
	return c
}

// addServerSide asks Prometheus what the server side saw during the run
// and keeps it in doc. When that fails the document goes without it, with
// a warning; an interrupted run is not asked about.
func (s *session) addServerSide(ctx context.Context, doc *results.Document) {
	if s.prom == nil || ctx.Err() != nil {
		return
	}
	ss, err := s.prom.Collect(ctx, doc.Environment.StartTime, doc.Environment.EndTime)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(s.stderr, "bencher: warning: run %s is written without its server side: %v\n", doc.ID, err)
		}
		return
	}
	doc.ServerSide = ss
	missing := serverside.Missing(ss)
	total := len(serverside.Missing(nil))
	note := ""
	if len(missing) > 0 {
		note = " (none for " + strings.Join(missing, ", ") + ": no such series, " +
			"or the run was shorter than about two scrape intervals)"
	}
	fmt.Fprintf(s.stderr, "bencher: server side of run %s from Prometheus at %s: %d of %d values%s\n",
		doc.ID, ss.Source, total-len(missing), total, note)
}

// warnEmbeddedPrometheus warns that Prometheus cannot see the built-in
// simulator, which listens on a port of its own choosing.
func (s *session) warnEmbeddedPrometheus() {
	if s.prom != nil {
		fmt.Fprintln(s.stderr, "bencher: warning: Prometheus does not scrape the built-in simulator: the server side "+
			"will be whatever else it scrapes (run bencher sim and give --target to benchmark a scraped simulator)")
	}
}
