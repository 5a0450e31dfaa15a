package stats

import (
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// collected is what one pass over the records gathers for [Summarize].
type collected struct {
	requests, warmup, notSent, succeeded, good int
	attempts, retries                          int
	inputTokens, outputTokens                  int
	errors                                     map[bencher.ErrorClass]int
	statuses                                   map[int]int
	sources                                    map[bencher.TokenSource]int

	// start and end bound the measured window; the span of the scheduled
	// times runs from start to lastScheduled.
	start, end, lastScheduled time.Duration

	// clientBusy and serverBusy are the summed lengths of the in-flight
	// intervals; the slices hold their bounds, for the maxima.
	clientBusy, serverBusy   time.Duration
	scheduled, sent, endings []time.Duration

	ttft, serverTTFT, queue, e2el, failedE2EL []time.Duration
	tpot                                      []float64
	// chunks are the successful records' chunk times, whose gaps are the
	// pooled ITLs (read in place, see gapSeqs).
	chunks gapSeqs
}

// collect makes one pass over the measured records (a first, cheap pass
// only counts them, so every slice is allocated once).
func collect(records []bencher.Record, slos []SLO) *collected {
	n := 0
	for i := range records {
		if !records[i].Warmup {
			n++
		}
	}
	c := &collected{
		errors:     map[bencher.ErrorClass]int{},
		statuses:   map[int]int{},
		sources:    map[bencher.TokenSource]int{},
		scheduled:  make([]time.Duration, 0, n),
		sent:       make([]time.Duration, 0, n),
		endings:    make([]time.Duration, 0, n),
		ttft:       make([]time.Duration, 0, n),
		serverTTFT: make([]time.Duration, 0, n),
		queue:      make([]time.Duration, 0, n),
		e2el:       make([]time.Duration, 0, n),
		tpot:       make([]float64, 0, n),
		chunks:     make(gapSeqs, 0, n),
	}
	c.warmup = len(records) - n
	for i := range records {
		switch r := &records[i]; {
		case r.Warmup:
		case r.NotSent():
			c.notSent++
		default:
			c.add(r, slos)
		}
	}
	return c
}

// add gathers one measured record.
func (c *collected) add(r *bencher.Record, slos []SLO) {
	if c.requests == 0 {
		c.start, c.end, c.lastScheduled = r.Scheduled, r.End, r.Scheduled
	}
	c.requests++
	c.start, c.end = min(c.start, r.Scheduled), max(c.end, r.End)
	c.lastScheduled = max(c.lastScheduled, r.Scheduled)
	c.attempts += r.Attempts
	c.retries += max(r.Attempts-1, 0)
	c.addInterval(r)
	if len(slos) > 0 && metMany(r, slos) {
		c.good++
	}
	if !r.OK() {
		c.errors[r.Error]++
		if r.Error == bencher.ErrHTTPStatus {
			c.statuses[r.HTTPStatus]++
		}
		c.failedE2EL = append(c.failedE2EL, r.E2E())
		return
	}
	c.succeeded++
	c.inputTokens += r.InputTokens
	c.outputTokens += r.OutputTokens
	if r.TokenSource != "" {
		c.sources[r.TokenSource]++
	}
	c.addLatencies(r)
}

// addInterval records the request's in-flight intervals: [Scheduled, End)
// for the client view and [max(Sent, Scheduled), End) for the server view.
// A start after End (inconsistent times) is moved to End, leaving the
// interval empty.
func (c *collected) addInterval(r *bencher.Record) {
	scheduled := min(r.Scheduled, r.End)
	sent := min(max(r.Sent, r.Scheduled), r.End)
	c.clientBusy += r.End - scheduled
	c.serverBusy += r.End - sent
	c.scheduled = append(c.scheduled, scheduled)
	c.sent = append(c.sent, sent)
	c.endings = append(c.endings, r.End)
}

// addLatencies records the latencies of a successful request.
func (c *collected) addLatencies(r *bencher.Record) {
	c.queue = append(c.queue, r.QueueDelay())
	c.e2el = append(c.e2el, r.E2E())
	if ttft, ok := r.TTFT(); ok {
		c.ttft = append(c.ttft, ttft)
		serverTTFT, _ := r.ServerTTFT()
		c.serverTTFT = append(c.serverTTFT, serverTTFT)
	}
	if tpot, ok := tpotNS(r); ok {
		c.tpot = append(c.tpot, tpot)
	}
	if len(r.ChunkTimes) > 1 {
		c.chunks = append(c.chunks, r.ChunkTimes)
	}
}
