package bencher

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Workload gives the request of each schedule index (from 0). It is called
// from many goroutines at once and must be safe for concurrent use.
type Workload interface {
	Request(i int) Request
}

// Sized is a workload with a natural length: a run without a request or
// duration limit sends Len requests.
type Sized interface {
	Len() int
}

// WorkloadFunc adapts a function to a Workload.
type WorkloadFunc func(i int) Request

// Request calls f(i).
func (f WorkloadFunc) Request(i int) Request { return f(i) }

// Requests is a workload that cycles through a list of requests.
type Requests []Request

// Request returns r[i mod len(r)].
func (r Requests) Request(i int) Request { return r[i%len(r)] }

// Len returns len(r).
func (r Requests) Len() int { return len(r) }

// Observer is told of every finished record, from the goroutine that
// measured it, so that a CLI can show progress and serve live metrics. It
// must be safe for concurrent use, quick and non-blocking. The record's
// ChunkTimes must not be modified.
type Observer interface {
	Observe(rec Record)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(rec Record)

// Observe calls f(rec).
func (f ObserverFunc) Observe(rec Record) { f(rec) }

// Compile-time interface checks.
var (
	_ Workload = WorkloadFunc(nil)
	_ Workload = Requests(nil)
	_ Sized    = Requests(nil)
	_ Observer = ObserverFunc(nil)
)

// ErrRunning is returned by Run while the Runner is already running.
var ErrRunning = errors.New("bencher: the runner is already running")

// Progress counts the requests of the current (or last) run.
type Progress struct {
	// Scheduled requests have been given an index and a scheduled time.
	Scheduled int64 `json:"scheduled"`
	// Waiting requests are scheduled but wait for a concurrency slot (an
	// open loop with a concurrency cap).
	Waiting int64 `json:"waiting"`
	// InFlight requests are being sent, received, or waiting to be retried.
	InFlight int64 `json:"in_flight"`
	// Finished requests have their record (warm-up included), of which
	// Failed were sent and did not succeed, and NotSent were never sent
	// (the run stopped first; neither a success nor a failure).
	Finished int64 `json:"finished"`
	Failed   int64 `json:"failed"`
	NotSent  int64 `json:"not_sent"`
}

// progress holds the live counters behind Progress.
type progress struct {
	scheduled, waiting, inFlight, finished, failed, notSent atomic.Int64
}

func (p *progress) reset() {
	for _, c := range []*atomic.Int64{&p.scheduled, &p.waiting, &p.inFlight, &p.finished, &p.failed, &p.notSent} {
		c.Store(0)
	}
}

// Runner runs load against an OpenAI-compatible server. Create one with
// NewRunner; it runs one run at a time.
type Runner struct {
	opts    []Option
	cfg     config
	running atomic.Bool
	prog    progress
}

// NewRunner returns a Runner configured by opts, or an error wrapping
// ErrInvalidConfig.
func NewRunner(opts ...Option) (*Runner, error) {
	cfg := newConfig(opts)
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	return &Runner{opts: opts, cfg: cfg}, nil
}

// Run is NewRunner(opts...) followed by Run(ctx, w).
func Run(ctx context.Context, w Workload, opts ...Option) (*Result, error) {
	r, err := NewRunner(opts...)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, w)
}

// Progress returns the counters of the current or last run. It is cheap and
// safe to call from any goroutine.
func (r *Runner) Progress() Progress {
	return Progress{
		Scheduled: r.prog.scheduled.Load(),
		Waiting:   r.prog.waiting.Load(),
		InFlight:  r.prog.inFlight.Load(),
		Finished:  r.prog.finished.Load(),
		Failed:    r.prog.failed.Load(),
		NotSent:   r.prog.notSent.Load(),
	}
}

