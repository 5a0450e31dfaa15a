package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
	"github.com/benchstation/benchstation/bencher/stats"
)

// session runs the specs of one command against one target, with one live
// metrics endpoint for all of them.
type session struct {
	p       *plan
	stderr  io.Writer
	log     *slog.Logger
	tgt     *target
	metrics *live.Metrics
	prom    *serverside.Client // nil without --prometheus-url
	bar     bool
	stop    []func() // run by close, last first
}

// startSession opens the target and the metrics endpoint.
func startSession(ctx context.Context, p *plan, stderr io.Writer, log *slog.Logger, bar bool) (*session, error) {
	s := &session{p: p, stderr: stderr, log: log, bar: bar, prom: openPrometheus(p, log)}
	tgt, err := openTarget(ctx, p, stderr, log)
	if err != nil {
		return nil, err
	}
	s.tgt = tgt
	if tgt.close != nil {
		s.stop = append(s.stop, tgt.close)
		s.warnEmbeddedPrometheus()
	}
	if p.o.metricsListen != "" {
		if err := s.serveMetrics(ctx, p.o.metricsListen, p.o.metricsLinger); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// serveMetrics serves the live metrics on addr until close, and linger
// longer unless ctx (the process's signals) ends first.
func (s *session) serveMetrics(ctx context.Context, addr string, linger time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	var opts []live.MetricsOption
	if sh := s.p.shard; sh != nil {
		opts = append(opts, live.WithShard(sh.index))
	}
	s.metrics = live.NewMetrics(opts...)
	serveCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.metrics.Serve(serveCtx, ln); err != nil {
			s.log.Error("live metrics stopped", "err", err)
		}
	})
	fmt.Fprintf(s.stderr, "bencher: live metrics at http://%s%s\n", ln.Addr(), live.MetricsPath)
	s.stop = append(s.stop, func() {
		if linger > 0 && ctx.Err() == nil {
			fmt.Fprintf(s.stderr, "bencher: serving the live metrics %s more (Ctrl-C ends it)\n", linger)
			t := time.NewTimer(linger)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		cancel()
		wg.Wait()
	})
	return nil
}

// close stops the metrics endpoint and the embedded simulator.
func (s *session) close() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	s.stop = nil
}

// ran is a run that ran: its document, and the file it was written to
// ("" when writing failed).
type ran struct {
	doc  *results.Document
	path string
}

// runAll runs the specs one after the other, and stops after one that was
// interrupted. It returns the runs that ran, and the first error that
// stopped it.
func (s *session) runAll(ctx context.Context, specs []spec) ([]ran, error) {
	var out []ran
	est := newEstimator(s.p, specs)
	if d, ok := est.total(); ok && len(specs) > 1 {
		fmt.Fprintf(s.stderr, "bencher: %d runs; estimated time %s (from the simulator's settings)\n", len(specs), roughly(d))
	}
	for i, sp := range specs {
		if ctx.Err() != nil {
			break
		}
		if len(specs) > 1 {
			fmt.Fprintf(s.stderr, "bencher: run %d of %d: %s\n", i+1, len(specs), describe(sp))
		}
		began := time.Now()
		doc, path, err := s.execute(ctx, sp)
		est.finished(time.Since(began))
		if doc != nil {
			out = append(out, ran{doc, path})
			if len(specs) > 1 && path != "" {
				s.noteWritten(doc, path)
			}
		}
		if d, ok := est.left(); ok && i+1 < len(specs) && err == nil && ctx.Err() == nil {
			fmt.Fprintf(s.stderr, "bencher: %d of %d runs done; %s left (estimated from the runs so far)\n",
				i+1, len(specs), roughly(d))
		}
		if err != nil {
			return out, err
		}
		if doc.Status == results.StatusInterrupted {
			break
		}
	}
	return out, nil
}

// describe says what a spec's load is.
func describe(sp spec) string {
	var load string
	if sp.mode == modeBatchAPI {
		load = fmt.Sprintf("%d requests as one Batch API job", sp.requests)
		if sp.name != "" {
			return sp.name + ": " + load
		}
		return load
	}
	if sp.rate > 0 {
		load = fmt.Sprintf("open loop at %g req/s", sp.rate)
		if sp.concurrency > 0 {
			load += fmt.Sprintf(", at most %d in flight", sp.concurrency)
		}
	} else {
		load = fmt.Sprintf("%d concurrent", sp.concurrency)
	}
	if sp.requests > 0 {
		load = fmt.Sprintf("%d requests, %s", sp.requests, load)
	}
	if sp.retries > 0 {
		load += fmt.Sprintf(", %d retries", sp.retries)
	}
	if sp.name != "" {
		return sp.name + ": " + load
	}
	return load
}

