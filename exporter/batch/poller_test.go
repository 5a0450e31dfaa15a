package batch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/batch/batchtest"
	"github.com/benchstation/benchstation/internal/secret"
)

func TestPollPaginates(t *testing.T) {
	t.Parallel()
	var bs []batch.Batch
	for i := range 7 {
		bs = append(bs, batchtest.Batch(fmt.Sprintf("b%d", i+1), batch.StatusInProgress, ts(-time.Duration(i)*time.Minute), 10, int64(i), 0))
	}
	srv := batchtest.NewServer(t, testKey, bs...)
	clock := newClock()
	p := newPoller(t, srv.URL, clock, batch.Config{PageSize: 3}, nil)

	require.NoError(t, p.Poll(t.Context()))
	assert.Equal(t, []string{"limit=3", "after=b3&limit=3", "after=b6&limit=3"}, srv.Requests())
	d := p.Snapshot().Data(clock.Now())
	require.NotNil(t, d)
	assert.Equal(t, 7, d.Listed)
	assert.Equal(t, 7, d.Count(batch.StatusInProgress))
	require.Len(t, d.Tracked, 7)
	assert.Equal(t, "b1", d.Tracked[0].ID, "newest created first")
	assert.Equal(t, batch.RequestCounts{Total: 10, Completed: 6}, d.Tracked[6].Requests)
}

func TestEveryStatusIsCounted(t *testing.T) {
	t.Parallel()
	var bs []batch.Batch
	for i, st := range []batch.Status{"validating", "failed", "in_progress", "finalizing", "completed",
		"expired", "cancelling", "cancelled", "paused", "in_progress"} {
		bs = append(bs, batchtest.Batch(fmt.Sprintf("b%d", i), st, ts(-time.Hour)))
	}
	srv := batchtest.NewServer(t, testKey, bs...)
	clock := newClock()
	p := newPoller(t, srv.URL, clock, batch.Config{}, nil)
	require.NoError(t, p.Poll(t.Context()))
	d := p.Snapshot().Data(clock.Now())
	require.NotNil(t, d)
	want := map[batch.Status]int{"in_progress": 2, "unknown": 1}
	for _, st := range batch.Statuses() {
		assert.Equal(t, max(want[st], 1), d.Count(st), "status %s", st)
	}
	for _, tr := range d.Tracked {
		if tr.ID == "b8" {
			assert.Equal(t, batch.StatusUnknown, tr.Status, "paused is reported as unknown")
		}
	}
}

func TestBatchesAppearAndFinishBetweenPolls(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey,
		batchtest.Batch("a", batch.StatusInProgress, ts(-time.Hour), 100, 40, 1),
		batchtest.Batch("old", batch.StatusCompleted, ts(-72*time.Hour), 5, 5, 0))
	clock := newClock()
	p := newPoller(t, srv.URL, clock, batch.Config{}, nil)
	poll := func() *batch.Summary {
		t.Helper()
		require.NoError(t, p.Poll(t.Context()))
		d := p.Snapshot().Data(clock.Now())
		require.NotNil(t, d)
		return d
	}
	ids := func(d *batch.Summary) (out []string) {
		for _, tr := range d.Tracked {
			out = append(out, tr.ID+":"+string(tr.Status))
		}
		return out
	}

	d := poll()
	assert.Equal(t, []string{"a:in_progress"}, ids(d), "finished 72 h ago: counted, not tracked")
	assert.Equal(t, 1, d.Count(batch.StatusCompleted))

	clock.Add(time.Minute)
	srv.Prepend(batchtest.Batch("b", batch.StatusValidating, ts(time.Minute)))
	srv.Update("a", func(b *batch.Batch) {
		b.Status, b.CompletedAt = batch.StatusCompleted, batch.Timestamp(ts(time.Minute))
		b.RequestCounts.Completed = 99
	})
	d = poll()
	assert.Equal(t, []string{"b:validating", "a:completed"}, ids(d))
	assert.Equal(t, 2, d.Count(batch.StatusCompleted))
	assert.Equal(t, 0, d.Count(batch.StatusInProgress))
	assert.Equal(t, t0.Add(time.Minute), d.Tracked[1].FinishedAt)

	clock.Add(25 * time.Hour)
	d = poll()
	assert.Equal(t, []string{"b:validating"}, ids(d), "a finished more than 24 h ago")
}

// failure is one way an endpoint can fail.
type failure struct {
	name    string
	cfg     batch.Config
	handler http.HandlerFunc // nil: the server is shut down
	want    error
	msg     string
	retry   time.Duration
}

