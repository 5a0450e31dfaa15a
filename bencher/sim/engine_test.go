package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// concurrently runs n streamed requests at once and returns their events.
func concurrently(t assert.TestingT, n int, url string, body func(i int) any) [][]event {
	out := make([][]event, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = doStream(url, body(i)) })
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	return out
}

// gauge reads a gauge in-process.
func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	_ = g.Write(&m)
	return m.GetGauge().GetValue()
}

// peaks polls the running and waiting gauges every millisecond until stop
// is closed, and returns their highest values.
func peaks(s *Server, stop <-chan struct{}) (running, waiting float64) {
	for {
		running = max(running, gauge(s.m.running))
		waiting = max(waiting, gauge(s.m.waiting))
		select {
		case <-stop:
			return running, waiting
		case <-time.After(time.Millisecond):
		}
	}
}

func TestContinuousBatching(t *testing.T) { // not parallel: timing-sensitive
	timing(t, func(c assert.TestingT) {
		rec := &records{}
		s, ts := start(t, WithMaxNumSeqs(2), WithDecodeTime(10*time.Millisecond, 0), WithPrefillTimePerToken(0), WithObserver(rec))
		stop := make(chan struct{})
		var maxRunning, maxWaiting float64
		polled := make(chan struct{})
		go func() { defer close(polled); maxRunning, maxWaiting = peaks(s, stop) }()
		results := concurrently(c, 5, ts.URL+PathCompletions, func(i int) any { return streamReq(words(i*100, 8), 20) })
		close(stop)
		<-polled
		for _, evs := range results {
			assert.Len(c, evs, 21, "20 tokens and [DONE]")
		}
		assert.Equal(c, 2.0, maxRunning, "at most MaxNumSeqs run")
		assert.Equal(c, 3.0, maxWaiting, "the rest wait")
		recs := rec.wait(c, 5)
		if len(recs) < 5 {
			return
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Scheduled.Before(recs[j].Scheduled) })
		firstFree := earliest(recs[0].Finished, recs[1].Finished)
		for _, r := range recs[2:] {
			assert.False(c, r.Scheduled.Before(firstFree), "later requests start only when a slot frees")
		}
		assert.Equal(c, 5.0, value(scrape(t, ts.URL), "vllm:request_success_total", "finished_reason", "length"))
		assert.Equal(c, 100.0, value(scrape(t, ts.URL), "vllm:generation_tokens_total"))
		assert.Eventually(c, func() bool { return gauge(s.m.running) == 0 && gauge(s.m.waiting) == 0 },
			time.Second, time.Millisecond, "gauges back to 0")
	})
}

// earliest is the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// meanTPOT is the mean time per output token of records.
func meanTPOT(recs []Record) time.Duration {
	if len(recs) == 0 {
		return 0
	}
	var sum time.Duration
	for _, r := range recs {
		sum += r.Finished.Sub(r.FirstToken) / time.Duration(r.OutputTokens-1)
	}
	return sum / time.Duration(len(recs))
}

func TestDecodeSlowsWithBatchSize(t *testing.T) { // not parallel: timing-sensitive
	timing(t, func(c assert.TestingT) {
		tpot := map[int]time.Duration{}
		for _, batch := range []int{1, 8} {
			rec := &records{}
			_, ts := start(t, WithDecodeTime(time.Millisecond, 3*time.Millisecond), WithPrefillTimePerToken(0), WithObserver(rec))
			concurrently(c, batch, ts.URL+PathCompletions, func(i int) any { return streamReq(words(i*10, 4), 6) })
			tpot[batch] = meanTPOT(rec.wait(c, batch))
		}
		assert.GreaterOrEqual(c, tpot[1], 4*time.Millisecond, "1 ms + 3 ms × 1 sequence")
		// 1 ms + 3 ms × 8 = 25 ms once all 8 run together.
		assert.Greater(c, tpot[8], 2*tpot[1], "decode slows as the batch grows (batch 1: %v, batch 8: %v)", tpot[1], tpot[8])
	})
}

