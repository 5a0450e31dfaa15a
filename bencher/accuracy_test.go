package bencher

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Accuracy bounds. Timing: per request |measured − truth| at p99, over the
// floor that minimal reference readers measured at the same time (see
// reference: on an idle machine some hundreds of µs, more under load or in
// simultaneous bursts). Under the race detector, which slows every step of
// the client more than the reference's, the bound is raceSlack times
// larger. Throughput: the relative error.
const (
	maxTimingErrP99  = time.Millisecond * raceSlack
	maxThroughputErr = 0.01
)

// TestAccuracy compares the client's measurements with a server's record
// of when it wrote each token, over 200 concurrent streams of 16 tokens
// (the first at +20 ms, then one every 10 ms: 20,000 token events a second
// through a client that shares two cores with the server on a small test
// machine). The first wave of 200 requests, which also opens the 200
// connections, is warm-up and left out, as summaries leave warm-up out.
func TestAccuracy(t *testing.T) {
	skipUnderRace(t)
	const conc, warmup, reqs, tokens = 200, 200, 800, 16
	timing(t, func(c assert.TestingT) {
		srv, url := newTickServer(t, 20*time.Millisecond, 10*time.Millisecond, tokens)
		ref := startReference(url, refStreams, func(prompt string) string {
			return fmt.Sprintf(`{"model":"m","prompt":%q,"stream":true}`, prompt)
		})
		res, err := Run(context.Background(), WorkloadFunc(func(i int) Request {
			return Request{ID: fmt.Sprint(i), Prompt: fmt.Sprint("req-", i), MaxTokens: tokens}
		}), WithTarget(url), WithModel("m"), WithConcurrency(conc), WithRequests(reqs), WithWarmup(warmup))
		refReqs := ref.stop()
		require.NoError(t, err)
		prompts := make([]string, 0, reqs+len(refReqs))
		for i := range reqs {
			prompts = append(prompts, fmt.Sprint("req-", i))
		}
		for _, rr := range refReqs {
			prompts = append(prompts, rr.prompt)
		}
		truth := srv.wait(t, prompts)
		var m, floor measured
		for _, rec := range res.Records {
			require.True(t, rec.OK(), rec.ErrorMessage)
			require.Len(t, rec.ChunkTimes, tokens)
			if rec.Warmup {
				continue
			}
			tt := truth["req-"+rec.ID]
			require.NotNil(t, tt)
			m.ttft = append(m.ttft, rec.FirstToken-tt.tokens[0].Sub(res.Start))
			for k := 1; k < tokens; k++ {
				m.itl = append(m.itl, (rec.ChunkTimes[k]-rec.ChunkTimes[k-1])-tt.tokens[k].Sub(tt.tokens[k-1]))
			}
			m.win.add(res, &rec, tt.arrived, tt.done)
		}
		for _, rr := range refReqs {
			tt := truth[rr.prompt]
			require.NotNil(t, tt)
			require.Len(t, rr.times, tokens)
			floor.ttft = append(floor.ttft, rr.times[0].Sub(tt.tokens[0]))
			for k := 1; k < tokens; k++ {
				floor.itl = append(floor.itl, rr.times[k].Sub(rr.times[k-1])-tt.tokens[k].Sub(tt.tokens[k-1]))
			}
		}
		m.check(t, c, "tick server, 200 streams", &floor, maxTimingErrP99)
	})
}

// TestAccuracySim compares the client's TTFT with the simulator's own
// record of when it handed each first token to the connection, over 200
// concurrent streams. The simulator runs in a child process (this test
// binary, see TestMain), as a server would: in one process, its bursts of
// writes would hold up the client's goroutines in the shared Go scheduler,
// and the test would measure that instead of the client. Times are compared
// on the wall clock, which both processes read from the same system clock.
//
// Unlike the tick server, the simulator is a batch engine: every running
// sequence gets its token at the same instant, the end of an engine step,
// and any client must read the 200 events of a burst one after another. On
// a small machine the last of a burst is read 1 to 3 ms late whoever reads
// it; the reference readers measure that floor.
func TestAccuracySim(t *testing.T) {
	skipUnderRace(t)
	timing(t, func(c assert.TestingT) { accuracySim(t, c, 200, maxTimingErrP99) })
}

