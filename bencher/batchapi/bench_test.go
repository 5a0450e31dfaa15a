package batchapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
)

func TestBenchAgainstSimulator(t *testing.T) {
	t.Parallel()
	for _, api := range []bencher.API{bencher.APICompletions, bencher.APIChat} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			c, err := New(startSim(t, sim.WithDecodeTime(time.Millisecond, 0)))
			require.NoError(t, err)
			reqs := requests(12)
			reqs[3].ID = "my-own-id"
			out, err := Bench(context.Background(), c, reqs, BenchOptions{API: api, Model: sim.DefaultModel,
				Poll: 20 * time.Millisecond, Metadata: map[string]string{"bencher_run": "r1"}})
			require.NoError(t, err)

			assert.Equal(t, StatusCompleted, out.Batch.Status)
			assert.Equal(t, "r1", out.Batch.Metadata["bencher_run"])
			assert.Equal(t, 12, out.Batch.RequestCounts.Total)
			assert.False(t, out.Cancelled)
			assert.True(t, out.Timing, "the simulator reports per-request timing")
			require.NotNil(t, out.InProgress)
			require.NotNil(t, out.Done)
			assert.LessOrEqual(t, out.Uploaded, out.Created)
			assert.LessOrEqual(t, out.Created, *out.InProgress)
			assert.LessOrEqual(t, *out.InProgress, *out.Done)
			require.NotNil(t, out.DoneWithin, "the makespan's resolution is known")
			assert.Positive(t, *out.DoneWithin)
			assert.Less(t, *out.DoneWithin, *out.Done, "it ended after the poll before")
			assert.Positive(t, out.Polls)
			assert.Equal(t, bencher.ModeBatchAPI, out.Result.Config.Mode)

			require.Len(t, out.Result.Records, 12)
			var input, output int
			for _, r := range out.Result.Records {
				input, output = input+r.InputTokens, output+r.OutputTokens
			}
			require.NotNil(t, out.Batch.Usage, "the simulator reports the batch's usage")
			assert.Equal(t, input, out.Batch.Usage.InputTokens, "the records' input tokens are the batch's")
			assert.Equal(t, output, out.Batch.Usage.OutputTokens, "the records' output tokens are the batch's")
			assert.Equal(t, input+output, out.Batch.Usage.TotalTokens)
			assert.Equal(t, "my-own-id", out.Result.Records[3].ID)
			assert.Equal(t, "request-4", out.Result.Records[4].ID)
			for i, r := range out.Result.Records {
				assert.True(t, r.OK(), "record %d: %s %s", i, r.Error, r.ErrorMessage)
				assert.Equal(t, i, r.Index)
				assert.Equal(t, 8, r.OutputTokens, "max_tokens 8 reached the server in the body")
				assert.Positive(t, r.InputTokens)
				assert.Equal(t, bencher.TokensFromUsage, r.TokenSource)
				_, hasTTFT := r.TTFT()
				assert.False(t, hasTTFT, "a batch answers whole: no first token")
				assert.Empty(t, r.ChunkTimes)
				assert.LessOrEqual(t, out.Created, r.Scheduled, "placed from the batch's creation on")
				assert.LessOrEqual(t, r.Scheduled, r.Sent)
				assert.LessOrEqual(t, r.Sent, r.End)
			}
		})
	}
}

func TestBenchCancelsTheBatchWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	// Slow enough that the batch cannot end before the cancel: 40 requests
	// of 64 tokens at 50ms a step, 2 at a time.
	base := startSim(t, sim.WithDecodeTime(50*time.Millisecond, 0), sim.WithMaxNumSeqs(4))
	c, err := New(base)
	require.NoError(t, err)
	reqs := requests(40)
	for i := range reqs {
		reqs[i].MaxTokens, reqs[i].IgnoreEOS = 64, true
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, err := Bench(ctx, c, reqs, BenchOptions{API: bencher.APICompletions, Model: sim.DefaultModel, Poll: 20 * time.Millisecond,
		Seen: func(b Batch) {
			if b.Status == StatusInProgress {
				cancel() // as a signal would
			}
		}})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, out)
	assert.True(t, out.Cancelled)
	assert.Equal(t, StatusCancelled, out.Batch.Status, "the bencher cancelled the batch on the server")
	assert.Equal(t, bencher.StopInterrupted, out.Result.StopReason)
	canceled := 0
	for _, r := range out.Result.Records {
		if r.Error == bencher.ErrCanceled {
			canceled++
		}
	}
	assert.Positive(t, canceled, "the requests the batch never ran are canceled, not failed")

	got, err := c.GetBatch(context.Background(), out.Batch.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusCancelled, got.Status)
}

