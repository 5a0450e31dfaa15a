package sim

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type seqState uint8

const (
	stateNew seqState = iota
	stateWaiting
	stateRunning
	stateFinished
)

// seq is one request inside the engine.
type seq struct {
	// Set before submission, read-only afterwards.
	id           string
	idx          uint64
	arrived      time.Time
	promptTokens int
	maxTokens    int
	blocks       []uint64
	target       int          // tokens the engine generates
	reason       finishReason // why it finishes after target tokens
	textSeed     uint64
	fault        FaultKind
	faultAt      int
	notify       chan struct{}

	// emitted is the number of tokens generated so far. The engine stores it
	// after writing the fields below, so the handler may read, after loading
	// emitted == n: firstTokenAt and scheduledAt once n >= 1, and everything
	// once n == target.
	emitted atomic.Int64

	// Owned by the engine goroutine.
	state         seqState
	computed      int // tokens with KV computed (== kvHeld after a step)
	prefillTarget int // tokens to compute before the next token is sampled
	stepTokens    int // tokens scheduled in the current step
	kvHeld        int
	generated     int
	cached        int
	preemptions   int
	promptCounted bool
	scheduledAt   time.Time
	firstTokenAt  time.Time
	lastTokenAt   time.Time
	finishedAt    time.Time
}

// engine is the continuous-batching scheduler. Its goroutine runs while there
// is work and exits when there is none.
type engine struct {
	cfg   *config
	m     *metrics
	cache *prefixCache // nil without prefix caching

	mu          sync.Mutex // guards inbox, aborts and active
	inbox       []*seq
	aborts      []*seq
	active      bool
	spareInbox  []*seq // owned by the running goroutine
	spareAborts []*seq

	waiting fifo
	running []*seq
	kvUsed  int
	timer   *time.Timer
}

func newEngine(cfg *config, m *metrics) *engine {
	e := &engine{cfg: cfg, m: m}
	if cfg.prefixCaching {
		e.cache = newPrefixCache(cfg.kvTokens / cfg.blockSize)
	}
	return e
}

// submit hands a sequence to the engine.
func (e *engine) submit(s *seq) {
	e.mu.Lock()
	e.inbox = append(e.inbox, s)
	e.wakeLocked()
}

// abort asks the engine to drop a sequence (finished_reason "abort").
func (e *engine) abort(s *seq) {
	e.mu.Lock()
	e.aborts = append(e.aborts, s)
	e.wakeLocked()
}

// wakeLocked starts the engine goroutine if it is not running, and unlocks.
func (e *engine) wakeLocked() {
	start := !e.active
	e.active = true
	e.mu.Unlock()
	if start {
		go e.run()
	}
}

func (e *engine) run() {
	for e.drain() {
		e.step()
	}
}

// drain takes new and aborted sequences; it reports false, and marks the
// engine inactive, when there is nothing left to do.
func (e *engine) drain() bool {
	for {
		e.mu.Lock()
		in, ab := e.inbox, e.aborts
		if len(in) == 0 && len(ab) == 0 {
			idle := len(e.running) == 0 && e.waiting.len() == 0
			if idle {
				e.active = false
				e.publishGauges()
			}
			e.mu.Unlock()
			return !idle
		}
		e.inbox, e.aborts = e.spareInbox[:0], e.spareAborts[:0]
		e.mu.Unlock()
		for _, s := range in {
			s.state = stateWaiting
			e.waiting.pushBack(s)
		}
		for _, s := range ab {
			e.drop(s)
		}
		clear(in)
		clear(ab)
		e.spareInbox, e.spareAborts = in[:0], ab[:0]
	}
}

// drop removes an aborted sequence, if it is still in the engine.
func (e *engine) drop(s *seq) {
	switch s.state {
	case stateWaiting:
		e.waiting.remove(s)
	case stateRunning:
		if i := slices.Index(e.running, s); i >= 0 {
			e.running = slices.Delete(e.running, i, i+1)
		}
	default:
		return
	}
	e.finish(s, time.Now(), reasonAbort)
}

// step runs one engine iteration: schedule, wait the step's duration, emit.
func (e *engine) step() {
	start := time.Now()
	tokens, prefill, batch := e.schedule(start)
	d := e.cfg.decodeBase + time.Duration(batch)*e.cfg.decodePerSeq + time.Duration(prefill)*e.cfg.prefillPerToken
	now := start
	if d > 0 {
		e.wait(d)
		now = time.Now()
	}
	e.complete(now)
	if tokens > 0 {
		e.m.iteration.Observe(float64(tokens))
	}
	e.publishGauges()
}

func (e *engine) wait(d time.Duration) {
	if e.timer == nil {
		e.timer = time.NewTimer(d)
	} else {
		e.timer.Reset(d)
	}
	<-e.timer.C
}

func (e *engine) publishGauges() {
	e.m.running.Set(float64(len(e.running)))
	e.m.waiting.Set(float64(e.waiting.len()))
	e.m.kvUsage.Set(float64(e.kvUsed) / float64(e.cfg.kvTokens))
}

