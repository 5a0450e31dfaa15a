package live

import (
	"sync/atomic"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// ProgressSource gives the runner's live counters; *bencher.Runner is one.
type ProgressSource interface {
	Progress() bencher.Progress
}

// RunInfo identifies a run in the metrics' labels. Every field has one
// value for the whole run, so the labels stay bounded.
type RunInfo struct {
	ID        string
	Profile   string
	Model     string
	Target    string
	API       string
	Mode      string
	Simulated bool
}

// Run observes one run: it is the run's bencher.Observer and the source of
// its progress line and live metrics. Create it with [NewRun] and call
// [Run.Start] with the runner before the run begins.
type Run struct {
	info    RunInfo
	metrics *runMetrics // nil without Metrics
	owner   *Metrics    // nil without Metrics

	started  atomic.Int64 // wall-clock start, Unix nanoseconds; 0 before Start
	src      atomic.Pointer[ProgressSource]
	finished atomic.Bool

	ok, failed    atomic.Int64
	input, output atomic.Int64
	ttft          sketch
	batch         atomic.Pointer[BatchProgress] // a batch run's latest poll
}

var _ bencher.Observer = (*Run)(nil)

// NewRun returns the observer of a run. With m not nil, the run's series
// are added to m's registry; they stay there (with their final values)
// when the run is over. A run whose info.Mode is bencher.ModeBatchAPI is a
// batch run: see [Run.IsBatch].
func NewRun(info RunInfo, m *Metrics) *Run {
	r := &Run{info: info, owner: m}
	if m != nil {
		r.metrics = m.add(r)
	}
	return r
}

// Info returns the run's identity.
func (r *Run) Info() RunInfo { return r.info }

// Start marks the run as started now; src gives its in-flight counts (nil
// for none: a batch run).
func (r *Run) Start(src ProgressSource) { r.StartAt(src, time.Now()) }

// StartAt marks the run as starting at t (a run that waits for its start
// instant, bencher.WithStartAt): its start time reads t, and its elapsed
// time 0 until then; src gives its in-flight counts.
func (r *Run) StartAt(src ProgressSource, t time.Time) {
	if src != nil {
		r.src.Store(&src)
	}
	r.started.Store(t.UnixNano())
}

// Finish marks the run as over: its in-flight gauge reads 0 from now on.
// With Metrics bounded by [Metrics.KeepFinished], the series of older
// finished runs may be removed now.
func (r *Run) Finish() {
	if r.finished.Swap(true) || r.owner == nil {
		return
	}
	r.owner.finish(r)
}

// Observe counts a finished record. It is called by the runner for every
// record, from many goroutines: it only adds to atomic counters and
// observes histograms.
func (r *Run) Observe(rec bencher.Record) {
	if rec.OK() {
		r.ok.Add(1)
		if ttft, ok := rec.TTFT(); ok {
			r.ttft.add(ttft)
		}
	} else {
		r.failed.Add(1)
	}
	r.input.Add(int64(rec.InputTokens))
	r.output.Add(int64(rec.OutputTokens))
	if r.metrics != nil {
		r.metrics.observe(&rec)
	}
}

// Snapshot is what a run has done so far.
type Snapshot struct {
	// Elapsed is the time since Start (0 before).
	Elapsed time.Duration
	// Progress holds the runner's counters (zero before Start).
	Progress bencher.Progress
	// OK and Failed count the finished requests, warm-up included.
	OK, Failed int64
	// InputTokens and OutputTokens are the totals of every finished request.
	InputTokens, OutputTokens int64
	// TTFTP50 estimates the median time to first token of the successful
	// requests (within 12 %); HasTTFT is false until one arrived.
	TTFTP50 time.Duration
	HasTTFT bool
	// Batch is, for a batch run, what the latest poll of its batch read
	// (nil before the first, and for other runs); OK and Failed are then
	// the batch's completed and failed counts.
	Batch *BatchProgress
}

// Snapshot reads the run's counters.
func (r *Run) Snapshot() Snapshot {
	s := Snapshot{
		OK: r.ok.Load(), Failed: r.failed.Load(),
		InputTokens: r.input.Load(), OutputTokens: r.output.Load(),
	}
	if t := r.started.Load(); t != 0 {
		s.Elapsed = max(time.Since(time.Unix(0, t)), 0)
	}
	if p := r.src.Load(); p != nil {
		s.Progress = (*p).Progress()
	}
	s.TTFTP50, s.HasTTFT = r.ttft.quantile(0.5)
	if b := r.batchProgress(); b != nil {
		s.Batch = b
		s.OK, s.Failed = b.Completed, b.Failed
	}
	return s
}

// inFlight returns the requests in flight now (0 before Start and after
// Finish).
func (r *Run) inFlight() int64 {
	if r.finished.Load() {
		return 0
	}
	if p := r.src.Load(); p != nil {
		return (*p).Progress().InFlight
	}
	return 0
}

// startTime returns the run's start, zero before Start.
func (r *Run) startTime() time.Time {
	if t := r.started.Load(); t != 0 {
		return time.Unix(0, t)
	}
	return time.Time{}
}