func TestWaitRespectsRetryAfter(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{polls: []fakeAnswer{
				{code: code, body: `{"error":{"message":"slow down","type":"rate_limit","code":"rate_limited"}}`, retryAfter: "1"},
				{code: 200, body: batchJSON(StatusCompleted, "", "", "")},
			}}
			c, err := New(f.start(t))
			require.NoError(t, err)
			b, err := c.Wait(context.Background(), "batch_1", 10*time.Millisecond, nil)
			require.NoError(t, err)
			assert.Equal(t, StatusCompleted, b.Status)
			polls := f.pollTimes()
			require.Len(t, polls, 2)
			assert.GreaterOrEqual(t, polls[1].Sub(polls[0]), time.Second,
				"the second poll waited for Retry-After (1s), not the 10ms interval")
		})
	}
}

func TestWaitStopsOnAPermanentError(t *testing.T) {
	t.Parallel()
	f := &fakeServer{polls: []fakeAnswer{{code: 404, body: `{"error":{"message":"No batch found with id batch_1",` +
		`"type":"invalid_request_error","code":"not_found"}}`}}}
	c, err := New(f.start(t))
	require.NoError(t, err)
	_, err = c.Wait(context.Background(), "batch_1", time.Millisecond, nil)
	require.Error(t, err)
	assert.True(t, IsNotFound(err))
	assert.Equal(t, "batch API GET /v1/batches/batch_1: HTTP 404 Not Found (not_found): No batch found with id batch_1",
		err.Error())
	assert.Len(t, f.pollTimes(), 1)
}

func TestBenchReadsAnotherServersFiles(t *testing.T) {
	t.Parallel()
	// No timing extension, unknown fields, an expired batch: two answered
	// (one 200, one 400), one expired in the error file, one in neither.
	f := &fakeServer{
		polls: []fakeAnswer{
			{code: 200, body: batchJSON(StatusInProgress, "", "", "")},
			{code: 200, body: batchJSON(StatusExpired, "out", "err", `,"expired_at":9`)},
		},
		output: joinLines(okLine("request-0", 5, 7, ""),
			`{"id":"l2","custom_id":"request-1","response":{"status_code":400,"request_id":"r","body":`+
				`{"error":{"message":"max_tokens is too large","type":"invalid_request_error","code":null}}},"error":null}`+"\n",
			"\n"),
		errors: `{"id":"l3","custom_id":"request-2","response":null,"error":{"code":"batch_expired",` +
			`"message":"This request could not be executed before the completion window expired."}}` + "\n",
	}
	c, err := New(f.start(t))
	require.NoError(t, err)
	out, err := Bench(context.Background(), c, requests(4), BenchOptions{API: bencher.APICompletions, Model: "m",
		Poll: time.Millisecond})
	require.NoError(t, err)
	assert.False(t, out.Timing, "no timing extension: the times are the batch's")
	assert.Nil(t, out.ServerSpan)
	assert.Equal(t, map[string]int{"batch_expired": 1}, out.ErrorLines)
	rs := out.Result.Records
	require.Len(t, rs, 4)
	assert.True(t, rs[0].OK())
	assert.Equal(t, 5, rs[0].InputTokens)
	assert.Equal(t, 7, rs[0].OutputTokens)
	assert.Equal(t, "length", rs[0].FinishReason)
	assert.Equal(t, bencher.ErrHTTPStatus, rs[1].Error)
	assert.Equal(t, 400, rs[1].HTTPStatus)
	assert.Equal(t, "HTTP 400: max_tokens is too large", rs[1].ErrorMessage)
	assert.Equal(t, bencher.ErrBatchExpired, rs[2].Error)
	assert.Equal(t, "batch_expired: This request could not be executed before the completion window expired.",
		rs[2].ErrorMessage)
	assert.Equal(t, bencher.ErrBatchExpired, rs[3].Error, "in neither file of an expired batch")
	for _, r := range rs {
		assert.Equal(t, out.Created, r.Scheduled)
		assert.Equal(t, *out.Done, r.End, "without timing every request ends when the batch was seen ended")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, "24h", f.created["completion_window"])
	assert.Equal(t, "/v1/completions", f.created["endpoint"])
	assert.Equal(t, "file-in", f.created["input_file_id"])
}

