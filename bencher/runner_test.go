package bencher

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/pacer"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowStream streams n tokens, one every gap (the first after gap too).
func slowStream(n int, gap time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		startSSE(w)
		for i := range n {
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
			if i == n-1 {
				events(w, finishChunk(" x", "length"), usageChunk(3, n), "[DONE]")
			} else {
				events(w, textChunk(" x"))
			}
		}
	}
}

// gauge counts requests in flight at a server and remembers the maximum.
type gauge struct {
	cur, max atomic.Int64
}

func (g *gauge) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := g.cur.Add(1)
		for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
		}
		defer g.cur.Add(-1)
		h(w, r)
	}
}

var oneReq = Requests{{Prompt: "p", MaxTokens: 4}}

// TestClosedLoopKeepsNInFlight: n workers keep n requests in flight, never
// more. The server holds each request until n are in flight at once (or
// 10 s pass, which only a runner keeping fewer would need), so that the
// check is about structure, not the machine's speed.
func TestClosedLoopKeepsNInFlight(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 8, 32} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			const waves = 4
			var g gauge
			full := make(chan struct{})
			var once sync.Once
			url := serve(t, g.wrap(func(w http.ResponseWriter, r *http.Request) {
				if g.cur.Load() >= int64(n) {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-time.After(10 * time.Second):
				}
				fullStream(w, 2)
			}))
			res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"),
				WithConcurrency(n), WithRequests(n*waves))
			require.NoError(t, err)
			assert.Equal(t, int64(n), g.max.Load(), "most requests in flight at the server")
			assert.Len(t, res.Records, n*waves)
			t.Logf("n=%d: run length %s", n, res.Duration())
			for _, rec := range res.Records {
				assert.True(t, rec.OK(), rec.ErrorMessage)
			}
		})
	}
}

// TestClosedLoopScheduledWhenFree: a worker's next request is scheduled
// when its previous one ended, so closed-loop TTFT holds no client
// queueing. Checked by order (scheduled after the previous end, sent after
// being scheduled); how close the times come is the machine's, so the
// bounds are generous.
func TestClosedLoopScheduledWhenFree(t *testing.T) {
	t.Parallel()
	url := serve(t, slowStream(2, 5*time.Millisecond))
	res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithConcurrency(1), WithRequests(10))
	require.NoError(t, err)
	require.Len(t, res.Records, 10)
	for i, rec := range res.Records {
		assert.Equal(t, i, rec.Index)
		assert.True(t, rec.OK(), rec.ErrorMessage)
		assert.GreaterOrEqual(t, rec.QueueDelay(), time.Duration(0), "sent after being scheduled")
		assert.Less(t, rec.QueueDelay(), time.Second, "scheduled just before sending")
		if i > 0 {
			prev := res.Records[i-1]
			assert.GreaterOrEqual(t, rec.Scheduled, prev.End, "scheduled once the worker was free")
			assert.Less(t, rec.Scheduled-prev.End, time.Second, "scheduled when the worker became free")
		}
	}
}

