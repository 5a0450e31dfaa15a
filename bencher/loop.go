package bencher

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/benchstation/benchstation/bencher/pacer"
)

// run is the state of one run.
type run struct {
	ctx    context.Context
	cfg    *config
	client *Client
	wl     Workload
	prog   *progress
	start  time.Time
	total  int   // requests of the run (all shards); 0: until the duration is over
	shard  Shard // the part of the run this runner sends (all of it, unsharded)

	halt     chan struct{} // closed to stop early: max error rate, interruption
	haltOnce sync.Once

	mu       sync.Mutex // guards what follows
	reason   StopReason
	next     int      // the next slot to schedule: schedule index next·Count+Index
	records  []Record // by slot (schedule index / shard count)
	measured int      // finished non-warm-up records, canceled and never-sent ones excepted
	failed   int      // of which failed

	lateness []time.Duration // open loop: the scheduler's own, unguarded
	wg       sync.WaitGroup
}

func newRun(ctx context.Context, cfg *config, client *Client, w Workload, total int, prog *progress) *run {
	rn := &run{ctx: ctx, cfg: cfg, client: client, wl: w, prog: prog, total: total, shard: cfg.shardOf(total),
		halt: make(chan struct{})}
	if total > 0 {
		rn.records = make([]Record, 0, min(rn.shard.Requests, 1<<16))
	}
	rn.start = time.Now()
	if !cfg.startAt.IsZero() {
		rn.start = startAt(cfg.startAt)
	}
	return rn
}

// stop records why the run stops; the first reason wins, except that an
// interruption overrides any. Early stops close halt.
func (rn *run) stop(reason StopReason) {
	rn.mu.Lock()
	if rn.reason == "" || reason == StopInterrupted {
		rn.reason = reason
	}
	rn.mu.Unlock()
	if reason == StopInterrupted || reason == StopMaxErrorRate {
		rn.haltOnce.Do(func() { close(rn.halt) })
	}
}

func (rn *run) stopReason() StopReason {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.reason == "" {
		return StopCompleted
	}
	return rn.reason
}

// halted reports an early stop or a cancelled context; it records the
// interruption when it sees it first (before the AfterFunc that also does).
func (rn *run) halted() bool {
	select {
	case <-rn.halt:
		return true
	case <-rn.ctx.Done():
		rn.stop(StopInterrupted)
		return true
	default:
		return false
	}
}

// closedLoop runs the shard's workers, each sending its next request as
// soon as its previous one ended.
func (rn *run) closedLoop() {
	for range rn.shard.Concurrency {
		rn.wg.Add(1)
		go func() {
			defer rn.wg.Done()
			for {
				i, at, ok := rn.take()
				if !ok {
					return
				}
				rn.serve(i, at)
			}
		}()
	}
	rn.wg.Wait()
}

// take gives a free worker the shard's next index, scheduled now (the
// moment the worker became free), or false when the run is over. Indices
// are handed out in time order, so the records have no gaps.
func (rn *run) take() (int, time.Duration, bool) {
	if rn.halted() {
		return 0, 0, false
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	i := rn.next*rn.shard.Count + rn.shard.Index
	if rn.total > 0 && i >= rn.total || rn.ctx.Err() != nil {
		return 0, 0, false
	}
	at := time.Since(rn.start)
	if rn.cfg.duration > 0 && at >= rn.cfg.duration {
		if rn.reason == "" {
			rn.reason = StopDuration
		}
		return 0, 0, false
	}
	rn.next++
	rn.prog.scheduled.Add(1)
	return i, at, true
}

// openLoop schedules requests at the pacer's times and sends each from a
// goroutine of its own. With a concurrency cap, requests wait for a slot
// in a queue and are handed the slots strictly in schedule order (FIFO), by
// one goroutine: a later request never overtakes an earlier one. The
// scheduled time is the pacer's, so neither the scheduler's lateness nor
// the wait for a slot is hidden from the latencies. A shard computes the
// whole schedule and sends only the requests it owns (Shard.Owns).
//
// The scheduler sleeps on a timer until each time (it never spins), and
// records how late it woke (Result.Lateness). Go's timers wake an idle
// process through epoll, whose timeout has millisecond resolution, so on
// an idle machine the lateness is up to about 1 ms (measured here: p50
// 0.6 ms, p99 1.05 ms at 400 requests/s); busier processes wake closer to
// the time.
func (rn *run) openLoop() error {
	p, err := pacer.NewGamma(rn.cfg.rate, rn.cfg.burstiness, rn.cfg.seed)
	if err != nil {
		return err
	}
	var q *fifo
	if rn.cfg.concurrency > 0 {
		q = newFIFO()
		rn.wg.Add(1)
		go rn.dispatchInOrder(q, rn.shard.Concurrency)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for i := 0; rn.total == 0 || i < rn.total; i++ {
		at := p.Next()
		if rn.cfg.duration > 0 && at >= rn.cfg.duration {
			rn.stop(StopDuration)
			break
		}
		if !rn.shard.Owns(i) {
			continue
		}
		if !rn.sleepUntil(timer, at) {
			break
		}
		rn.lateness = append(rn.lateness, max(time.Since(rn.start)-at, 0))
		rn.mu.Lock()
		rn.next = i/rn.shard.Count + 1
		rn.mu.Unlock()
		rn.prog.scheduled.Add(1)
		if q != nil {
			rn.prog.waiting.Add(1)
			q.push(pending{i, at})
			continue
		}
		rn.wg.Add(1)
		go func() {
			defer rn.wg.Done()
			rn.serve(i, at)
		}()
	}
	if q != nil {
		q.close()
	}
	rn.wg.Wait()
	return nil
}

// sleepUntil waits until offset at, or returns false if the run halts.
func (rn *run) sleepUntil(timer *time.Timer, at time.Duration) bool {
	d := at - time.Since(rn.start)
	if d <= 0 {
		return !rn.halted()
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return !rn.halted()
	case <-rn.halt:
	case <-rn.ctx.Done():
		rn.stop(StopInterrupted)
	}
	timer.Stop()
	return false
}

// dispatchInOrder hands the slots of an open loop with a concurrency cap to
// the queued requests in schedule order: it takes the next request, waits
// for a free slot, and sends the request from a goroutine of its own that
// frees the slot at its end. Once the run halts, the requests still queued
// are recorded as never sent.
func (rn *run) dispatchInOrder(q *fifo, slots int) {
	defer rn.wg.Done()
	sem := make(chan struct{}, slots)
	for {
		p, ok := q.pop()
		if !ok {
			return
		}
		acquired := false
		if !rn.halted() {
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-rn.halt:
			case <-rn.ctx.Done():
				rn.stop(StopInterrupted)
			}
		}
		rn.prog.waiting.Add(-1)
		if !acquired || rn.halted() {
			if acquired {
				<-sem
			}
			rn.unsent(p.i, p.at)
			continue
		}
		rn.wg.Add(1)
		go func() {
			defer rn.wg.Done()
			defer func() { <-sem }()
			rn.serve(p.i, p.at)
		}()
	}
}

// pending is a scheduled request waiting for a slot.
type pending struct {
	i  int
	at time.Duration
}

// fifo is an unbounded queue of pending requests: the scheduler pushes
// without ever blocking, and one dispatcher pops in order.
type fifo struct {
	mu     sync.Mutex
	items  []pending
	head   int
	closed bool
	signal chan struct{} // a push or the close since the last pop found nothing
}

func newFIFO() *fifo { return &fifo{signal: make(chan struct{}, 1)} }

func (q *fifo) push(p pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
	q.wake()
}

// close says that nothing more will be pushed.
func (q *fifo) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *fifo) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the oldest pending request, waiting for one; false when the
// queue is closed and empty.
func (q *fifo) pop() (pending, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			p := q.items[q.head]
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.mu.Unlock()
			return p, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return pending{}, false
		}
		<-q.signal
	}
}