func TestBenchWithoutAnOutputFile(t *testing.T) {
	t.Parallel()
	f := &fakeServer{polls: []fakeAnswer{{code: 200, body: batchJSON(StatusFailed, "", "",
		`,"errors":{"object":"list","data":[{"code":"invalid_json_line","message":"Line 2 is not valid JSON.","param":null,"line":2}]}`)}}}
	c, err := New(f.start(t))
	require.NoError(t, err)
	out, err := Bench(context.Background(), c, requests(3), BenchOptions{API: bencher.APIChat, Model: "m", Poll: time.Millisecond})
	require.NoError(t, err)
	for _, r := range out.Result.Records {
		assert.Equal(t, bencher.ErrBatchError, r.Error)
		assert.Equal(t, "the batch failed: invalid_json_line: Line 2 is not valid JSON. (line 2)", r.ErrorMessage)
	}
	assert.Nil(t, out.InProgress, "a batch that failed validation never started")
}

func TestBenchRefusesAnOutputLineOfAnotherRequest(t *testing.T) {
	t.Parallel()
	f := &fakeServer{polls: []fakeAnswer{{code: 200, body: batchJSON(StatusCompleted, "out", "", "")}},
		output: okLine("somebody-else", 1, 1, "")}
	c, err := New(f.start(t))
	require.NoError(t, err)
	out, err := Bench(context.Background(), c, requests(2), BenchOptions{API: bencher.APICompletions, Model: sim.DefaultModel, Poll: time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the output file out of batch batch_1: custom_id "somebody-else" is none of the requests'`)
	require.NotNil(t, out, "what was known is kept")
	assert.Equal(t, StatusCompleted, out.Batch.Status)
}

func TestBenchPlacesServerTimesFromTheCreation(t *testing.T) {
	t.Parallel()
	// The server's clock is far from the client's: only differences count.
	timing := func(q, s, e float64) string {
		return `,"timing":{"enqueued_at":` + ftoa(q) + `,"started_at":` + ftoa(s) + `,"finished_at":` + ftoa(e) + `}`
	}
	f := &fakeServer{polls: []fakeAnswer{{code: 200, body: batchJSON(StatusCompleted, "out", "", "")}},
		output: joinLines(okLine("request-0", 1, 1, timing(1000.0, 1000.5, 1002.0)),
			okLine("request-1", 1, 1, timing(1000.25, 1001.0, 1001.5)))}
	c, err := New(f.start(t))
	require.NoError(t, err)
	out, err := Bench(context.Background(), c, requests(2), BenchOptions{API: bencher.APICompletions, Model: sim.DefaultModel, Poll: time.Millisecond})
	require.NoError(t, err)
	require.True(t, out.Timing)
	require.NotNil(t, out.ServerSpan)
	assert.Equal(t, 2*time.Second, *out.ServerSpan, "first queued at 1000.0, last finished at 1002.0")
	r0, r1 := out.Result.Records[0], out.Result.Records[1]
	assert.Equal(t, out.Created, r0.Scheduled)
	assert.Equal(t, 500*time.Millisecond, r0.QueueDelay())
	assert.Equal(t, 2*time.Second, r0.E2E())
	assert.Equal(t, out.Created+250*time.Millisecond, r1.Scheduled)
	assert.Equal(t, 750*time.Millisecond, r1.QueueDelay())
	assert.Equal(t, 1250*time.Millisecond, r1.E2E())
}

func TestErrorsNameTheCallAndTheServersMessage(t *testing.T) {
	t.Parallel()
	key := "sk-test-0123456789abcdef"
	f := &fakeServer{}
	base := f.start(t)
	c, err := New(base+"/nowhere", WithAPIKey(key))
	require.NoError(t, err)
	_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.Error(t, err)
	assert.Equal(t, "batch API POST /v1/nowhere/files: HTTP 404 Not Found: no route POST /v1/nowhere/files", err.Error())

	_, err = New("ftp://x/v1")
	require.EqualError(t, err, `batch API: target "ftp://x/v1": want an http or https URL such as http://localhost:8000/v1`)
}

func TestBenchFailsClearlyWithoutABatchAPI(t *testing.T) {
	t.Parallel()
	ts := (&fakeServer{}).start(t)
	c, err := New(strings.TrimSuffix(ts, "/v1") + "/v2")
	require.NoError(t, err)
	out, err := Bench(context.Background(), c, requests(1), BenchOptions{API: bencher.APIChat, Model: "m"})
	assert.Nil(t, out, "no batch was created")
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "/v2/files", e.Endpoint)
	assert.Equal(t, 404, e.Status)
}

func TestListBatchesPages(t *testing.T) {
	t.Parallel()
	c, err := New(startSim(t, sim.WithZeroDelay()))
	require.NoError(t, err)
	var ids []string
	for range 3 {
		out, err := Bench(context.Background(), c, requests(1), BenchOptions{API: bencher.APICompletions, Model: sim.DefaultModel, Poll: 5 * time.Millisecond})
		require.NoError(t, err)
		ids = append(ids, out.Batch.ID)
	}
	first, err := c.ListBatches(context.Background(), "", 2)
	require.NoError(t, err)
	require.Len(t, first.Data, 2)
	assert.True(t, first.HasMore)
	rest, err := c.ListBatches(context.Background(), first.Data[1].ID, 2)
	require.NoError(t, err)
	require.Len(t, rest.Data, 1)
	assert.False(t, rest.HasMore)
	got := []string{first.Data[0].ID, first.Data[1].ID, rest.Data[0].ID}
	assert.ElementsMatch(t, ids, got)
}

func TestParseOutputNamesTheBadLine(t *testing.T) {
	t.Parallel()
	in := okLine("a", 1, 1, "") + "\n" + "{not json}\n"
	err := ParseOutput(strings.NewReader(in), "out.jsonl", func(OutputLine) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "out.jsonl line 3: not a batch output line")
	err = ParseOutput(strings.NewReader(`{"response":null}`), "out.jsonl", func(OutputLine) error { return nil })
	assert.EqualError(t, err, "out.jsonl line 1: no custom_id")
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "soon": 0,
		now.Add(3 * time.Second).Format(http.TimeFormat):  3 * time.Second,
		now.Add(-3 * time.Second).Format(http.TimeFormat): 0,
	} {
		assert.Equal(t, want, retryAfter(in, now), "Retry-After %q", in)
	}
}

