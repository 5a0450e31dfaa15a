package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/batchapi"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/workload"
)

// The run modes (--mode).
const (
	// modeOnline sends each request on its own and times its stream: a
	// closed loop, or an open loop with --rate.
	modeOnline = "online"
	// modeBatchAPI submits all the requests as one OpenAI Batch API job
	// and measures the job: its makespan and throughput, no TTFT.
	modeBatchAPI = "batch-api"
)

// batchKeyPrefix starts the profile key of a custom batch-api run.
const batchKeyPrefix = workload.CustomProfilePrefix + "batch"

// checkBatch refuses the flags a batch-api run cannot honour.
func (p *plan) checkBatch(s spec) error {
	o := p.o
	switch {
	case s.requests <= 0:
		return usagef("--mode %s: want --requests (or a --dataset or --batch-file, whose lines are the requests): "+
			"a batch holds a fixed number of requests", modeBatchAPI)
	case s.rate > 0 || o.sweep != "":
		return usagef("--mode %s: --rate and --sweep shape an online load; a batch is submitted whole", modeBatchAPI)
	case o.shard.spec != "" || o.shard.startAt != "":
		return usagef("--mode %s: --shard and --start-at split and time an online load over processes; "+
			"a batch is one job that the server schedules (run it unsharded)", modeBatchAPI)
	case o.warmup > 0:
		return usagef("--mode %s: --warmup has no meaning for one batch job; leave it out", modeBatchAPI)
	case o.batchPoll <= 0:
		return usagef("--batch-poll %s: want a positive interval, such as 1s", o.batchPoll)
	}
	return nil
}

// executeBatch runs one spec as one Batch API job and writes its document.
// --duration, when given, bounds the whole job: a batch that has not ended
// by then is cancelled and the run fails, saying so.
func (s *session) executeBatch(ctx context.Context, sp spec) (*results.Document, string, error) {
	p := s.p
	id := results.NewID(time.Now())
	meta := s.meta(sp, id)
	reqs := make([]bencher.Request, sp.requests)
	for i := range reqs {
		reqs[i] = p.wl.Request(i)
	}
	c, err := batchapi.New(s.tgt.url, batchapi.WithAPIKey(p.apiKey), batchapi.WithHeaders(p.headers),
		batchapi.WithRedactor(p.red), batchapi.WithTimeout(p.o.timeout))
	if err != nil {
		return nil, "", usageError{err}
	}
	runCtx := ctx
	if p.o.duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, p.o.duration)
		defer cancel()
	}
	// The live view of a batch is what each poll reads: the batch's
	// status and request_counts, in the bar and the live metrics.
	info := s.runInfo(sp, id)
	info.Mode = bencher.ModeBatchAPI
	lr := live.NewRun(info, s.metrics)
	lr.Start(nil)
	stopBar := s.startBar(lr, sp)
	last := ""
	out, err := batchapi.Bench(runCtx, c, reqs, batchapi.BenchOptions{
		API: p.api, Model: s.tgt.model, Poll: p.o.batchPoll,
		Metadata: map[string]string{"bencher_run": id, "bencher_profile": meta.Profile},
		Seen: func(b batchapi.Batch) {
			lr.ObserveBatch(live.BatchProgress{Status: p.red.Value(b.Status), Total: int64(b.RequestCounts.Total),
				Completed: int64(b.RequestCounts.Completed), Failed: int64(b.RequestCounts.Failed)})
			if b.Status != last {
				last = b.Status
				fmt.Fprintf(s.stderr, "bencher: batch %s %s (%d of %d requests done, %d failed)\n", p.red.Value(b.ID),
					p.red.Value(b.Status), b.RequestCounts.Completed+b.RequestCounts.Failed, b.RequestCounts.Total,
					b.RequestCounts.Failed)
			}
		},
	})
	stopBar()
	lr.Finish()
	cause := err
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && runCtx.Err() != nil {
		cause = fmt.Errorf("the batch had not ended after --duration %s; it was cancelled (%s)", p.o.duration,
			describeBatch(out))
	}
	if out == nil && batchapi.IsNotFound(err) {
		cause = fmt.Errorf("%w (the target serves no Batch API: leave out --mode %s, or the %s profile)", err,
			modeBatchAPI, profileBatchAPI)
	}
	if out == nil {
		doc := results.NewPartial(nil, meta, p.red.Error(cause))
		path, werr := s.write(doc)
		if werr != nil {
			s.log.Warn("the partial result was not written", "err", werr)
		}
		return doc, path, fmt.Errorf("run %s: %w", id, p.red.Error(cause))
	}
	meta.Batch = out.Section(p.o.batchPoll, p.red)
	doc := results.NewPartial(out.Result, meta, p.red.Error(cause))
	path, werr := s.write(doc)
	switch {
	case cause != nil && ctx.Err() == nil:
		return doc, path, fmt.Errorf("run %s: %w", id, p.red.Error(cause))
	case werr != nil:
		return doc, path, fmt.Errorf("writing the result of run %s: %w", id, werr)
	}
	return doc, path, nil
}

// describeBatch says where a batch stood.
func describeBatch(out *batchapi.Outcome) string {
	if out == nil {
		return "no batch was created"
	}
	b := out.Batch
	return fmt.Sprintf("batch %s was %s with %d of %d requests done", b.ID, b.Status,
		b.RequestCounts.Completed+b.RequestCounts.Failed, b.RequestCounts.Total)
}

// batchProfileKey returns the key of a custom batch-api run:
// custom-batch-in512-out128, or custom-batch-jsonl for a file.
func (p *plan) batchProfileKey(sp spec) string {
	sp.mode, sp.concurrency, sp.rate, sp.profile = modeOnline, 0, 0, ""
	key := p.profileKey(sp)
	return batchKeyPrefix + strings.TrimPrefix(key, workload.CustomProfilePrefix)
}