// serve sends request i, scheduled at offset at, and records it.
func (rn *run) serve(i int, at time.Duration) {
	req := rn.wl.Request(i)
	rec := Record{Index: i, ID: req.ID, Warmup: i < rn.cfg.warmup, Scheduled: at}
	if rn.cfg.recordOutputs {
		rec.Prompt = req.PromptText()
	}
	rn.prog.inFlight.Add(1)
	rn.client.do(rn.ctx, rn.halt, &req, &rec, rn.start)
	rn.prog.inFlight.Add(-1)
	rn.finish(&rec)
}

// unsent records a request that was scheduled but never sent because the
// run stopped first (ErrNotSent: not a failure). Its End is when it was
// given up; it has no attempt and no send time.
func (rn *run) unsent(i int, at time.Duration) {
	req := rn.wl.Request(i)
	reason := StopInterrupted
	if rn.ctx.Err() == nil {
		reason = rn.stopReason()
	}
	rec := Record{Index: i, ID: req.ID, Warmup: i < rn.cfg.warmup, Scheduled: at,
		End: time.Since(rn.start), Error: ErrNotSent,
		ErrorMessage: "not sent: the run stopped (" + string(reason) + ")"}
	rn.finish(&rec)
}

// finish stores a record, updates the error rate (stopping the run when it
// is over the limit) and tells the observer.
func (rn *run) finish(rec *Record) {
	slot := rec.Index / rn.shard.Count
	rn.mu.Lock()
	if slot >= len(rn.records) {
		rn.records = slices.Grow(rn.records, slot+1-len(rn.records))
		rn.records = rn.records[:slot+1]
	}
	rn.records[slot] = *rec
	tooMany := false
	if !rec.Warmup && rec.Error != ErrCanceled && rec.Error != ErrNotSent {
		rn.measured++
		if !rec.OK() {
			rn.failed++
		}
		tooMany = rn.cfg.maxErrorRate > 0 && rn.measured >= rn.cfg.minErrorSample &&
			float64(rn.failed) > rn.cfg.maxErrorRate*float64(rn.measured)
	}
	rn.mu.Unlock()
	if tooMany {
		rn.stop(StopMaxErrorRate)
	}
	if (rec.Error == ErrCanceled || rec.Error == ErrNotSent) && rn.ctx.Err() != nil {
		rn.stop(StopInterrupted)
	}
	rn.prog.finished.Add(1)
	switch {
	case rec.NotSent():
		rn.prog.notSent.Add(1)
	case !rec.OK():
		rn.prog.failed.Add(1)
	}
	if rn.cfg.observer != nil {
		rn.cfg.observer.Observe(*rec)
	}
}

// summarizeLateness summarises the scheduler's lateness samples.
func summarizeLateness(s []time.Duration) *Lateness {
	l := &Lateness{Samples: len(s)}
	if len(s) == 0 {
		return l
	}
	s = slices.Clone(s)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	l.Mean = sum / time.Duration(len(s))
	l.P50 = s[(len(s)-1)/2]
	l.P99 = s[(len(s)-1)*99/100]
	l.Max = s[len(s)-1]
	return l
}