// TestOpenLoopRate: an open loop schedules its requests at the pacer's
// times exactly and never sends one early; each is dispatched once. How
// close to its time each is sent (the scheduler's lateness) depends on
// the machine's load: it is logged here, and measured by
// BenchmarkOpenLoopLateness and the accuracy tests, not asserted.
func TestOpenLoopRate(t *testing.T) {
	t.Parallel()
	const rate, n = 400.0, 300
	want := pacer.Schedule(mustGamma(t, rate, 1, 7), n)
	scheduled := float64(n-1) / (want[n-1] - want[0]).Seconds()
	assert.InEpsilon(t, rate, scheduled, 0.1, "the seeded schedule's own rate")
	var arr arrivals
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		arr.add(time.Now())
		fullStream(w, 1)
	})
	res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"),
		WithRate(rate), WithRequests(n), WithSeed(7))
	require.NoError(t, err)
	require.Len(t, res.Records, n)
	for i, rec := range res.Records {
		require.Equal(t, want[i], rec.Scheduled, "the pacer's schedule, exactly")
		assert.GreaterOrEqual(t, rec.Sent, rec.Scheduled, "never sent early")
		assert.True(t, rec.OK(), rec.ErrorMessage)
	}
	got := arr.all()
	require.Len(t, got, n)
	span := got[n-1].Sub(got[0])
	assert.False(t, got[n-1].Before(res.Start.Add(want[n-1])), "the last request arrived no earlier than its time")
	t.Logf("arrival rate %.1f/s for a schedule of %.1f/s", float64(n-1)/span.Seconds(), scheduled)
	require.NotNil(t, res.Lateness)
	assert.Equal(t, n, res.Lateness.Samples)
	assert.GreaterOrEqual(t, res.Lateness.P50, time.Duration(0))
	assert.LessOrEqual(t, res.Lateness.P50, res.Lateness.P99)
	assert.LessOrEqual(t, res.Lateness.P99, res.Lateness.Max)
	t.Logf("scheduler lateness: %+v", *res.Lateness)
	assert.Equal(t, ModeOpenLoop, res.Config.Mode)
	assert.Equal(t, 0, res.Config.Concurrency, "an open loop has no cap unless asked")
	assert.Equal(t, rate, res.Config.Rate)
	assert.Equal(t, 1.0, res.Config.Burstiness)
}

func mustGamma(t *testing.T, rate, shape float64, seed uint64) *pacer.Gamma {
	t.Helper()
	p, err := pacer.NewGamma(rate, shape, seed)
	require.NoError(t, err)
	return p
}

// TestOpenLoopCapShowsQueueing: at 100 requests/s with one slot and a
// server taking 20 ms each, requests queue in the client; TTFT counts from
// the scheduled time, so the queueing shows in it.
func TestOpenLoopCapShowsQueueing(t *testing.T) {
	t.Parallel()
	url := serve(t, slowStream(1, 20*time.Millisecond))
	var maxWaiting atomic.Int64
	var r *Runner
	r, err := NewRunner(WithTarget(url), WithModel("m"), WithRate(100), WithBurstiness(50), WithConcurrency(1),
		WithRequests(15), WithObserver(ObserverFunc(func(Record) {
			if w := r.Progress().Waiting; w > maxWaiting.Load() {
				maxWaiting.Store(w)
			}
		})))
	require.NoError(t, err)
	res, err := r.Run(context.Background(), oneReq)
	require.NoError(t, err)
	require.Len(t, res.Records, 15)
	last := res.Records[14]
	ttft, ok := last.TTFT()
	require.True(t, ok)
	// The server takes at least 20 ms a request, so the 15th cannot be sent
	// before 280 ms; it was scheduled at about 140 ms (a load only delays
	// the sending further).
	assert.Greater(t, last.QueueDelay(), 100*time.Millisecond, "the last request waited for a slot")
	assert.Equal(t, ttft, last.QueueDelay()+(last.FirstToken-last.Sent), "TTFT = client queue + server view")
	assert.GreaterOrEqual(t, last.FirstToken-last.Sent, 20*time.Millisecond)
	assert.Positive(t, maxWaiting.Load(), "requests waiting for a slot")
	// Sent in schedule order (the slots are handed out in order), one at a
	// time.
	for i := 1; i < len(res.Records); i++ {
		assert.GreaterOrEqual(t, res.Records[i].Sent, res.Records[i-1].End, "one request in flight at a time, in order")
	}
}