func TestPrefillTime(t *testing.T) { // not parallel: timing-sensitive
	ttft := func(c assert.TestingT, opts []Option, prompts ...string) []time.Duration {
		rec := &records{}
		_, ts := start(t, append(opts, WithObserver(rec))...)
		for _, p := range prompts {
			_, err := doStream(ts.URL+PathCompletions, streamReq(p, 2))
			assert.NoError(c, err)
		}
		out := make([]time.Duration, len(prompts))
		for i, r := range rec.wait(c, len(prompts)) {
			out[i] = r.FirstToken.Sub(r.Arrived)
		}
		return out
	}
	long := words(0, 2000)
	t.Run("grows with uncached prompt tokens", func(t *testing.T) {
		timing(t, func(c assert.TestingT) {
			got := ttft(c, []Option{WithDecodeTime(0, 0), WithPrefillTimePerToken(20 * time.Microsecond)}, words(0, 10), long, long)
			assert.GreaterOrEqual(c, got[1], 40*time.Millisecond, "2000 uncached tokens × 20 µs")
			assert.Less(c, got[0], got[1]/4, "10 tokens")
			assert.Less(c, got[2], got[1]/4, "the same prompt again is a prefix-cache hit")
		})
	})
	t.Run("chunked prefill", func(t *testing.T) {
		timing(t, func(c assert.TestingT) {
			opts := []Option{WithDecodeTime(5*time.Millisecond, 0), WithPrefillTimePerToken(0), WithPrefixCaching(false)}
			one := ttft(c, opts, words(0, 100))
			chunked := ttft(c, append(opts, WithMaxNumBatchedTokens(16)), words(0, 100))
			assert.GreaterOrEqual(c, chunked[0], 35*time.Millisecond, "7 steps of 16 tokens")
			assert.Less(c, one[0], chunked[0], "one step of 100 tokens")
		})
	})
}

func TestPrefixCacheHits(t *testing.T) {
	t.Parallel()
	shared := words(0, 160)                              // 10 blocks of 16 tokens
	a, b := shared+words(500, 40), shared+words(900, 40) // 200 tokens each
	tests := []struct {
		name        string
		caching     bool
		prompts     []string
		wantQueries float64
		wantHits    float64
		wantCached  []int
	}{
		{"shared prefix", true, []string{a, b}, 400, 160, []int{0, 160}},
		{"same prompt: all but the last token's block", true, []string{a, a}, 400, 192, []int{0, 192}},
		{"no shared prefix", true, []string{a, words(2000, 200)}, 400, 0, []int{0, 0}},
		{"caching off", false, []string{a, a}, 0, 0, []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &records{}
			_, ts := start(t, WithZeroDelay(), WithPrefixCaching(tt.caching), WithObserver(rec))
			for _, p := range tt.prompts {
				runStream(t, ts.URL+PathCompletions, streamReq(p, 3))
			}
			mfs := scrape(t, ts.URL)
			assert.Equal(t, tt.wantQueries, value(mfs, "vllm:prefix_cache_queries_total"))
			assert.Equal(t, tt.wantHits, value(mfs, "vllm:prefix_cache_hits_total"))
			var cached []int
			for _, r := range rec.wait(t, len(tt.prompts)) {
				cached = append(cached, r.CachedTokens)
			}
			assert.Equal(t, tt.wantCached, cached)
		})
	}
}

