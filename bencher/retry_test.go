package bencher

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 8, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Thursday, 14-Aug-25 12:00:07 GMT", 7 * time.Second, true}, // RFC 850
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRetryAfter(tt.in, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestBackoffExponentialWithJitter: the wait before retry k is the
// documented schedule min(max, base·2^(k−1)) stretched by up to 15 %, never
// shorter (issue #12, point 13: "1 s, doubling" meant no retry under 1 s).
func TestBackoffExponentialWithJitter(t *testing.T) {
	t.Parallel()
	p := retryPolicy{max: 10, base: 100 * time.Millisecond, ceiling: time.Second, maxRetryAfter: 5 * time.Second, seed: 1}
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for k, ceil := range ceilings {
		ceil *= time.Millisecond
		attempt := k + 1
		var sum time.Duration
		const n = 4000
		for i := range n {
			d := p.delay(i, attempt, attemptResult{retryable: true})
			require.GreaterOrEqual(t, d, ceil, "attempt %d: never under the schedule", attempt)
			require.LessOrEqual(t, d, ceil+ceil*15/100, "attempt %d: at most 15 %% over", attempt)
			require.Equal(t, d, p.delay(i, attempt, attemptResult{retryable: true}), "deterministic")
			sum += d
		}
		assert.InEpsilon(t, float64(ceil)*1.075, float64(sum/n), 0.01, "uniform stretch: mean")
	}
	other := p
	other.seed = 2
	assert.NotEqual(t, p.delay(0, 1, attemptResult{}), other.delay(0, 1, attemptResult{}), "the seed changes the jitter")
	assert.Equal(t, 3*time.Second, p.delay(0, 1, attemptResult{hasRetryAfter: true, retryAfter: 3 * time.Second}))
	assert.Equal(t, 5*time.Second, p.delay(0, 1, attemptResult{hasRetryAfter: true, retryAfter: time.Hour}), "capped")
	assert.Equal(t, time.Duration(0), p.delay(0, 1, attemptResult{hasRetryAfter: true}))
}

// flaky answers with the handlers in turn, the last one for ever after,
// and records when each request arrived.
func flaky(t *testing.T, arr *arrivals, hs ...http.HandlerFunc) string {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := arr.add(time.Now())
		hs[min(n, len(hs))-1](w, r)
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	fail500 := errorBody(500, nil, `{"error":{"message":"boom","type":"InternalServerError","code":500}}`)
	ok := func(w http.ResponseWriter, r *http.Request) { fullStream(w, 4) }
	midStream := func(w http.ResponseWriter, r *http.Request) { hijackStream(w, r, textChunk(" a"), textChunk(" b")) }
	tests := []struct {
		name     string
		handlers []http.HandlerFunc
		retries  int
		class    ErrorClass
		attempts int
		message  string
	}{
		{name: "500s then success", handlers: []http.HandlerFunc{fail500, fail500, ok}, retries: 3, attempts: 3},
		{name: "connection closed mid-stream then success", handlers: []http.HandlerFunc{midStream, ok}, retries: 1, attempts: 2},
		{name: "retries exhausted", handlers: []http.HandlerFunc{fail500}, retries: 2, attempts: 3,
			class: ErrHTTPStatus, message: "server error: boom (type InternalServerError, code 500)"},
		{name: "no retry on 400", retries: 3, attempts: 1, class: ErrHTTPStatus, message: "server error: bad (code 400)",
			handlers: []http.HandlerFunc{errorBody(400, nil, `{"error":{"message":"bad","code":400}}`), ok}},
		{name: "no retry on an error event", retries: 3, attempts: 1, class: ErrStream, message: "server error: died",
			handlers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, `{"error":{"message":"died"}}`)
			}, ok}},
		{name: "no retry on invalid answers", retries: 3, attempts: 1, class: ErrInvalidResponse, message: "answer without choices",
			handlers: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{}`)
			}, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var arr arrivals
			url := flaky(t, &arr, tt.handlers...)
			start := time.Now()
			c, err := NewClient(WithTarget(url), WithModel("m"), WithRetries(tt.retries), WithBackoff(time.Millisecond, 5*time.Millisecond))
			require.NoError(t, err)
			defer c.Close()
			rec := Record{Scheduled: 0}
			c.Do(context.Background(), &Request{Prompt: "p", MaxTokens: 4}, &rec, start)
			assert.Equal(t, tt.class, rec.Error)
			assert.Equal(t, tt.message, rec.ErrorMessage)
			assert.Equal(t, tt.attempts, rec.Attempts)
			got := arr.all()
			require.Len(t, got, tt.attempts, "requests the server saw")
			assert.Less(t, start.Add(rec.Sent), got[0], "Sent is the first attempt's send time")
			if tt.class == ErrNone {
				assert.Len(t, rec.ChunkTimes, 4, "only the last attempt's chunks")
				assert.Greater(t, start.Add(rec.FirstToken), got[len(got)-1])
				assert.Equal(t, 200, rec.HTTPStatus)
			}
		})
	}
}

// TestRetryAfterHonoured: a 429 or 503 with Retry-After delays the retry
// by that much, whatever the (tiny) backoff.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		header   func() string
		min, max time.Duration
	}{
		// The upper bounds are generous: a loaded machine delays the retry,
		// never advances it.
		{"429 seconds", 429, func() string { return "1" }, time.Second, 5 * time.Second},
		// An HTTP date has whole seconds: now+2s truncated is 1 to 2 s away.
		{"503 HTTP date", 503, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, time.Second, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timing(t, func(c assert.TestingT) {
				var arr arrivals
				url := flaky(t, &arr, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", tt.header())
					w.WriteHeader(tt.status)
				}, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })
				rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithRetries(1),
					WithBackoff(time.Millisecond, time.Millisecond))
				assert.True(c, rec.OK(), rec.ErrorMessage)
				assert.Equal(c, 2, rec.Attempts)
				got := arr.all()
				if assert.Len(c, got, 2) {
					gap := got[1].Sub(got[0])
					assert.GreaterOrEqual(c, gap, tt.min, "gap between attempts")
					assert.LessOrEqual(c, gap, tt.max, "gap between attempts")
				}
			})
		})
	}
}

// TestPerAttemptSendTimes: a retried request keeps the send time of each
// attempt; its server view (ServerTTFT) starts at the send of the attempt
// that succeeded, not at the 429 before it and its Retry-After wait, while
// TTFT still counts from the scheduled time (issue #12, point 7).
func TestPerAttemptSendTimes(t *testing.T) {
	t.Parallel()
	var arr arrivals
	url := flaky(t, &arr, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(429)
	}, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })
	rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithRetries(2),
		WithBackoff(time.Millisecond, time.Millisecond))
	require.True(t, rec.OK(), rec.ErrorMessage)
	require.Equal(t, 2, rec.Attempts)
	require.Len(t, rec.AttemptSent, 2, "one send time per attempt")
	assert.Equal(t, rec.Sent, rec.AttemptSent[0], "the first is Sent")
	assert.Equal(t, rec.AttemptSent[1], rec.LastSent())
	assert.GreaterOrEqual(t, rec.AttemptSent[1]-rec.AttemptSent[0], time.Second, "the Retry-After wait is between the sends")
	serverTTFT, ok := rec.ServerTTFT()
	require.True(t, ok)
	assert.Equal(t, rec.FirstToken-rec.AttemptSent[1], serverTTFT)
	assert.Less(t, serverTTFT, time.Second, "the 429 and its wait are not in the server view")
	ttft, ok := rec.TTFT()
	require.True(t, ok)
	assert.GreaterOrEqual(t, ttft, time.Second, "TTFT counts from the scheduled time")
	got := arr.all()
	require.Len(t, got, 2)

	// One attempt: no list, LastSent is Sent.
	one := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })))
	require.True(t, one.OK(), one.ErrorMessage)
	assert.Nil(t, one.AttemptSent)
	assert.Equal(t, one.Sent, one.LastSent())
}

// TestNotSentWhenCanceledFirst: a request whose context is done before its
// first attempt is never sent: ErrNotSent, no attempt.
func TestNotSentWhenCanceledFirst(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); fullStream(w, 1) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := sendOne(t, ctx, Request{Prompt: "p"}, WithTarget(url))
	assert.Equal(t, ErrNotSent, rec.Error)
	assert.True(t, rec.NotSent())
	assert.False(t, rec.Failed())
	assert.Zero(t, rec.Attempts)
	assert.Zero(t, calls.Load())
}

func TestRetryWaitInterrupted(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(429)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	begin := time.Now()
	rec := sendOne(t, ctx, Request{Prompt: "p"}, WithTarget(url), WithRetries(3))
	assert.Less(t, time.Since(begin), 10*time.Second)
	assert.Equal(t, ErrCanceled, rec.Error)
	assert.Equal(t, "run interrupted while waiting to retry after: HTTP 429 Too Many Requests", rec.ErrorMessage)
	assert.Equal(t, 1, rec.Attempts)
	assert.EqualValues(t, 1, calls.Load())
}

// TestInngestProfile: the "Inngest-style" profile of the design notes, 10
// concurrent requests each retried with backoff, against the simulator
// injecting 5xx answers and aborted streams: every request ends well.
func TestInngestProfile(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := sim.New(sim.WithDecodeTime(time.Millisecond, 0), sim.WithFaults(sim.Faults{ServerError: 0.15, Abort: 0.1}))
	base, _, err := srv.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	res, err := Run(ctx, Requests{{Prompt: "hello", MaxTokens: 8, IgnoreEOS: true}},
		WithTarget(base+"/v1"), WithConcurrency(10), WithRequests(100),
		WithRetries(8), WithBackoff(time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)
	require.Len(t, res.Records, 100)
	retried := 0
	for _, rec := range res.Records {
		assert.True(t, rec.OK(), "%d: %s", rec.Index, rec.ErrorMessage)
		assert.Equal(t, 8, rec.OutputTokens)
		if rec.Attempts > 1 {
			retried++
		}
	}
	assert.Greater(t, retried, 5, "some requests were retried")
	assert.Equal(t, StopCompleted, res.StopReason)
	assert.Equal(t, 8, res.Config.Retries)
}