func TestDurationStops(t *testing.T) {
	t.Parallel()
	const d = 300 * time.Millisecond
	tests := []struct {
		name string
		opts []Option
	}{
		{"closed loop", []Option{WithConcurrency(3)}},
		{"open loop", []Option{WithRate(50), WithConcurrency(0)}},
		{"open loop with requests left", []Option{WithRate(50), WithRequests(1000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, slowStream(2, 10*time.Millisecond))
			opts := append([]Option{WithTarget(url), WithModel("m"), WithDuration(d)}, tt.opts...)
			res, err := Run(context.Background(), WorkloadFunc(func(i int) Request {
				return Request{ID: fmt.Sprint("r", i), Prompt: "p"}
			}), opts...)
			require.NoError(t, err)
			assert.Equal(t, StopDuration, res.StopReason)
			// Scheduling stops at d; the requests already sent are finished
			// (a loaded machine only makes that longer, hence the bound).
			assert.Less(t, res.Duration(), d+5*time.Second, "stopped")
			require.NotEmpty(t, res.Records)
			for i, rec := range res.Records {
				assert.Equal(t, i, rec.Index)
				assert.Equal(t, fmt.Sprint("r", i), rec.ID)
				assert.Less(t, rec.Scheduled, d, "nothing scheduled after the duration")
				assert.True(t, rec.OK(), rec.ErrorMessage)
				assert.LessOrEqual(t, rec.End, res.Duration())
			}
			assert.Equal(t, d, res.Config.Duration)
		})
	}
}

func TestWarmup(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 1) })
	res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithConcurrency(2), WithRequests(10), WithWarmup(3))
	require.NoError(t, err)
	for i, rec := range res.Records {
		assert.Equal(t, i < 3, rec.Warmup, "record %d", i)
	}
	assert.Equal(t, 3, res.Config.Warmup)
}

func TestMaxErrorRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failIf  func(n int64) bool // by arrival number, from 1
		warmup  int
		reason  StopReason
		records func(t *testing.T, n int)
	}{
		{
			name:   "every other request fails",
			failIf: func(n int64) bool { return n%2 == 0 },
			reason: StopMaxErrorRate,
			records: func(t *testing.T, n int) {
				assert.Less(t, n, 100, "stopped early")
				assert.GreaterOrEqual(t, n, 20, "not before the minimum sample")
			},
		},
		{
			name:    "failing warm-up requests do not count",
			failIf:  func(n int64) bool { return n <= 10 },
			warmup:  10,
			reason:  StopCompleted,
			records: func(t *testing.T, n int) { assert.Equal(t, 100, n) },
		},
		{
			name:    "a few failures stay under the limit",
			failIf:  func(n int64) bool { return n%10 == 0 },
			reason:  StopCompleted,
			records: func(t *testing.T, n int) { assert.Equal(t, 100, n) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var count atomic.Int64
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.failIf(count.Add(1)) {
					w.WriteHeader(500)
					return
				}
				fullStream(w, 1)
			})
			res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithConcurrency(4),
				WithRequests(100), WithWarmup(tt.warmup), WithMaxErrorRate(0.2, 20))
			require.NoError(t, err)
			assert.Equal(t, tt.reason, res.StopReason)
			tt.records(t, len(res.Records))
			for i, rec := range res.Records {
				assert.Equal(t, i, rec.Index, "no gaps")
				assert.NotEqual(t, ErrCanceled, rec.Error, "requests in flight were finished")
			}
			assert.Equal(t, 0.2, res.Config.MaxErrorRate)
			assert.Equal(t, 20, res.Config.MinErrorSample)
		})
	}
}

