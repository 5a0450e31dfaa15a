package plugin

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// rateWindow is the span of the rolling throughputs of live progress.
const rateWindow = 5 * time.Second

// RunProgress is the live progress of a run, as GET /runs/<id> answers it
// for a running run and as the stream frames carry it. A value that was
// not measured is null, never 0.
type RunProgress struct {
	ID     string    `json:"id"`
	Status string    `json:"status"` // running, or the document's status
	Time   time.Time `json:"time"`
	// Done counts the finished requests, Total the planned ones (0 when the
	// run is bounded by time). For a batch run they are the server's
	// request_counts at the latest poll: completed and failed, and total.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// InFlight counts the requests being sent; null for a batch run, whose
	// requests the server holds.
	InFlight *int64 `json:"inFlight"`
	Errors   int64  `json:"errors"`
	// The rolling throughputs over the last few seconds; a batch reports no
	// tokens before it ends (null).
	RequestsPerSecond     float64  `json:"requestsPerSecond"`
	OutputTokensPerSecond *float64 `json:"outputTokensPerSecond"`
	// TTFT percentiles of the successful requests so far, in ms; null
	// before the first, and for a batch run.
	TTFTP50Ms *float64 `json:"ttftP50Ms"`
	TTFTP95Ms *float64 `json:"ttftP95Ms"`
	// Batch is true for a batch-api run; BatchStatus is its batch's status
	// at the latest poll ("" before the first).
	Batch       bool   `json:"batch,omitempty"`
	BatchStatus string `json:"batchStatus,omitempty"`
	// Error is what ended a failed or interrupted run.
	Error string `json:"error,omitempty"`
}

// completion is one finished request, for the rolling throughputs.
type completion struct {
	at     time.Time
	n      int // requests: 1, or a batch's completions since the poll before
	tokens int
}

// liveRun is a run started by this instance: its plan, its progress (fed
// by the bencher as an Observer) and, once ended, its document header.
type liveRun struct {
	id     string
	plan   *runPlan
	start  time.Time
	cancel context.CancelCauseFunc
	doneCh chan struct{}

	mu     sync.Mutex
	runner *bencher.Runner
	done   int64
	errs   int64
	ttft   []float64 // ms, successful requests
	recent []completion
	header *results.Header
	endErr string
	status string
	batch  *live.BatchProgress // a batch run's latest poll
}

// newLiveRun returns the state of a run that starts now.
func newLiveRun(id string, p *runPlan, start time.Time, cancel context.CancelCauseFunc) *liveRun {
	return &liveRun{id: id, plan: p, start: start, cancel: cancel, doneCh: make(chan struct{}), status: "running"}
}

// Observe counts one finished request (bencher.Observer).
func (r *liveRun) Observe(rec bencher.Record) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if !rec.OK() {
		r.errs++
		return
	}
	if d, ok := rec.TTFT(); ok {
		r.ttft = append(r.ttft, float64(d)/float64(time.Millisecond))
	}
	r.recent = append(r.recent, completion{at: now, n: 1, tokens: rec.OutputTokens})
	r.trimLocked(now)
}

// trimLocked drops the completions past the rate window, now and then.
func (r *liveRun) trimLocked(now time.Time) {
	if len(r.recent) > 0 && now.Sub(r.recent[0].at) > 2*rateWindow {
		r.recent = slices.DeleteFunc(r.recent, func(c completion) bool { return now.Sub(c.at) > rateWindow })
	}
}

// isBatch reports whether the run is a batch-api run.
func (r *liveRun) isBatch() bool { return r.plan.mode == bencher.ModeBatchAPI }

// observeBatch records what a poll of a batch run's batch read: the
// server's counts are the run's done and errors, and the completions
// since the poll before feed the rolling rate.
func (r *liveRun) observeBatch(b live.BatchProgress) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := int64(0)
	if r.batch != nil {
		prev = r.batch.Completed
	}
	if d := b.Completed - prev; d > 0 {
		r.recent = append(r.recent, completion{at: now, n: int(d)})
		r.trimLocked(now)
	}
	r.done, r.errs = b.Done(), b.Failed
	r.batch = &b
}

// setRunner lets the progress read the runner's in-flight count.
func (r *liveRun) setRunner(rn *bencher.Runner) {
	r.mu.Lock()
	r.runner = rn
	r.mu.Unlock()
}

// finish records the run's document (nil when it could not be written).
func (r *liveRun) finish(doc *results.Document, werr error) {
	r.mu.Lock()
	if doc != nil {
		h := doc.Header
		r.header = &h
		r.status = string(h.Status)
		r.endErr = h.Error
	} else {
		r.status = string(results.StatusFailed)
	}
	if werr != nil {
		r.endErr = "the run's document could not be written"
	}
	r.ttft, r.recent, r.runner = nil, nil, nil
	r.mu.Unlock()
	close(r.doneCh)
}

// ended reports whether the run has ended.
func (r *liveRun) ended() bool {
	select {
	case <-r.doneCh:
		return true
	default:
		return false
	}
}

// snapshot returns the run's progress now.
func (r *liveRun) snapshot() RunProgress {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.header != nil {
		return headerProgress(r.header, now)
	}
	p := RunProgress{ID: r.id, Status: r.status, Time: now, Done: r.done, Total: int64(r.plan.requests),
		Errors: r.errs, Error: r.endErr, Batch: r.isBatch()}
	if p.Batch {
		if b := r.batch; b != nil {
			p.BatchStatus = b.Status
			if b.Total > 0 {
				p.Total = b.Total
			}
		}
	} else {
		var inFlight int64
		if r.runner != nil && r.status == "running" {
			inFlight = r.runner.Progress().InFlight
		}
		p.InFlight = &inFlight
	}
	span := min(now.Sub(r.start), rateWindow)
	if span > 0 {
		var n, tok int
		for _, c := range r.recent {
			if now.Sub(c.at) <= rateWindow {
				n, tok = n+c.n, tok+c.tokens
			}
		}
		p.RequestsPerSecond = float64(n) / span.Seconds()
		if !p.Batch {
			p.OutputTokensPerSecond = ptr(float64(tok) / span.Seconds())
		}
	}
	if len(r.ttft) > 0 {
		sorted := slices.Clone(r.ttft)
		slices.Sort(sorted)
		p.TTFTP50Ms = ptr(stats.Percentile(sorted, 50))
		p.TTFTP95Ms = ptr(stats.Percentile(sorted, 95))
	}
	return p
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// headerProgress is the final progress of a finished run, from its
// document's header.
func headerProgress(h *results.Header, now time.Time) RunProgress {
	s := h.Summary
	p := RunProgress{ID: h.ID, Status: string(h.Status), Time: now,
		Done: int64(h.RecordCount), Total: int64(h.RecordCount), Errors: int64(s.Failed),
		RequestsPerSecond: s.RequestThroughput, OutputTokensPerSecond: ptr(s.OutputThroughput), Error: h.Error}
	if h.BatchMode() {
		p.Batch, p.BatchStatus = true, h.Batch.FinalStatus
	} else {
		p.InFlight = ptr(int64(0))
	}
	if v, ok := s.Value("ttft_p50"); ok {
		p.TTFTP50Ms = &v
	}
	if v, ok := s.Value("ttft_p95"); ok {
		p.TTFTP95Ms = &v
	}
	if !h.Environment.EndTime.IsZero() {
		p.Time = h.Environment.EndTime
	}
	return p
}