func failures() []failure {
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// A server that echoes the key it was sent, in every field it has.
			batchtest.Error(w, code, "invalid_api_key", "Incorrect API key provided: "+r.Header.Get("Authorization"))
		}
	}
	body := func(code int, s string, header ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprint(w, s)
		}
	}
	var n atomic.Int64
	return []failure{
		{name: "down", want: batch.ErrConnection, msg: "page 1: connection failed: dial tcp"},
		{name: "slow", cfg: batch.Config{Timeout: 50 * time.Millisecond}, want: batch.ErrTimeout, msg: "page 1: timeout: ",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
		{name: "401", handler: echo(401), want: batch.ErrUnauthorized, msg: "page 1: unauthorized: HTTP 401 Unauthorized (invalid_api_key)"},
		{name: "403", handler: echo(403), want: batch.ErrUnauthorized, msg: "page 1: unauthorized: HTTP 403 Forbidden (invalid_api_key)"},
		{name: "key echoed as code", want: batch.ErrUnauthorized, msg: "page 1: unauthorized: HTTP 401 Unauthorized",
			handler: func(w http.ResponseWriter, r *http.Request) { batchtest.Error(w, 401, testKey, testKey) }},
		{name: "429", handler: body(429, `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`, "Retry-After", "120"),
			want: batch.ErrRateLimited, retry: 120 * time.Second,
			msg: "page 1: rate limited: HTTP 429 Too Many Requests (rate_limit_exceeded), retry after 2m0s"},
		{name: "429 capped", handler: body(429, ``, "Retry-After", "86400"), want: batch.ErrRateLimited, retry: 15 * time.Minute,
			msg: "page 1: rate limited: HTTP 429 Too Many Requests, retry after 15m0s"},
		{name: "500", handler: body(500, `{"object":"error","message":"boom","type":"InternalServerError","code":500}`),
			want: batch.ErrServerError, msg: "page 1: server error: HTTP 500 Internal Server Error (InternalServerError)"},
		{name: "503 with date", handler: body(503, "overloaded", "Retry-After", t0.Add(90*time.Second).Format(http.TimeFormat)),
			want: batch.ErrServerError, retry: time.Minute, msg: "page 1: server error: HTTP 503 Service Unavailable, retry after 1m0s"},
		{name: "404", handler: body(404, "not found"), want: batch.ErrHTTPStatus, msg: "page 1: unexpected HTTP status: HTTP 404 Not Found"},
		{name: "truncated JSON", handler: body(200, `{"object":"list","data":[{"id":"x"`), want: batch.ErrMalformed,
			msg: "page 1: malformed response: invalid JSON"},
		{name: "HTML", handler: body(200, `<html>`+testKey+`</html>`), want: batch.ErrMalformed,
			msg: "page 1: malformed response: invalid JSON at byte 1"},
		{name: "array", handler: body(200, `[]`), want: batch.ErrMalformed,
			msg: "page 1: malformed response: JSON array where a struct was expected"},
		{name: "no data", handler: body(200, `{"object":"list"}`), want: batch.ErrMalformed, msg: "page 1: malformed response: no data array"},
		{name: "not a list", handler: body(200, `{"object":"batch","data":[]}`), want: batch.ErrMalformed,
			msg: `page 1: malformed response: object is "batch", not list`},
		{name: "bad timestamp", handler: body(200, `{"object":"list","data":[{"id":"a","status":"completed","created_at":"`+testKey+`"}]}`),
			want: batch.ErrMalformed, msg: "page 1: malformed response: timestamp is not a number of seconds"},
		{name: "too large", cfg: batch.Config{MaxResponseBytes: 1024},
			handler: body(200, `{"object":"list","data":[],"pad":"`+strings.Repeat("x", 2000)+`"}`),
			want:    batch.ErrMalformed, msg: "page 1: malformed response: body larger than 1024 bytes"},
		{name: "repeated cursor", handler: body(200, `{"object":"list","data":[{"id":"`+testKey+`","status":"completed"}],"last_id":"`+testKey+`","has_more":true}`),
			want: batch.ErrPagination, msg: `pagination failed: page 2 repeats the cursor "[REDACTED]" (a pagination loop)`},
		{name: "endless cursors", cfg: batch.Config{MaxPages: 5}, want: batch.ErrPagination,
			msg: "pagination failed: more than 5 pages (the limit on pages per poll)",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				id := fmt.Sprintf("b%d", n.Add(1))
				fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"status":"completed"}],"last_id":%q,"has_more":true}`, id, id)
			}},
		{name: "has_more without cursor", handler: body(200, `{"object":"list","data":[],"has_more":true}`),
			want: batch.ErrPagination, msg: "pagination failed: page 1 says has_more but gives no last_id"},
	}
}

func TestFailureKeepsLastGoodData(t *testing.T) {
	t.Parallel()
	for _, f := range failures() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			srv := batchtest.NewServer(t, testKey,
				batchtest.Batch("a", batch.StatusInProgress, ts(-time.Hour), 3, 1, 0),
				batchtest.Batch("b", batch.StatusCompleted, ts(-time.Hour), 3, 3, 0))
			clock := newClock()
			var logs logBuffer
			p := newPoller(t, srv.URL, clock, f.cfg, logs.Logger())
			require.NoError(t, p.Poll(t.Context()))

			clock.Add(30 * time.Second)
			if f.handler == nil {
				srv.Close()
			} else {
				srv.Fail(f.handler)
			}
			err := p.Poll(t.Context())
			require.ErrorIs(t, err, f.want)
			assert.Contains(t, err.Error(), f.msg)
			var he *batch.HTTPError
			if f.retry > 0 && assert.ErrorAs(t, err, &he) {
				assert.Equal(t, f.retry, he.RetryAfter)
			}

			s := p.Snapshot()
			assert.False(t, s.LastPollOK)
			assert.Equal(t, uint64(2), s.Polls)
			assert.Equal(t, uint64(1), s.Failures[batch.Reason(err)])
			assert.Equal(t, t0, s.LastSuccess)
			d := s.Data(clock.Now())
			require.NotNil(t, d, "the last good data is still served")
			assert.Equal(t, 2, d.Listed)

			assert.Contains(t, logs.String(), "batch endpoint poll failed")
			for what, text := range map[string]string{"error": err.Error(), "snapshot": s.LastError, "log": logs.String()} {
				assert.NotContains(t, text, testKey, "the key leaked into the %s", what)
				assert.NotContains(t, text, "9f8e7d6c5b4a", "part of the key leaked into the %s", what)
			}
		})
	}
}

func TestFailureOnALaterPage(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey,
		batchtest.Batch("a", batch.StatusInProgress, ts(0)), batchtest.Batch("b", batch.StatusInProgress, ts(0)))
	var calls atomic.Int32
	srv.Fail(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			batchtest.Error(w, http.StatusBadGateway, "upstream", "bad gateway")
			return
		}
		srv.ServeList(w, r)
	})
	clock := newClock()
	p := newPoller(t, srv.URL, clock, batch.Config{PageSize: 1}, nil)
	err := p.Poll(t.Context())
	require.ErrorIs(t, err, batch.ErrServerError)
	assert.Equal(t, "page 2: server error: HTTP 502 Bad Gateway (upstream)", err.Error())
	assert.Nil(t, p.Snapshot().Data(clock.Now()), "a partial listing is never served")
}

func TestStaleDataIsDropped(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey, batchtest.Batch("a", batch.StatusInProgress, ts(0)))
	clock := newClock()
	var logs logBuffer
	p := newPoller(t, srv.URL, clock, batch.Config{StaleAfter: 5 * time.Minute}, logs.Logger())
	require.NoError(t, p.Poll(t.Context()))
	srv.Fail(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })

	clock.Add(5 * time.Minute)
	require.Error(t, p.Poll(t.Context()))
	assert.NotNil(t, p.Snapshot().Data(clock.Now()), "exactly stale-after old: still served")
	assert.Nil(t, p.Snapshot().Data(clock.Now().Add(time.Second)), "older: not served, even before the next poll")

	clock.Add(time.Minute)
	require.Error(t, p.Poll(t.Context()))
	assert.Nil(t, p.Snapshot().Data(clock.Now()))
	assert.Equal(t, 1, strings.Count(logs.String(), "no longer served"), logs.String())

	srv.Fail(nil)
	require.NoError(t, p.Poll(t.Context()))
	assert.NotNil(t, p.Snapshot().Data(clock.Now()), "served again after a good poll")
}

func TestFailureLogsAreRateLimited(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey)
	clock := newClock()
	var logs logBuffer
	p := newPoller(t, srv.URL, clock, batch.Config{LogEvery: 5 * time.Minute}, logs.Logger())
	warns := func() int { return strings.Count(logs.String(), "level=WARN") }
	pollN := func(n int) {
		for range n {
			clock.Add(time.Second)
			_ = p.Poll(t.Context())
		}
	}

	srv.Fail(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	pollN(20)
	assert.Equal(t, 1, warns(), "one line for a persisting failure")
	srv.Fail(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	pollN(20)
	assert.Equal(t, 2, warns(), "a new line when the reason changes")
	clock.Add(5 * time.Minute)
	pollN(1)
	assert.Equal(t, 3, warns(), "and again after LogEvery")
	srv.Fail(nil)
	pollN(5)
	assert.Equal(t, 1, strings.Count(logs.String(), `level=INFO msg="batch endpoint recovered" endpoint=test`), logs.String())
	assert.Equal(t, 3, warns())
}

func TestRetryAfterDelaysTheNextPoll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		retryAfter string
		check      func(t *testing.T, requests int)
	}{
		{"without Retry-After, every interval", "", func(t *testing.T, n int) { assert.GreaterOrEqual(t, n, 4) }},
		{"Retry-After: 60 holds the next poll", "60", func(t *testing.T, n int) { assert.Equal(t, 1, n) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := batchtest.NewServer(t, testKey)
			srv.Fail(func(w http.ResponseWriter, _ *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			p := newPoller(t, srv.URL, nil, batch.Config{Interval: 10 * time.Millisecond, StaleAfter: time.Minute}, nil)
			p.Start(t.Context())
			time.Sleep(200 * time.Millisecond)
			p.Stop()
			tc.check(t, len(srv.Requests()))
		})
	}
}

func TestStopCancelsAPollInFlight(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey)
	arrived := make(chan struct{}, 1)
	srv.Fail(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	p := newPoller(t, srv.URL, nil, batch.Config{Timeout: time.Minute}, nil)
	p.Start(t.Context())
	p.Start(t.Context()) // a second Start is a no-op
	<-arrived
	start := time.Now()
	p.Stop()
	p.Stop()
	assert.Less(t, time.Since(start), time.Second)
	assert.Zero(t, p.Snapshot().Polls, "a cancelled poll is not recorded")
}

func TestContextEndsPolling(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey)
	p := newPoller(t, srv.URL, nil, batch.Config{Interval: time.Millisecond, StaleAfter: time.Minute}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	p.Start(ctx)
	require.Eventually(t, func() bool { return p.Snapshot().Polls >= 3 }, 5*time.Second, time.Millisecond)
	cancel()
	time.Sleep(20 * time.Millisecond)
	n := len(srv.Requests())
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, n, len(srv.Requests()), "no polls after the context ended")
}

func TestSnapshotsAreSafeToReadWhilePolling(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, testKey, batchtest.Batch("a", batch.StatusInProgress, ts(0), 2, 1, 0))
	p := newPoller(t, srv.URL, nil, batch.Config{Interval: time.Millisecond, StaleAfter: time.Minute}, nil)
	p.Start(t.Context())
	// The first poll may take a while on a loaded machine (-race, beside
	// other packages); the reads below race with the polls after it.
	require.Eventually(t, func() bool { return p.Snapshot().Data(time.Now()) != nil }, 30*time.Second, time.Millisecond)
	deadline := time.Now().Add(100 * time.Millisecond)
	var reads int
	for time.Now().Before(deadline) {
		s := p.Snapshot()
		if d := s.Data(time.Now()); d != nil {
			reads += d.Count(batch.StatusInProgress) + len(d.Tracked) + int(s.Failures["timeout"])
		}
	}
	p.Stop()
	assert.Positive(t, reads)
}

// BenchmarkPoll10000 polls 10,000 batches (100 pages) from a server that
// answers with pages encoded beforehand, so that the allocations counted
// are nearly all the poller's.
func BenchmarkPoll10000(b *testing.B) {
	pages := map[string][]byte{}
	after := ""
	for i := 0; i < 10000; i += 100 {
		p := batch.Page{Object: "list", HasMore: i+100 < 10000}
		for j := i; j < i+100; j++ {
			bt := batchtest.Batch(fmt.Sprintf("batch_%06d", j), batch.StatusCompleted, ts(-48*time.Hour-time.Duration(j)*time.Hour), 500, 500, 0)
			bt.Metadata = batch.Metadata{"model": "Qwen/Qwen3-8B", "owner": "nightly-eval"}
			p.Data = append(p.Data, bt)
		}
		p.FirstID, p.LastID = p.Data[0].ID, p.Data[99].ID
		body, err := json.Marshal(p)
		require.NoError(b, err)
		pages[after] = body
		after = p.LastID
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(pages[r.URL.Query().Get("after")])
	}))
	b.Cleanup(srv.Close)
	ep, err := batch.NewEndpoint("big", srv.URL, secret.New(testKey))
	require.NoError(b, err)
	p, err := batch.NewPoller(ep, batch.Config{Clock: newClock().Now}, nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, p.Poll(b.Context()))
	}
	require.Equal(b, 10000, p.Snapshot().Data(t0).Listed)
}