// TestMaxErrorRateOpenLoopDropsQueued: requests queued for a slot when the
// error rate stops an open loop are recorded as never sent (ErrNotSent).
func TestMaxErrorRateOpenLoopDropsQueued(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(503)
	})
	res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithRate(1000), WithConcurrency(2),
		WithRequests(200), WithMaxErrorRate(0.5, 5))
	require.NoError(t, err)
	assert.Equal(t, StopMaxErrorRate, res.StopReason)
	unsent := 0
	for i, rec := range res.Records {
		assert.Equal(t, i, rec.Index)
		if rec.Attempts == 0 {
			unsent++
			assert.Equal(t, ErrNotSent, rec.Error)
			assert.Equal(t, "not sent: the run stopped (max_error_rate)", rec.ErrorMessage)
		}
	}
	assert.Positive(t, unsent)
	assert.Equal(t, int(sent.Load()), len(res.Records)-unsent)
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
	}{
		{"closed loop", []Option{WithConcurrency(4)}},
		{"open loop with a cap", []Option{WithRate(200), WithConcurrency(3)}},
		{"closed loop while waiting to retry", []Option{WithConcurrency(2), WithRetries(5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := slowStream(20, 25*time.Millisecond)
			var count atomic.Int64
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(tt.name, "retry") && count.Add(1) > 2 {
					w.Header().Set("Retry-After", "30")
					w.WriteHeader(503)
					return
				}
				h(w, r)
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := append([]Option{WithTarget(url), WithModel("m"), WithRequests(100)}, tt.opts...)
			r, err := NewRunner(opts...)
			require.NoError(t, err)
			var begin time.Time
			go func() {
				// Interrupt once requests are in flight, however slow the
				// machine.
				for r.Progress().InFlight == 0 && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
				begin = time.Now()
				cancel()
			}()
			res, err := r.Run(ctx, oneReq)
			require.NoError(t, err)
			assert.Less(t, time.Since(begin), 10*time.Second, "returned promptly")
			assert.Equal(t, StopInterrupted, res.StopReason)
			assert.True(t, res.Interrupted())
			require.NotEmpty(t, res.Records)
			assert.Less(t, len(res.Records), 100)
			canceled := 0
			for i, rec := range res.Records {
				assert.Equal(t, i, rec.Index, "no gaps")
				if rec.Error == ErrCanceled {
					canceled++
				}
			}
			assert.Positive(t, canceled, "requests in flight are marked canceled")
		})
	}
}

func TestRecordsInOrderWithObserverAndProgress(t *testing.T) {
	t.Parallel()
	var count atomic.Int64
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := count.Add(1)
		time.Sleep(time.Duration(n%5) * time.Millisecond)
		if n%7 == 0 {
			w.WriteHeader(500)
			return
		}
		fullStream(w, 2)
	})
	var mu sync.Mutex
	seen := map[int]bool{}
	r, err := NewRunner(WithTarget(url), WithModel("m"), WithConcurrency(8), WithRequests(60),
		WithObserver(ObserverFunc(func(rec Record) {
			mu.Lock()
			defer mu.Unlock()
			assert.False(t, seen[rec.Index], "observed once")
			seen[rec.Index] = true
		})))
	require.NoError(t, err)
	res, err := r.Run(context.Background(), Requests{{ID: "a", Prompt: "p"}, {ID: "b", Prompt: "q"}})
	require.NoError(t, err)
	require.Len(t, res.Records, 60)
	failed := 0
	for i, rec := range res.Records {
		assert.Equal(t, i, rec.Index)
		assert.Equal(t, []string{"a", "b"}[i%2], rec.ID, "the workload cycles")
		if i > 0 {
			assert.GreaterOrEqual(t, rec.Scheduled, res.Records[i-1].Scheduled, "schedule order")
		}
		if !rec.OK() {
			failed++
		}
	}
	assert.Len(t, seen, 60)
	assert.Equal(t, Progress{Scheduled: 60, Finished: 60, Failed: int64(failed)}, r.Progress())
}

func TestRunnerBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		fullStream(w, 1)
	})
	r, err := NewRunner(WithTarget(url), WithModel("m"), WithRequests(1))
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		_, err := r.Run(context.Background(), oneReq)
		done <- err
	}()
	require.Eventually(t, func() bool { return r.Progress().InFlight == 1 }, 5*time.Second, time.Millisecond)
	_, err = r.Run(context.Background(), oneReq)
	assert.ErrorIs(t, err, ErrRunning)
	close(release)
	require.NoError(t, <-done)
}

func TestRunDetectsModel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _, err := sim.New(sim.WithZeroDelay()).Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	res, err := Run(ctx, oneReq, WithTarget(base+"/v1"), WithRequests(3), WithAPI(APIChat))
	require.NoError(t, err)
	assert.Equal(t, sim.DefaultModel, res.Config.Model)
	for _, rec := range res.Records {
		assert.True(t, rec.OK(), rec.ErrorMessage)
	}
}