// Run sends the workload's requests, as the options say, and returns what
// was measured. The model is detected first when no WithModel was given.
// Cancelling ctx stops scheduling, aborts the requests in flight (their
// records are marked ErrCanceled; those scheduled but not yet sent,
// ErrNotSent) and returns the
// partial result with StopReason StopInterrupted and a nil error; so does
// a cancel while Run waits for the instant of WithStartAt, with no
// records. Errors are returned only when the run could not start.
func (r *Runner) Run(ctx context.Context, w Workload) (*Result, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: no workload", ErrInvalidConfig)
	}
	if !r.running.CompareAndSwap(false, true) {
		return nil, ErrRunning
	}
	defer r.running.Store(false)
	cfg := r.cfg
	total, err := requestLimit(&cfg, w)
	if err != nil {
		return nil, err
	}
	if cfg.sharded() && total > 0 && total < cfg.shards {
		return nil, fmt.Errorf("%w: %d requests over %d shards leaves a shard without a request: want at least %d",
			ErrInvalidConfig, total, cfg.shards, cfg.shards)
	}
	if cfg.model == "" {
		// The server's name is sent back as it is; the result records it
		// scrubbed (runConfig).
		if cfg.model, err = detectModel(ctx, &cfg); err != nil {
			return nil, cfg.redactor.Error(err)
		}
	}
	client, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	r.prog.reset()
	var pw *Prewarm
	if n := client.prewarmConnections(&cfg, total); n > 0 {
		// Before the run's clock starts (newRun).
		p := client.Prewarm(ctx, n)
		pw = &p
	}
	var offset *ClockOffset
	if !cfg.startAt.IsZero() {
		if offset, err = r.waitForStart(ctx, &cfg, client); err != nil {
			// Interrupted before the start: a result without records, so
			// that the document still says which run and shard it was.
			now := time.Now()
			return &Result{Start: now, End: now, StopReason: StopInterrupted, Config: runConfig(&cfg, client.Target(), total),
				Shard: cfg.resultShard(total), ClockOffset: offset}, nil
		}
	}
	rn := newRun(ctx, &cfg, client, w, total, &r.prog)
	res, err := rn.exec()
	if res == nil {
		return res, err
	}
	if pw != nil {
		res.Prewarm, res.Config.PrewarmConnections = pw, pw.Connections
	}
	if !cfg.startAt.IsZero() {
		if offset == nil && ctx.Err() == nil {
			// No time was left before the start: measured now, briefly.
			offset = client.measureClockOffset(ctx, time.Now().Add(lateClockBudget))
		}
		res.ClockOffset = offset
	}
	return res, err
}

// lateClockBudget bounds the measure of the target's clock after a run
// that had no time for it before its start.
const lateClockBudget = 3 * time.Second

// clockMargin is the time kept free before the start when the target's
// clock is measured while waiting for it.
const clockMargin = 200 * time.Millisecond

// waitForStart measures the target's clock while it waits until the
// start (cfg.startAt); nil when there was no time to measure it. It
// returns ctx's error, with what it measured, when ctx ends first.
func (r *Runner) waitForStart(ctx context.Context, cfg *config, client *Client) (*ClockOffset, error) {
	var offset *ClockOffset
	if deadline := cfg.startAt.Add(-clockMargin); time.Until(deadline) > 0 {
		offset = client.measureClockOffset(ctx, deadline)
	}
	if err := waitUntil(ctx, cfg.startAt); err != nil {
		return offset, err
	}
	return offset, nil
}

// requestLimit returns the number of requests to send (0: until the
// duration is over).
func requestLimit(cfg *config, w Workload) (int, error) {
	if cfg.requests > 0 || cfg.duration > 0 {
		return cfg.requests, nil
	}
	if s, ok := w.(Sized); ok && s.Len() > 0 {
		return s.Len(), nil
	}
	return 0, fmt.Errorf("%w: set a number of requests or a duration (the workload has no length)", ErrInvalidConfig)
}

