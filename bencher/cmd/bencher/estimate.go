package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/benchstation/benchstation/bencher/workload"
)

// estimator foretells how long the runs of a command take: a model of
// each run's length (waves of requests, each wave as long as one request)
// scaled by what the runs that finished took against what the model said
// of them. Against the built-in simulator the model knows the length of a
// request from the simulator's settings; against a real target it knows
// only the number of waves, and says nothing until a run has finished.
type estimator struct {
	model    []time.Duration // per spec; the number of waves when !absolute
	absolute bool
	done     int
	took     time.Duration // the runs that finished
	modelled time.Duration // what the model said of them
}

// newEstimator returns the estimator of specs.
func newEstimator(p *plan, specs []spec) *estimator {
	e := &estimator{absolute: p.o.target == ""}
	for _, sp := range specs {
		e.model = append(e.model, p.modelRun(sp, e.absolute))
	}
	return e
}

// modelRun returns the modelled length of a spec's run: the waves of
// concurrency requests (at most the simulator's batch), each as long as
// one request (when absolute: the simulator's prefill, then a decode step
// per output token, each step slower with the batch; plus the waits of
// injected 429s and the retries' backoff, spread over the batch).
func (p *plan) modelRun(sp spec, absolute bool) time.Duration {
	n := sp.requests
	if n == 0 {
		return p.o.duration
	}
	if sp.mode == modeBatchAPI {
		// A batch: every request at once, as many running as the server
		// gives batches (the simulator: its batch share of its sequences),
		// then up to one poll interval before a poll sees it end.
		c := n
		if absolute {
			c = min(n, max(1, int(float64(p.o.sim.maxNumSeqs)*p.o.sim.batchShare)))
		}
		sp.mode, sp.concurrency, sp.rate, sp.retries = modeOnline, c, 0, 0
		return p.modelRun(sp, absolute) + p.o.batchPoll
	}
	c := sp.concurrency
	if c <= 0 || sp.rate > 0 { // an open loop: as long as its schedule, at least
		if sp.rate > 0 {
			return time.Duration(float64(n) / sp.rate * float64(time.Second))
		}
		c = n
	}
	if !absolute {
		return time.Duration(math.Ceil(float64(n)/float64(c))) * time.Second
	}
	so := p.o.sim
	batch := min(c, so.maxNumSeqs, n)
	if so.zeroDelay {
		return time.Duration(n) * 200 * time.Microsecond
	}
	step := so.decodeTime + time.Duration(batch)*so.decodePerSeq
	in, out := meanTokens(p.o.input), meanTokens(p.o.output)
	one := time.Duration(in)*so.prefillPerToken + time.Duration(out)*step
	waves := math.Ceil(float64(n) / float64(batch))
	total := time.Duration(waves * float64(one))
	if sp.retries > 0 {
		f := so.faults
		wait := f.RateLimit*float64(f.RetryAfter) + f.ServerError*float64(sp.retryBase)
		total += time.Duration(float64(n) * wait / float64(batch))
	}
	return total
}

// meanTokens returns the mean of a length distribution, by sampling.
func meanTokens(d workload.Dist) float64 {
	if d.IsZero() {
		return 0
	}
	r := rand.New(rand.NewPCG(1, 2))
	sum := 0
	const n = 2000
	for range n {
		sum += d.Sample(r)
	}
	return float64(sum) / n
}

// total returns the estimate of all the runs, and whether there is one.
func (e *estimator) total() (time.Duration, bool) {
	return e.remaining(0)
}

// finished records that the next run finished after took.
func (e *estimator) finished(took time.Duration) {
	if e.done < len(e.model) {
		e.modelled += e.model[e.done]
		e.took += took
		e.done++
	}
}

// left returns the estimate of the runs not yet finished, and whether
// there is one.
func (e *estimator) left() (time.Duration, bool) { return e.remaining(e.done) }

// remaining estimates the runs from index from on.
func (e *estimator) remaining(from int) (time.Duration, bool) {
	var m time.Duration
	for _, d := range e.model[from:] {
		m += d
	}
	switch {
	case e.modelled > 0 && e.took > 0:
		return time.Duration(float64(m) * float64(e.took) / float64(e.modelled)), true
	case e.absolute:
		return m, true
	}
	return 0, false
}

// roughly formats an estimate: "about 12 min", "about 40s".
func roughly(d time.Duration) string {
	switch {
	case d >= 90*time.Second:
		return fmt.Sprintf("about %d min", int(math.Round(d.Minutes())))
	case d >= time.Second:
		return "about " + d.Round(time.Second).String()
	}
	return "under a second"
}