// accuracySim runs 3 waves of requests of 16 tokens at conc streams (the
// first wave is warm-up) against a simulator in a child process. Requests
// are told apart in the simulator's records by their prompt length, and
// the reference's by their response id.
func accuracySim(t *testing.T, c assert.TestingT, conc int, bound time.Duration) {
	const tokens = 16
	child := startSimChild(t)
	ref := startReference(child.base, refStreams*conc/200+1, func(string) string {
		return fmt.Sprintf(`{"model":%q,"prompt":"reference","max_tokens":%d,"ignore_eos":true,"stream":true}`, sim.DefaultModel, tokens)
	})
	res, err := Run(context.Background(), WorkloadFunc(func(i int) Request {
		return Request{Prompt: strings.Repeat("abcd", i+1), MaxTokens: tokens, IgnoreEOS: true}
	}), WithTarget(child.base), WithModel(sim.DefaultModel), WithConcurrency(conc), WithRequests(3*conc), WithWarmup(conc))
	refReqs := ref.stop()
	require.NoError(t, err)
	byPrompt, byID := map[int]simTruth{}, map[string]simTruth{}
	for _, tr := range child.stop(t) {
		byPrompt[tr.PromptTokens], byID[tr.ID] = tr, tr
	}
	var m, floor measured
	for _, rec := range res.Records {
		require.True(t, rec.OK(), rec.ErrorMessage)
		tr, ok := byPrompt[rec.InputTokens]
		require.True(t, ok, "server record of the request with %d prompt tokens", rec.InputTokens)
		require.Equal(t, rec.Index+1, tr.PromptTokens)
		if rec.Warmup {
			continue
		}
		m.ttft = append(m.ttft, time.Duration(res.Start.Add(rec.FirstToken).UnixNano()-tr.FirstTokenSent))
		m.win.add(res, &rec, time.Unix(0, tr.Arrived), time.Unix(0, tr.Done))
	}
	for _, rr := range refReqs {
		tr, ok := byID[rr.id]
		require.True(t, ok, "server record of reference request %q", rr.id)
		floor.ttft = append(floor.ttft, time.Duration(rr.times[0].UnixNano()-tr.FirstTokenSent))
	}
	m.check(t, c, fmt.Sprintf("simulator, %d streams", conc), &floor, bound)
}

// measured are the errors of a run's measurements against the truth.
type measured struct {
	ttft, itl []time.Duration
	win       windows
}

// check logs the error figures and checks them: p99 timing errors within
// bound of the reference's p99 (floor), the throughput within
// maxThroughputErr.
func (m *measured) check(t *testing.T, c assert.TestingT, what string, floor *measured, bound time.Duration) {
	t.Helper()
	ttft, floorTTFT := absErrStats(m.ttft), absErrStats(floor.ttft)
	t.Logf("%s: TTFT error %v (reference readers: %v, %d requests)", what, ttft, floorTTFT, len(floor.ttft))
	assert.LessOrEqual(c, ttft.p99, floorTTFT.p99+bound, "%s: TTFT error p99", what)
	if m.itl != nil {
		itl, floorITL := absErrStats(m.itl), absErrStats(floor.itl)
		t.Logf("%s: ITL error %v (reference readers: %v), %d gaps", what, itl, floorITL, len(m.itl))
		assert.LessOrEqual(c, itl.p99, floorITL.p99+bound, "%s: ITL error p99", what)
	}
	w := &m.win
	serverTput := float64(w.n) / w.sLast.Sub(w.sFirst).Seconds()
	clientTput := float64(w.n) / w.cLast.Sub(w.cFirst).Seconds()
	tputErr := clientTput/serverTput - 1
	t.Logf("%s: throughput %.2f req/s measured, %.2f req/s true (error %+.3f%%)", what, clientTput, serverTput, 100*tputErr)
	assert.LessOrEqual(c, max(tputErr, -tputErr), maxThroughputErr, "%s: throughput error", what)
}

func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("accuracy is measured without the race detector: go test -count=1 -run '^TestAccuracy' ./bencher/ (go tool mage test runs it)")
	}
}