// validate checks the options.
func validate(c *config) error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	check(c.rate >= 0 && finite(c.rate), "rate %v must be a finite number >= 0", c.rate)
	check(c.burstiness > 0 && finite(c.burstiness), "burstiness %v must be a finite number > 0", c.burstiness)
	check(c.concurrency >= 0, "concurrency %d must be >= 0", c.concurrency)
	check(c.rate > 0 || c.concurrency >= 1, "a closed loop (no rate) needs a concurrency >= 1")
	check(c.requests >= 0, "requests %d must be >= 0", c.requests)
	check(c.duration >= 0, "duration %v must be >= 0", c.duration)
	check(c.warmup >= 0, "warm-up %d must be >= 0", c.warmup)
	check(c.retries >= 0, "retries %d must be >= 0", c.retries)
	check(c.retryBase >= 0 && c.retryMax >= c.retryBase, "backoff base %v and max %v must satisfy 0 <= base <= max", c.retryBase, c.retryMax)
	check(c.maxRetryAfter >= 0, "max Retry-After %v must be >= 0", c.maxRetryAfter)
	check(c.maxErrorRate >= 0 && c.maxErrorRate <= 1, "max error rate %v must be in [0, 1]", c.maxErrorRate)
	check(c.timeout >= 0, "timeout %v must be >= 0", c.timeout)
	check(c.idleTimeout >= 0, "idle timeout %v must be >= 0", c.idleTimeout)
	errs = append(errs, validateShard(c)...)
	if _, _, err := parseBaseURL(c.baseURL); err != nil {
		errs = append(errs, err)
	}
	check(c.api == APICompletions || c.api == APIChat, "unknown API %q (want %q or %q)", c.api, APICompletions, APIChat)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// runConfig is the configuration as recorded in the result.
func runConfig(c *config, target string, total int) RunConfig {
	rc := RunConfig{
		Target: target, API: c.api, Model: c.redactor.Value(c.model), Stream: c.stream,
		Mode: ModeClosedLoop, Concurrency: c.concurrency,
		Requests: total, Duration: c.duration, Warmup: c.warmup, Timeout: c.timeout, IdleTimeout: c.idleTimeout,
		Retries: c.retries, RetryBase: c.retryBase, RetryMax: c.retryMax,
		Seed: c.seed, RecordOutputs: c.recordOutputs,
	}
	if c.rate > 0 {
		rc.Mode, rc.Rate, rc.Burstiness = ModeOpenLoop, c.rate, c.burstiness
	}
	if c.maxErrorRate > 0 {
		rc.MaxErrorRate, rc.MinErrorSample = c.maxErrorRate, c.minErrorSample
	}
	if c.sharded() {
		rc.Shards = c.shards
	}
	if !c.startAt.IsZero() {
		rc.StartAt = c.startAt.Round(0).UTC()
	}
	return rc
}

// exec runs the load loop and builds the result.
func (rn *run) exec() (*Result, error) {
	stopWatch := context.AfterFunc(rn.ctx, func() { rn.stop(StopInterrupted) })
	defer stopWatch()
	log := rn.cfg.logger
	probe := startLoadProbe()
	log.Debug("bencher: run starting", "target", rn.client.Target(), "model", rn.cfg.redactor.Value(rn.cfg.model),
		"concurrency", rn.cfg.concurrency, "rate", rn.cfg.rate, "requests", rn.total, "duration", rn.cfg.duration)
	if rn.cfg.rate > 0 {
		if err := rn.openLoop(); err != nil {
			return nil, err
		}
	} else {
		rn.closedLoop()
	}
	if rn.ctx.Err() != nil {
		// Requests cancelled with the context can all end before the
		// AfterFunc above has run: the run was interrupted all the same.
		rn.stop(StopInterrupted)
	}
	elapsed := time.Since(rn.start)
	res := &Result{
		Start:      rn.start,
		End:        rn.start.Add(elapsed),
		StopReason: rn.stopReason(),
		Config:     runConfig(rn.cfg, rn.client.Target(), rn.total),
		Records:    rn.records[:rn.next],
		Shard:      rn.cfg.resultShard(rn.total),
	}
	if rn.cfg.rate > 0 {
		res.Lateness = summarizeLateness(rn.lateness)
	}
	rn.client.finishLoad(probe, res)
	log.Debug("bencher: run finished", "stop_reason", res.StopReason, "records", len(res.Records), "duration", elapsed)
	return res, nil
}