func TestRunRecordsPromptsWithOutputs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _, err := sim.New(sim.WithZeroDelay()).Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	chat := WorkloadFunc(func(i int) Request {
		return Request{ID: fmt.Sprint(i), Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: fmt.Sprint("q", i)}}, MaxTokens: 4}
	})
	for _, tc := range []struct {
		name    string
		outputs bool
		want    string
	}{
		{"recorded", true, "system: be brief\nuser: q1"},
		{"not recorded", false, ""},
	} {
		res, err := Run(ctx, chat, WithTarget(base+"/v1"), WithRequests(2), WithAPI(APIChat), WithRecordOutputs(tc.outputs))
		require.NoError(t, err, tc.name)
		rec := res.Records[1]
		require.True(t, rec.OK(), rec.ErrorMessage)
		assert.Equal(t, tc.want, rec.Prompt, tc.name)
		assert.Equal(t, tc.outputs, rec.Output != "", tc.name)
	}
}

func TestPromptText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "hello", (&Request{Prompt: "hello"}).PromptText())
	assert.Equal(t, "user: hi", (&Request{Messages: []Message{{Role: "user", Content: "hi"}}}).PromptText())
	assert.Equal(t, `{"messages":[]}`, (&Request{Prompt: "x", Body: []byte(`{"messages":[]}`)}).PromptText(), "a batch body is sent as it is")
}

func TestRunnerInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"closed loop without workers", []Option{WithConcurrency(0)}, "a closed loop (no rate) needs a concurrency >= 1"},
		{"negative rate", []Option{WithRate(-1)}, "rate -1 must be a finite number >= 0"},
		{"burstiness", []Option{WithRate(1), WithBurstiness(0)}, "burstiness 0 must be a finite number > 0"},
		{"several", []Option{WithRequests(-1), WithWarmup(-2), WithRetries(-3)},
			"requests -1 must be >= 0\nwarm-up -2 must be >= 0\nretries -3 must be >= 0"},
		{"backoff", []Option{WithBackoff(time.Second, time.Millisecond)}, "backoff base 1s and max 1ms must satisfy 0 <= base <= max"},
		{"error rate", []Option{WithMaxErrorRate(1.5, 0)}, "max error rate 1.5 must be in [0, 1]"},
		{"timeout", []Option{WithTimeout(-time.Second)}, "timeout -1s must be >= 0"},
		{"URL", []Option{WithTarget("localhost")}, `target URL must be http(s)://host[:port]/v1, got "localhost"`},
		{"API", []Option{WithAPI("x")}, `unknown API "x" (want "completions" or "chat")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewRunner(tt.opts...)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.EqualError(t, err, "bencher: invalid configuration: "+tt.want)
		})
	}
	t.Run("no limit", func(t *testing.T) {
		t.Parallel()
		_, err := Run(context.Background(), WorkloadFunc(func(int) Request { return Request{} }), WithModel("m"))
		assert.EqualError(t, err, "bencher: invalid configuration: set a number of requests or a duration (the workload has no length)")
		_, err = Run(context.Background(), nil, WithModel("m"))
		assert.EqualError(t, err, "bencher: invalid configuration: no workload")
	})
}

func TestResultJSON(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })
	target := strings.Replace(url, "http://", "http://bob:pw@", 1) + "/?token=x"
	res, err := Run(context.Background(), oneReq, WithTarget(target), WithModel("m"), WithRequests(2), WithAPIKey("sk-zzz"),
		WithHeader("X-Secret", "hdr-value"), WithSeed(9))
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	for _, s := range []string{"bob", "pw@", "token=x", "sk-zzz", "hdr-value"} {
		assert.NotContains(t, string(b), s)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.ElementsMatch(t, []string{"start", "end", "stop_reason", "config", "prewarm", "clock_source", "client", "records"}, keys(doc))
	assert.Equal(t, map[string]any{
		"target": url, "api": "completions", "model": "m", "stream": true, "mode": "closed_loop",
		"concurrency": 1.0, "requests": 2.0, "duration_ns": 0.0, "warmup": 0.0, "timeout_ns": float64(DefaultTimeout),
		"idle_timeout_ns": float64(DefaultIdleTimeout), "prewarm_connections": 1.0,
		"retries": 0.0, "retry_base_ns": float64(DefaultRetryBase), "retry_max_ns": float64(DefaultRetryMax), "seed": 9.0,
	}, doc["config"])
	assert.Equal(t, "completed", doc["stop_reason"])
	rec := doc["records"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"index", "scheduled_ns", "sent_ns", "first_token_ns", "end_ns", "chunk_times_ns",
		"input_tokens", "output_tokens", "token_source", "attempts", "http_status", "finish_reason"}, keys(rec))
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestInterruptedOpenLoopNotSent: an open loop interrupted while requests
// wait for a slot records them as never sent (ErrNotSent, no attempt),
// apart from the failures (issue #12, point 6).
func TestInterruptedOpenLoopNotSent(t *testing.T) {
	t.Parallel()
	url := serve(t, slowStream(2, 10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := NewRunner(WithTarget(url), WithModel("m"), WithRate(1000), WithConcurrency(1), WithRequests(200))
	require.NoError(t, err)
	go func() {
		// Interrupt once requests queue for the slot, however slow the
		// machine.
		for r.Progress().Waiting < 5 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res, err := r.Run(ctx, oneReq)
	require.NoError(t, err)
	assert.Equal(t, StopInterrupted, res.StopReason)
	notSent, failed := 0, 0
	for i, rec := range res.Records {
		assert.Equal(t, i, rec.Index, "no gaps")
		switch {
		case rec.NotSent():
			notSent++
			assert.Zero(t, rec.Attempts)
			assert.Zero(t, rec.Sent)
			assert.False(t, rec.Failed(), "never sent is no failure")
			assert.Equal(t, "not sent: the run stopped (interrupted)", rec.ErrorMessage)
		case rec.Failed():
			failed++
			assert.Positive(t, rec.Attempts)
		}
	}
	assert.GreaterOrEqual(t, notSent, 4, "the requests that waited for the slot")
	p := r.Progress()
	assert.Equal(t, int64(notSent), p.NotSent)
	assert.Equal(t, int64(failed), p.Failed, "progress counts never-sent requests apart")
	assert.Equal(t, int64(len(res.Records)), p.Finished)
}

// TestOpenLoopCapServesInScheduleOrder: with a concurrency cap, the slots
// go to the waiting requests strictly in schedule order. The schedule is
// due all at once (a huge rate), so that the requests' goroutines would
// race for the slot if they competed for it (issue #12, point 8: out of
// order in up to 28 % of runs under load).
func TestOpenLoopCapServesInScheduleOrder(t *testing.T) {
	t.Parallel()
	const n = 40
	var arr arrivals
	var order []int
	var mu sync.Mutex
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		m := bodyOf(t, r)
		arr.add(time.Now())
		mu.Lock()
		var i int
		fmt.Sscan(strings.TrimPrefix(m["prompt"].(string), "p"), &i)
		order = append(order, i)
		mu.Unlock()
		fullStream(w, 1)
	})
	for round := range 3 {
		mu.Lock()
		order = order[:0]
		mu.Unlock()
		res, err := Run(context.Background(), WorkloadFunc(func(i int) Request {
			return Request{ID: fmt.Sprint(i), Prompt: fmt.Sprint("p", i)}
		}), WithTarget(url), WithModel("m"), WithRate(1e9), WithConcurrency(1), WithRequests(n), WithSeed(uint64(round)))
		require.NoError(t, err)
		require.Len(t, res.Records, n)
		bySent := slices.SortedFunc(slices.Values(res.Records), func(a, b Record) int { return cmp.Compare(a.Sent, b.Sent) })
		for i, rec := range bySent {
			require.Equal(t, i, rec.Index, "round %d: the %d-th request sent is request %d", round, i, rec.Index)
			require.True(t, rec.OK(), rec.ErrorMessage)
		}
		mu.Lock()
		require.Equal(t, n, len(order))
		for i, got := range order {
			require.Equal(t, i, got, "round %d: arrival order at the server", round)
		}
		mu.Unlock()
	}
}

// TestPrewarmOpensThePoolBeforeTheStart: before the first scheduled
// request, the runner opens as many keep-alive connections as requests may
// be in flight, so that the first wave's requests find them open and the
// connecting is not measured (issue #12, point 9); WithPrewarm(false)
// leaves them cold.
func TestPrewarmOpensThePoolBeforeTheStart(t *testing.T) {
	t.Parallel()
	const conc = 8
	type seen struct {
		mu          sync.Mutex
		warm        map[string]bool // remote addresses of GET /models
		warmLast    time.Time
		posts       []string
		connections int
	}
	start := func(t *testing.T) (*seen, string) {
		s := &seen{warm: map[string]bool{}}
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			if r.Method == http.MethodGet {
				s.warm[r.RemoteAddr], s.warmLast = true, time.Now()
				assert.Equal(t, "/v1/models", r.URL.Path)
				assert.Equal(t, "Bearer sk-k", r.Header.Get("Authorization"), "the run's credentials")
				s.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"data":[{"id":"m"}]}`)
				return
			}
			s.posts = append(s.posts, r.RemoteAddr)
			s.mu.Unlock()
			fullStream(w, 2)
		}))
		ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.mu.Lock()
				s.connections++
				s.mu.Unlock()
			}
		}
		ts.Start()
		t.Cleanup(ts.Close)
		return s, ts.URL + "/v1"
	}

	t.Run("warm", func(t *testing.T) {
		t.Parallel()
		s, url := start(t)
		res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithAPIKey("sk-k"),
			WithConcurrency(conc), WithRequests(conc))
		require.NoError(t, err)
		require.NotNil(t, res.Prewarm)
		assert.Equal(t, conc, res.Prewarm.Connections)
		assert.Equal(t, conc, res.Prewarm.Opened, "one new connection per slot")
		assert.Empty(t, res.Prewarm.Error)
		assert.Equal(t, conc, res.Config.PrewarmConnections)
		s.mu.Lock()
		defer s.mu.Unlock()
		assert.Len(t, s.warm, conc, "as many connections as the concurrency")
		assert.True(t, s.warmLast.Before(res.Start), "opened before the run's clock started")
		require.Len(t, s.posts, conc)
		for _, addr := range s.posts {
			assert.True(t, s.warm[addr], "request sent on a connection opened beforehand")
		}
		assert.Equal(t, conc, s.connections, "no connection opened during the run")
		for _, rec := range res.Records {
			assert.True(t, rec.OK(), rec.ErrorMessage)
		}
	})
	t.Run("cold", func(t *testing.T) {
		t.Parallel()
		s, url := start(t)
		res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithAPIKey("sk-k"),
			WithConcurrency(conc), WithRequests(conc), WithPrewarm(false))
		require.NoError(t, err)
		assert.Nil(t, res.Prewarm)
		assert.Zero(t, res.Config.PrewarmConnections)
		s.mu.Lock()
		defer s.mu.Unlock()
		assert.Empty(t, s.warm)
		assert.Len(t, s.posts, conc)
	})
	t.Run("open loop without a cap: a second of arrivals, at most the requests", func(t *testing.T) {
		t.Parallel()
		_, url := start(t)
		res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithAPIKey("sk-k"), WithRate(5), WithRequests(3))
		require.NoError(t, err)
		require.NotNil(t, res.Prewarm)
		assert.Equal(t, 3, res.Prewarm.Connections)
		res, err = Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithAPIKey("sk-k"), WithRate(2.5), WithRequests(4))
		require.NoError(t, err)
		require.NotNil(t, res.Prewarm)
		assert.Equal(t, 3, res.Prewarm.Connections)
	})
	t.Run("a refused target costs a warning, not the run", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.NotFoundHandler())
		url := ts.URL + "/v1"
		ts.Close()
		res, err := Run(context.Background(), oneReq, WithTarget(url), WithModel("m"), WithConcurrency(2), WithRequests(2))
		require.NoError(t, err)
		require.NotNil(t, res.Prewarm)
		assert.Zero(t, res.Prewarm.Opened)
		assert.Contains(t, res.Prewarm.Error, "prewarming the connections: ")
		for _, rec := range res.Records {
			assert.Equal(t, ErrConnection, rec.Error)
		}
	})
}