// schedule plans a step as vLLM V1's scheduler does: running sequences
// first, then, unless one was preempted, waiting ones in FIFO order. It
// returns the tokens scheduled, the prefill tokens among them, and the number
// of sequences in the step.
func (e *engine) schedule(now time.Time) (tokens, prefill, batch int) {
	budget := e.cfg.maxBatchedTokens
	preempted := false
	for i := 0; i < len(e.running) && budget > 0; i++ {
		s := e.running[i]
		n, inPrefill := 1, s.computed < s.prefillTarget
		if inPrefill {
			n = min(s.prefillTarget-s.computed, budget)
		}
		ok, victims := e.reserve(s, n)
		preempted = preempted || victims
		if !ok {
			break
		}
		tokens, batch, budget = tokens+n, batch+1, budget-n
		if inPrefill {
			prefill += n
		}
	}
	if preempted {
		return tokens, prefill, batch
	}
	for e.waiting.len() > 0 && len(e.running) < e.cfg.maxNumSeqs && budget > 0 {
		n, ok := e.admit(e.waiting.front(), budget, now)
		if !ok {
			break
		}
		tokens, prefill, batch, budget = tokens+n, prefill+n, batch+1, budget-n
	}
	return tokens, prefill, batch
}

// reserve finds KV-cache room for n more tokens of the running sequence s,
// preempting the newest running sequences while the cache is full. It reports
// whether s got its room (false when s itself was preempted) and whether any
// sequence was preempted.
func (e *engine) reserve(s *seq, n int) (ok, preempted bool) {
	for e.kvUsed+n > e.cfg.kvTokens {
		victim := e.running[len(e.running)-1]
		e.running[len(e.running)-1] = nil
		e.running = e.running[:len(e.running)-1]
		e.preempt(victim)
		if victim == s {
			return false, true
		}
		preempted = true
	}
	e.kvUsed += n
	s.kvHeld += n
	s.stepTokens = n
	return true, preempted
}

// preempt sends a running sequence back to the front of the waiting queue; it
// will recompute its prompt and generated tokens.
func (e *engine) preempt(s *seq) {
	e.kvUsed -= s.kvHeld
	s.kvHeld, s.computed, s.stepTokens = 0, 0, 0
	s.state = stateWaiting
	s.preemptions++
	e.m.preemptions.Inc()
	e.waiting.pushFront(s)
}

// admit moves the first waiting sequence to running if its next prefill
// chunk fits in the KV cache, and returns the chunk's size.
func (e *engine) admit(s *seq, budget int, now time.Time) (int, bool) {
	target := s.promptTokens + s.generated
	cached := 0
	if e.cache != nil {
		blocks := s.blocks[:min(len(s.blocks), (target-1)/e.cfg.blockSize)]
		cached = e.cache.lookup(blocks) * e.cfg.blockSize
	}
	n := min(target-cached, budget)
	if e.kvUsed+cached+n > e.cfg.kvTokens {
		return 0, false
	}
	e.waiting.popFront()
	if e.cache != nil {
		e.m.prefixQueries.Add(float64(target))
		e.m.prefixHits.Add(float64(cached))
	}
	s.state = stateRunning
	s.cached, s.computed, s.prefillTarget = cached, cached, target
	s.kvHeld, s.stepTokens = cached+n, n
	e.kvUsed += cached + n
	if s.scheduledAt.IsZero() {
		s.scheduledAt = now
	}
	e.running = append(e.running, s)
	return n, true
}

// complete ends a step at now: sequences whose prefill is done emit a token.
func (e *engine) complete(now time.Time) {
	generated := 0
	kept := e.running[:0]
	for _, s := range e.running {
		if s.stepTokens > 0 {
			s.computed += s.stepTokens
			s.stepTokens = 0
			if s.computed >= s.prefillTarget {
				e.emit(s, now)
				generated++
			}
		}
		if s.state == stateRunning {
			kept = append(kept, s)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept
	if generated > 0 {
		e.m.genTokens.Add(float64(generated))
	}
}

// emit generates one token of s and tells its handler.
func (e *engine) emit(s *seq, now time.Time) {
	s.generated++
	if s.generated == 1 {
		s.firstTokenAt = now
		e.m.ttft.Observe(now.Sub(s.arrived).Seconds())
	} else {
		e.m.itl.Observe(now.Sub(s.lastTokenAt).Seconds())
	}
	s.lastTokenAt = now
	if !s.promptCounted {
		s.promptCounted = true
		e.m.promptTokens.Add(float64(s.promptTokens))
		if e.cache != nil {
			e.cache.insert(s.blocks)
		}
	}
	if s.generated >= s.target {
		e.finish(s, now, s.reason)
	}
	s.emitted.Store(int64(s.generated))
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// finish releases a sequence's cache and records its metrics.
func (e *engine) finish(s *seq, now time.Time, reason finishReason) {
	s.state = stateFinished
	s.finishedAt = now
	e.kvUsed -= s.kvHeld
	s.kvHeld = 0
	e.m.observeFinished(s, reason, now)
}

// fifo is the waiting queue.
type fifo struct {
	items []*seq
	head  int
}

func (q *fifo) len() int    { return len(q.items) - q.head }
func (q *fifo) front() *seq { return q.items[q.head] }

func (q *fifo) pushBack(s *seq) { q.items = append(q.items, s) }

func (q *fifo) pushFront(s *seq) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = s
		return
	}
	q.items = append(q.items, nil)
	copy(q.items[1:], q.items)
	q.items[0] = s
}

func (q *fifo) popFront() {
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head > len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}

func (q *fifo) remove(s *seq) {
	for i := q.head; i < len(q.items); i++ {
		if q.items[i] == s {
			copy(q.items[i:], q.items[i+1:])
			q.items[len(q.items)-1] = nil
			q.items = q.items[:len(q.items)-1]
			return
		}
	}
}