func TestTerminalAndStarted(t *testing.T) {
	t.Parallel()
	for _, s := range []string{StatusCompleted, StatusFailed, StatusExpired, StatusCancelled} {
		assert.True(t, Terminal(s), s)
	}
	for _, s := range []string{StatusValidating, StatusInProgress, StatusFinalizing, StatusCancelling, "paused", ""} {
		assert.False(t, Terminal(s), s)
	}
	assert.False(t, Started(StatusValidating))
	assert.False(t, Started(StatusFailed))
	assert.True(t, Started(StatusFinalizing))
}

func TestCustomIDs(t *testing.T) {
	t.Parallel()
	reqs := []bencher.Request{{ID: "a"}, {ID: "a"}, {ID: ""}, {ID: "request-4"}, {}}
	assert.Equal(t, []string{"request-0", "request-1", "request-2", "request-4", "request-4_"}, customIDs(reqs))
}

// Polls come at a twentieth of the time waited, from MinPoll to the longest
// interval given; an interval shorter than MinPoll is honoured.
func TestPollIntervalGrowsWithTheWait(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ elapsed, longest, want time.Duration }{
		{0, time.Second, MinPoll},
		{500 * time.Millisecond, time.Second, MinPoll},
		{2 * time.Second, time.Second, 100 * time.Millisecond},
		{10 * time.Second, time.Second, 500 * time.Millisecond},
		{time.Minute, time.Second, time.Second},
		{time.Hour, time.Second, time.Second},
		{time.Hour, 10 * time.Millisecond, 10 * time.Millisecond},
		{0, 10 * time.Millisecond, 10 * time.Millisecond},
	} {
		assert.Equal(t, tt.want, pollInterval(tt.elapsed, tt.longest), "after %s, at most %s", tt.elapsed, tt.longest)
	}
}