// execute runs one spec and writes its document. The document is returned
// whenever the run ran, even when writing it failed.
func (s *session) execute(ctx context.Context, sp spec) (*results.Document, string, error) {
	if sp.mode == modeBatchAPI {
		return s.executeBatch(ctx, sp)
	}
	id, runID := results.NewID(time.Now()), ""
	if sh := s.p.shard; sh != nil {
		// The live metrics' run_id is the run's, shared by its shards.
		id, runID = sh.docID(), sh.runID
		s.noteShard()
	}
	meta := s.meta(sp, id)
	meta.RunID = runID
	lr := live.NewRun(s.runInfo(sp, cmp.Or(runID, id)), s.metrics)
	opts := append(s.p.runnerOptions(sp), bencher.WithTarget(s.tgt.url), bencher.WithModel(s.tgt.model),
		bencher.WithObserver(lr), bencher.WithLogger(s.log))
	runner, err := bencher.NewRunner(opts...)
	if err != nil {
		return nil, "", usageError{err} // checked before: not reached
	}
	if s.p.startAt.IsZero() {
		lr.Start(runner)
	} else {
		lr.StartAt(runner, s.p.startAt)
	}
	stopBar := s.startBar(lr, sp)
	res, err := runner.Run(ctx, s.p.wl)
	stopBar()
	lr.Finish()
	if err != nil {
		doc := results.NewPartial(nil, meta, err)
		path, werr := s.write(doc)
		if werr != nil {
			s.log.Warn("the partial result was not written", "err", werr)
		}
		return doc, path, fmt.Errorf("run %s: %w", id, err)
	}
	doc := results.New(res, meta)
	s.addServerSide(ctx, doc)
	path, err := s.write(doc)
	if err != nil {
		return doc, path, fmt.Errorf("writing the result of run %s: %w", id, err)
	}
	return doc, path, nil
}

// write writes a run's document into the results directory, holding off
// a second signal meanwhile (see finalWrites). When that fails (a full
// disk, a directory gone), the document is kept in the fallback directory
// and the error says where; path is then the fallback's, or "" when the
// document could be kept nowhere.
func (s *session) write(doc *results.Document) (string, error) {
	path, err := guarded(func() (string, error) { return results.Write(s.p.o.resultsDir, doc) })
	if err == nil {
		return path, nil
	}
	fb, ferr := guarded(func() (string, error) { return results.WriteFallback(doc) })
	if ferr != nil {
		return "", fmt.Errorf("%w; keeping it in %s failed as well (%v): the document of run %s is lost, "+
			"only this report remains", err, results.FallbackDir(), ferr, doc.ID)
	}
	fmt.Fprintf(s.stderr, "bencher: could not write run %s into %s (%s); the document was kept in %s\n",
		doc.ID, s.p.o.resultsDir, errText(err), fb)
	return fb, fmt.Errorf("%w (the document was kept in %s)", err, fb)
}

// noteWritten tells where a document was written, and how its run ended.
func (s *session) noteWritten(doc *results.Document, path string) {
	sum := &doc.Summary
	sim := ""
	if doc.Environment.Simulated {
		sim = " [SIMULATED target]"
	}
	fmt.Fprintf(s.stderr, "bencher: run %s %s: %s%s; written to %s\n", doc.ID, doc.Status, outcome(sum), sim, path)
}

// outcome is a run's one-line outcome: requests ok and throughputs, which
// read n/a when no request was measured (stats.Summary.Measured).
func outcome(sum *stats.Summary) string {
	rate := func(v float64) string {
		if !sum.Measured() {
			return "n/a"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return fmt.Sprintf("%d/%d requests ok, %s req/s, %s output tok/s",
		sum.Succeeded, sum.Requests, rate(sum.RequestThroughput), rate(sum.OutputThroughput))
}

// meta returns what the document of a spec's run holds beyond its result.
func (s *session) meta(sp spec, id string) results.Meta {
	p := s.p
	return results.Meta{
		ID: id, Name: sp.name, Labels: sp.labels, Profile: p.profileKey(sp), Workload: p.wlMeta,
		SLOs: p.slos, Gates: p.gates, AllowSaturated: p.o.allowSaturated, Percentiles: p.percentiles,
		Simulated: s.tgt.simulated, ServerVersion: s.tgt.version, OmitRecords: p.o.omitRecords,
		Redactor: p.red,
	}
}

// runInfo returns the live metrics' identity of a run.
func (s *session) runInfo(sp spec, id string) live.RunInfo {
	mode := bencher.ModeClosedLoop
	if sp.rate > 0 {
		mode = bencher.ModeOpenLoop
	}
	return live.RunInfo{ID: id, Profile: s.p.profileKey(sp), Model: s.p.red.Value(s.tgt.model), Target: results.RedactURL(s.tgt.url),
		API: string(s.p.api), Mode: mode, Simulated: s.tgt.simulated}
}

// startBar draws the progress line while the run lasts, when it is on;
// the returned function erases it.
func (s *session) startBar(lr *live.Run, sp spec) func() {
	if !s.bar {
		return func() {}
	}
	b := live.NewBar(s.stderr, lr, live.BarOptions{Total: sp.requests, Duration: s.p.o.duration, Label: sp.barLabel})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