func TestPreemption(t *testing.T) {
	t.Parallel()
	rec := &records{}
	s, ts := start(t, WithKVCacheTokens(128), WithDecodeTime(time.Millisecond, 0), WithPrefillTimePerToken(0), WithObserver(rec))
	var peak float64
	done, polled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(polled)
		for {
			peak = max(peak, gauge(s.m.kvUsage))
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	results := concurrently(t, 4, ts.URL+PathCompletions, func(i int) any { return streamReq(words(i*10, 10), 50) })
	close(done)
	<-polled
	for _, evs := range results {
		require.Len(t, evs, 51, "every request still gets all its tokens")
	}
	mfs := scrape(t, ts.URL)
	preemptions := value(mfs, "vllm:num_preemptions_total")
	assert.Positive(t, preemptions, "4 × (10 + 50) tokens do not fit in 128")
	total := 0
	for _, r := range rec.wait(t, 4) {
		total += r.Preemptions
		assert.Equal(t, 50, r.OutputTokens)
	}
	assert.Equal(t, preemptions, float64(total))
	eventually(t, time.Second, func() bool {
		return value(scrape(t, ts.URL), "vllm:kv_cache_usage_perc") == 0
	}, "all cache released")
	assert.LessOrEqual(t, peak, 1.0, "never more than the cache holds")
}

func TestClientDisconnectAborts(t *testing.T) {
	t.Parallel()
	_, ts := start(t, WithDecodeTime(5*time.Millisecond, 0))
	ctx, cancel := context.WithCancel(context.Background())
	resp := post(t, ctx, ts.URL+PathCompletions, streamReq("hello", 1000))
	buf := make([]byte, 10)
	_, err := resp.Body.Read(buf)
	require.NoError(t, err)
	cancel()
	resp.Body.Close()
	eventually(t, 5*time.Second, func() bool {
		mfs := scrape(t, ts.URL)
		return value(mfs, "vllm:request_success_total", "finished_reason", "abort") == 1 &&
			value(mfs, "vllm:num_requests_running") == 0
	}, "the engine drops a request whose client left")
}

func TestEngineIdleExits(t *testing.T) {
	t.Parallel()
	s, ts := start(t, WithZeroDelay())
	concurrently(t, 20, ts.URL+PathCompletions, func(i int) any { return streamReq(words(i, 20), 16) })
	eventually(t, 5*time.Second, func() bool {
		s.eng.mu.Lock()
		defer s.eng.mu.Unlock()
		return !s.eng.active
	}, "the engine goroutine exits when idle, so an idle server uses no CPU")
}

func TestFirstTokenTruth(t *testing.T) { // not parallel: timing-sensitive
	for _, early := range []bool{false, true} {
		t.Run(map[bool]string{false: "role chunk with first token", true: "early role chunk"}[early], func(t *testing.T) {
			timing(t, func(c assert.TestingT) { checkFirstTokenTruth(t, c, early) })
		})
	}
}

func checkFirstTokenTruth(t *testing.T, c assert.TestingT, early bool) {
	rec := &records{}
	_, ts := start(t, WithDecodeTime(2*time.Millisecond, 0), WithPrefillTimePerToken(50*time.Microsecond),
		WithEarlyRoleChunk(early), WithObserver(rec))
	body := func(i int) any {
		return map[string]any{"messages": []map[string]string{{"role": "user", "content": words(i*400, 400)}},
			"max_tokens": 4, "ignore_eos": true, "stream": true}
	}
	results := concurrently(c, 6, ts.URL+PathChatCompletions, body)
	rec.wait(c, 6)
	truth := rec.byID()
	for _, evs := range results {
		if !assert.Len(c, evs, 6, "role, 4 tokens, [DONE]") {
			continue
		}
		role, first := evs[0], evs[1]
		var ch chunk
		assert.NoError(c, json.Unmarshal([]byte(first.data), &ch))
		assert.NotEmpty(c, ch.content(), "the first token follows the role chunk")
		r, ok := truth[ch.ID]
		if !assert.True(c, ok, "a record for %s", ch.ID) {
			continue
		}
		assert.False(c, first.at.Before(r.FirstTokenSent), "a client cannot see the token before it is sent")
		assert.False(c, r.FirstTokenSent.Before(r.FirstToken))
		assert.False(c, r.FirstToken.Before(r.Scheduled))
		assert.False(c, r.Scheduled.Before(r.Arrived))
		assert.GreaterOrEqual(c, r.FirstToken.Sub(r.Arrived), 20*time.Millisecond, "400 prompt tokens × 50 µs")
		assert.Less(c, first.at.Sub(r.FirstTokenSent), 50*time.Millisecond, "truth and measurement agree")
		if early {
			assert.Greater(c, first.at.Sub(role.at), 10*time.Millisecond, "role chunk comes before prefill")
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	s := New(WithDecodeTime(10*time.Millisecond, 0))
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := s.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	resp, err := http.Get(base + PathHealth)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	stream := post(t, context.Background(), base+PathCompletions, streamReq("hi", 20))
	cancel()
	eventually(t, 2*time.Second, func() bool {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, PathHealth, nil))
		return w.Code == http.StatusServiceUnavailable
	}, "/health is 503 while shutting down")
	evs, err := readEvents(stream.Body)
	stream.Body.Close()
	require.NoError(t, err)
	assert.Len(t, evs, 21, "in-flight streams finish during the grace period")
	require.NoError(t, wait())
	_, err = http.Get(base + PathHealth)
	assert.Error(t, err, "stopped")
}
