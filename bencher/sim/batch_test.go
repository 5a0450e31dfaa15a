package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchGoesThroughEveryStatusToCompleted(t *testing.T) {
	t.Parallel()
	g := newGate(t, phaseValidating, phaseInProgress, phaseFinalizing)
	_, ts := startBatchServer(t, WithZeroDelay(), g.option())
	const n = 6
	id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(n, 4)), PathChatCompletions).ID

	g.wait(t, phaseValidating)
	v := getBatch(t, ts.URL, id)
	assert.Equal(t, BatchValidating, v.Status)
	assert.Equal(t, requestCounts{}, v.RequestCounts)
	assertTimes(t, v)
	g.release(phaseValidating)

	g.wait(t, phaseInProgress)
	v = getBatch(t, ts.URL, id)
	assert.Equal(t, BatchInProgress, v.Status)
	assert.Equal(t, requestCounts{Total: n}, v.RequestCounts)
	assert.Equal(t, DefaultModel, *v.Model)
	assertTimes(t, v, "in_progress_at")
	g.release(phaseInProgress)

	g.wait(t, phaseFinalizing)
	v = getBatch(t, ts.URL, id)
	assert.Equal(t, BatchFinalizing, v.Status)
	assert.Equal(t, requestCounts{Total: n, Completed: n}, v.RequestCounts)
	assert.Nil(t, v.OutputFileID, "the output file is written while finalizing")
	assertTimes(t, v, "in_progress_at", "finalizing_at")
	g.release(phaseFinalizing)

	v = waitStatus(t, ts.URL, id, BatchCompleted)
	assert.Equal(t, requestCounts{Total: n, Completed: n}, v.RequestCounts)
	assertTimes(t, v, "in_progress_at", "finalizing_at", "completed_at")
	assert.Nil(t, v.ErrorFileID, "no request failed: no error file")
	assert.Nil(t, v.Errors)
	lines := fileLines(t, ts.URL, v.OutputFileID)
	ids, codes := customIDs(lines)
	slices.Sort(ids)
	assert.Equal(t, []string{"r1", "r2", "r3", "r4", "r5", "r6"}, ids)
	assert.Empty(t, codes)
	for _, l := range lines {
		require.NotNil(t, l.Response)
		assert.Equal(t, http.StatusOK, l.Response.StatusCode)
		assert.Regexp(t, `^batch_req_[0-9a-f]{16}$`, l.ID)
		assert.Regexp(t, `^req_[0-9a-f]{16}$`, l.Response.RequestID)
		var body struct {
			Object string `json:"object"`
			Usage  struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		require.NoError(t, json.Unmarshal(l.Response.Body, &body))
		assert.Equal(t, "chat.completion", body.Object)
		assert.Equal(t, 4, body.Usage.CompletionTokens)
		tm := l.Response.Timing
		require.NotNil(t, tm, "the Benchstation timing extension")
		assert.LessOrEqual(t, tm.EnqueuedAt, tm.StartedAt)
		assert.LessOrEqual(t, tm.StartedAt, tm.FinishedAt)
		assert.GreaterOrEqual(t, tm.EnqueuedAt, float64(*v.InProgressAt))
		assert.LessOrEqual(t, tm.FinishedAt, float64(*v.FinalizingAt+1))
	}
}

func TestBatchOfCompletions(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay())
	line := `{"custom_id":"c1","method":"POST","url":"/v1/completions","body":{"model":"` + DefaultModel +
		`","prompt":"Once upon a time","max_tokens":3,"ignore_eos":true}}`
	id := createBatch(t, ts.URL, upload(t, ts.URL, line), PathCompletions).ID
	v := waitStatus(t, ts.URL, id, BatchCompleted)
	lines := fileLines(t, ts.URL, v.OutputFileID)
	require.Len(t, lines, 1)
	var body struct {
		Object  string `json:"object"`
		Choices []struct {
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(lines[0].Response.Body, &body))
	assert.Equal(t, "text_completion", body.Object)
	require.Len(t, body.Choices, 1)
	assert.NotEmpty(t, body.Choices[0].Text)
	assert.Equal(t, "length", body.Choices[0].FinishReason)
}

// TestBatchRequestsFailAsOnline: a request the online endpoint would
// refuse, or one given an injected fault, goes to the error file with the
// answer the online endpoint would give; the batch still completes.
func TestBatchRequestsFailAsOnline(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay(), WithMaxModelLen(64), WithKVCacheTokens(64))
	in := chatLine("ok", "Hi", 2) + "\n" + chatLine("too-long", "Hi", 100) + "\n"
	id := createBatch(t, ts.URL, upload(t, ts.URL, in), PathChatCompletions).ID
	v := waitStatus(t, ts.URL, id, BatchCompleted)
	assert.Equal(t, requestCounts{Total: 2, Completed: 1, Failed: 1}, v.RequestCounts)
	out := fileLines(t, ts.URL, v.OutputFileID)
	require.Len(t, out, 1)
	assert.Equal(t, "ok", out[0].CustomID)
	errs := fileLines(t, ts.URL, v.ErrorFileID)
	require.Len(t, errs, 1)
	assert.Equal(t, "too-long", errs[0].CustomID)
	require.NotNil(t, errs[0].Response)
	assert.Nil(t, errs[0].Error)
	assert.Equal(t, http.StatusBadRequest, errs[0].Response.StatusCode)
	assert.Nil(t, errs[0].Response.Timing, "a request that never ran has no timing")
	assert.Contains(t, string(errs[0].Response.Body), "maximum context length is 64 tokens")
}

func TestBatchFaultsApplyPerRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults Faults
		status int
		msg    string
	}{
		{"server error", Faults{ServerError: 1}, http.StatusInternalServerError, "Internal server error (simulated fault)."},
		{"rate limit", Faults{RateLimit: 1}, http.StatusTooManyRequests, "simulated rate limit"},
		{"error event", Faults{ErrorEvent: 1}, http.StatusInternalServerError, "Simulated engine error after"},
		{"abort", Faults{Abort: 1}, http.StatusInternalServerError, "Simulated engine error after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ts := startBatchServer(t, WithZeroDelay(), WithFaults(tt.faults))
			id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(3, 5)), PathChatCompletions).ID
			v := waitStatus(t, ts.URL, id, BatchCompleted)
			assert.Equal(t, requestCounts{Total: 3, Failed: 3}, v.RequestCounts)
			assert.Nil(t, v.OutputFileID, "no request succeeded: no output file")
			errs := fileLines(t, ts.URL, v.ErrorFileID)
			require.Len(t, errs, 3)
			for _, l := range errs {
				require.NotNil(t, l.Response)
				assert.Equal(t, tt.status, l.Response.StatusCode)
				assert.Contains(t, string(l.Response.Body), tt.msg)
			}
		})
	}
	t.Run("stall", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, WithZeroDelay(), WithFaults(Faults{Stall: 1, StallDuration: time.Millisecond}))
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(2, 5)), PathChatCompletions).ID
		v := waitStatus(t, ts.URL, id, BatchCompleted)
		assert.Equal(t, requestCounts{Total: 2, Completed: 2}, v.RequestCounts, "a stall delays, it does not fail")
	})
}

func TestBatchInputErrorsFailTheBatch(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxRequests: 3}))
	good := chatLine("a", "Hi", 2)
	line := func(m map[string]any) string {
		base := map[string]any{"custom_id": "x", "method": "POST", "url": PathChatCompletions,
			"body": map[string]any{"model": DefaultModel, "messages": []map[string]any{{"role": "user", "content": "Hi"}}}}
		for k, v := range m {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		b, _ := json.Marshal(base)
		return string(b)
	}
	type e = lineError
	p := func(s string) *string { return &s }
	l := func(n int) *int { return &n }
	tests := []struct {
		name string
		in   string
		want []lineError
	}{
		{"bad JSON", good + "\n{not json\n", []e{{"invalid_json_line", "This line is not parseable as valid JSON.", nil, l(2)}}},
		{"not an object", "[1,2]\n", []e{{"invalid_json_line", "This line is not parseable as valid JSON.", nil, l(1)}}},
		{"missing custom_id", line(map[string]any{"custom_id": nil}),
			[]e{{"missing_required_parameter", "Missing required parameter: 'custom_id'.", p("custom_id"), l(1)}}},
		{"custom_id not a string", line(map[string]any{"custom_id": 7}),
			[]e{{"invalid_request", "Invalid type for 'custom_id': expected a string.", p("custom_id"), l(1)}}},
		{"duplicate custom_id", good + "\n" + good + "\n", []e{{"duplicate_custom_id", "The custom_id for this request is a " +
			"duplicate of another request. The custom_id parameter must be unique for each request in a batch.", p("custom_id"), l(2)}}},
		{"missing method", line(map[string]any{"method": nil}),
			[]e{{"missing_required_parameter", "Missing required parameter: 'method'.", p("method"), l(1)}}},
		{"wrong method", line(map[string]any{"method": "GET"}),
			[]e{{"invalid_value", "Invalid value: \"GET\". Supported values are: 'POST'.", p("method"), l(1)}}},
		{"missing url", line(map[string]any{"url": nil}),
			[]e{{"missing_required_parameter", "Missing required parameter: 'url'.", p("url"), l(1)}}},
		{"url not the batch's endpoint", line(map[string]any{"url": PathCompletions}),
			[]e{{"invalid_url", "The URL provided for this request does not match the batch endpoint.", p("url"), l(1)}}},
		{"missing body", line(map[string]any{"body": nil}),
			[]e{{"missing_required_parameter", "Missing required parameter: 'body'.", p("body"), l(1)}}},
		{"body not an object", line(map[string]any{"body": "hello"}),
			[]e{{"invalid_request", "Invalid type for 'body': expected an object.", p("body"), l(1)}}},
		{"model unknown", line(map[string]any{"body": map[string]any{"model": "gpt-9", "messages": []any{map[string]any{"role": "user"}}}}),
			[]e{{"model_not_found", "The provided model \"gpt-9\" is not supported by the Batch API.", p("body.model"), l(1)}}},
		{"model missing", line(map[string]any{"body": map[string]any{"messages": []any{map[string]any{"role": "user"}}}}),
			[]e{{"invalid_request", "Model parameter is required.", p("body.model"), l(1)}}},
		{"messages missing", line(map[string]any{"body": map[string]any{"model": DefaultModel}}),
			[]e{{"invalid_request", "Messages parameter is required.", p("body.messages"), l(1)}}},
		{"messages not an array", line(map[string]any{"body": map[string]any{"model": DefaultModel, "messages": "hi"}}),
			[]e{{"invalid_request", "Invalid type for 'body.messages': expected an array.", p("body.messages"), l(1)}}},
		{"streaming", line(map[string]any{"body": map[string]any{"model": DefaultModel, "stream": true,
			"messages": []any{map[string]any{"role": "user"}}}}),
			[]e{{"streaming_unsupported", "Chat Completions: Streaming is not supported in the Batch API.", p("body.stream"), l(1)}}},
		{"every bad line is named", good + "\n\n{\n" + line(map[string]any{"url": "/v1/embeddings", "custom_id": "b"}) + "\n",
			[]e{{"invalid_json_line", "This line is not parseable as valid JSON.", nil, l(3)},
				{"invalid_url", "The URL provided for this request does not match the batch endpoint.", p("url"), l(4)}}},
		{"empty file", "", []e{{"empty_file", "The batch input file is empty.", nil, nil}}},
		{"blank lines only", "\n  \n\n", []e{{"empty_file", "The batch input file is empty.", nil, nil}}},
		{"too many requests", chatFile(4, 1),
			[]e{{"invalid_request", "The input file has more than 3 requests, the limit per batch.", nil, l(4)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := createBatch(t, ts.URL, upload(t, ts.URL, tt.in), PathChatCompletions).ID
			v := waitStatus(t, ts.URL, id, BatchFailed)
			require.NotNil(t, v.Errors)
			assert.Equal(t, "list", v.Errors.Object)
			assert.Equal(t, tt.want, v.Errors.Data)
			assert.Equal(t, requestCounts{}, v.RequestCounts)
			assertTimes(t, v, "failed_at")
			assert.Nil(t, v.OutputFileID)
			assert.Nil(t, v.ErrorFileID)
		})
	}
	t.Run("input file missing", func(t *testing.T) {
		t.Parallel()
		id := createBatch(t, ts.URL, "file-nosuchfile", PathChatCompletions).ID
		v := waitStatus(t, ts.URL, id, BatchFailed)
		require.NotNil(t, v.Errors)
		assert.Equal(t, []lineError{{"invalid_request", "Cannot find file file-nosuchfile.", p("input_file_id"), nil}}, v.Errors.Data)
	})
}

// slowEngine makes requests of many tokens last long enough to be caught
// running: a step of 2 ms per token.
func slowEngine() Option { return WithDecodeTime(2*time.Millisecond, 0) }

func TestBatchCancel(t *testing.T) {
	t.Parallel()
	t.Run("validating", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), g.option())
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(3, 2)), PathChatCompletions).ID
		g.wait(t, phaseValidating)
		code, v, body := cancelBatch(t, ts.URL, id)
		require.Equal(t, http.StatusOK, code, string(body))
		assert.Equal(t, BatchCancelling, v.Status)
		assertTimes(t, v, "cancelling_at")
		g.release(phaseValidating)
		v = waitStatus(t, ts.URL, id, BatchCancelled)
		assertTimes(t, v, "cancelling_at", "cancelled_at")
		assert.Equal(t, requestCounts{}, v.RequestCounts)
		assert.Nil(t, v.OutputFileID)
		assert.Nil(t, v.ErrorFileID)
	})
	t.Run("in progress before any request ran", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseInProgress)
		_, ts := startBatchServer(t, WithZeroDelay(), g.option())
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(3, 2)), PathChatCompletions).ID
		g.wait(t, phaseInProgress)
		code, v, body := cancelBatch(t, ts.URL, id)
		require.Equal(t, http.StatusOK, code, string(body))
		assert.Equal(t, BatchCancelling, v.Status)
		g.release(phaseInProgress)
		v = waitStatus(t, ts.URL, id, BatchCancelled)
		assertTimes(t, v, "in_progress_at", "cancelling_at", "cancelled_at")
		assert.Equal(t, requestCounts{Total: 3}, v.RequestCounts)
		assert.Nil(t, v.OutputFileID)
		_, codes := customIDs(fileLines(t, ts.URL, v.ErrorFileID))
		assert.Equal(t, map[string]string{"r1": "batch_cancelled", "r2": "batch_cancelled", "r3": "batch_cancelled"}, codes)
	})
	t.Run("in progress with requests in the engine", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, slowEngine(), WithMaxNumSeqs(2), WithBatchShare(1))
		const n = 5
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(n, 300)), PathChatCompletions).ID
		eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 2 },
			"two batch requests running")
		code, v, body := cancelBatch(t, ts.URL, id)
		require.Equal(t, http.StatusOK, code, string(body))
		require.Equal(t, BatchCancelling, v.Status, "requests in the engine finish first")
		v = waitStatus(t, ts.URL, id, BatchCancelled)
		assertTimes(t, v, "in_progress_at", "cancelling_at", "cancelled_at")
		done := v.RequestCounts.Completed
		assert.GreaterOrEqual(t, done, 2, "the requests running when the batch was cancelled finish")
		assert.Less(t, done, n, "the requests not started are not run")
		assert.Equal(t, requestCounts{Total: n, Completed: done}, v.RequestCounts)
		assert.Len(t, fileLines(t, ts.URL, v.OutputFileID), done)
		ids, codes := customIDs(fileLines(t, ts.URL, v.ErrorFileID))
		assert.Len(t, ids, n-done)
		for _, c := range codes {
			assert.Equal(t, "batch_cancelled", c)
		}
	})
	t.Run("finalizing", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseFinalizing)
		_, ts := startBatchServer(t, WithZeroDelay(), g.option())
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(2, 2)), PathChatCompletions).ID
		g.wait(t, phaseFinalizing)
		code, v, body := cancelBatch(t, ts.URL, id)
		require.Equal(t, http.StatusOK, code, string(body))
		assert.Equal(t, BatchCancelling, v.Status)
		g.release(phaseFinalizing)
		v = waitStatus(t, ts.URL, id, BatchCancelled)
		assertTimes(t, v, "in_progress_at", "finalizing_at", "cancelling_at", "cancelled_at")
		assert.Equal(t, requestCounts{Total: 2, Completed: 2}, v.RequestCounts)
		assert.Len(t, fileLines(t, ts.URL, v.OutputFileID), 2, "the results are kept")
	})
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), g.option())
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(1, 2)), PathChatCompletions).ID
		g.wait(t, phaseValidating)
		_, first, _ := cancelBatch(t, ts.URL, id)
		code, again, body := cancelBatch(t, ts.URL, id)
		require.Equal(t, http.StatusOK, code, string(body))
		assert.Equal(t, first, again, "a second cancel changes nothing")
		g.release(phaseValidating)
		waitStatus(t, ts.URL, id, BatchCancelled)
		code, _, body = cancelBatch(t, ts.URL, id)
		assert.Equal(t, http.StatusOK, code, "a cancelled batch may be cancelled again: %s", body)
	})
	t.Run("finished", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, WithZeroDelay())
		for status, in := range map[string]string{BatchCompleted: chatFile(1, 1), BatchFailed: "{\n"} {
			id := createBatch(t, ts.URL, upload(t, ts.URL, in), PathChatCompletions).ID
			waitStatus(t, ts.URL, id, status)
			code, _, body := cancelBatch(t, ts.URL, id)
			assert.Equal(t, http.StatusConflict, code)
			assert.JSONEq(t, `{"error":{"message":"Cannot cancel a batch with status '`+status+`'.",`+
				`"type":"invalid_request_error","param":null,"code":null}}`, string(body))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, WithZeroDelay())
		code, _, body := cancelBatch(t, ts.URL, "batch_nosuch")
		assert.Equal(t, http.StatusNotFound, code)
		assert.JSONEq(t, `{"error":{"message":"No such Batch object: batch_nosuch","type":"invalid_request_error",`+
			`"param":"batch_id","code":null}}`, string(body))
	})
}

func TestBatchExpires(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	t.Run("in progress", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, slowEngine(), WithMaxNumSeqs(2), WithBatchShare(1), WithBatchCompletionWindow(window))
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(4, 4000)), PathChatCompletions).ID
		v := waitStatus(t, ts.URL, id, BatchExpired)
		assertTimes(t, v, "in_progress_at", "expired_at")
		assert.Equal(t, requestCounts{Total: 4}, v.RequestCounts, "no request could finish in the window")
		assert.Nil(t, v.OutputFileID)
		ids, codes := customIDs(fileLines(t, ts.URL, v.ErrorFileID))
		slices.Sort(ids)
		assert.Equal(t, []string{"r1", "r2", "r3", "r4"}, ids, "running and waiting requests alike")
		for _, c := range codes {
			assert.Equal(t, "batch_expired", c)
		}
		eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 0 },
			"the expired requests leave the engine")
		code, _, _ := cancelBatch(t, ts.URL, id)
		assert.Equal(t, http.StatusConflict, code, "an expired batch cannot be cancelled")
	})
	t.Run("validating", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchCompletionWindow(window), g.option())
		id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(2, 1)), PathChatCompletions).ID
		g.wait(t, phaseValidating)
		time.Sleep(window) // the window began before createBatch returned: it is over now
		g.release(phaseValidating)
		v := waitStatus(t, ts.URL, id, BatchExpired)
		assertTimes(t, v, "expired_at")
	})
}

func TestBatchListPaginates(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay())
	file := upload(t, ts.URL, chatFile(1, 1))
	var created []string
	for range 25 {
		created = append(created, createBatch(t, ts.URL, file, PathChatCompletions).ID)
	}
	slices.Reverse(created) // the list is newest first
	list := func(query string) listView[batchView] {
		t.Helper()
		var l listView[batchView]
		code, b := apiCall(t, http.MethodGet, ts.URL+PathBatches+query, nil, &l)
		require.Equal(t, http.StatusOK, code, string(b))
		assert.Equal(t, "list", l.Object)
		return l
	}
	ids := func(l listView[batchView]) []string {
		var out []string
		for _, b := range l.Data {
			out = append(out, b.ID)
		}
		return out
	}
	first := list("")
	assert.Equal(t, created[:20], ids(first), "20 by default, newest first")
	assert.True(t, first.HasMore)
	assert.Equal(t, created[0], *first.FirstID)
	assert.Equal(t, created[19], *first.LastID)
	rest := list("?after=" + *first.LastID)
	assert.Equal(t, created[20:], ids(rest))
	assert.False(t, rest.HasMore)

	var walked []string
	for after := ""; ; {
		l := list("?limit=7&after=" + after)
		require.LessOrEqual(t, len(l.Data), 7)
		walked = append(walked, ids(l)...)
		if !l.HasMore {
			break
		}
		after = *l.LastID
	}
	assert.Equal(t, created, walked)
	assert.Equal(t, created, ids(list("?limit=100")))
	empty := list("?after=" + created[24])
	assert.Empty(t, empty.Data)
	assert.Nil(t, empty.FirstID)
	assert.False(t, empty.HasMore)
	for _, bad := range []string{"0", "101", "x", "-1"} {
		code, b := apiCall(t, http.MethodGet, ts.URL+PathBatches+"?limit="+bad, nil, nil)
		assert.Equal(t, http.StatusBadRequest, code, bad)
		assert.Contains(t, string(b), `"param":"limit"`)
	}
}

func TestBatchLimits(t *testing.T) {
	t.Parallel()
	t.Run("the oldest finished batches are dropped", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxBatches: 3}))
		file := upload(t, ts.URL, chatFile(1, 1))
		var ids []string
		for range 5 {
			id := createBatch(t, ts.URL, file, PathChatCompletions).ID
			waitStatus(t, ts.URL, id, BatchCompleted)
			ids = append(ids, id)
		}
		for i, id := range ids {
			code, _ := apiCall(t, http.MethodGet, ts.URL+PathBatches+"/"+id, nil, nil)
			assert.Equal(t, map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[i < 2], code, "batch %d", i)
		}
	})
	t.Run("unfinished batches are never dropped", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxBatches: 2}), g.option())
		file := upload(t, ts.URL, chatFile(1, 1))
		a := createBatch(t, ts.URL, file, PathChatCompletions).ID
		b := createBatch(t, ts.URL, file, PathChatCompletions).ID
		code, body := apiCall(t, http.MethodPost, ts.URL+PathBatches,
			map[string]any{"input_file_id": file, "endpoint": PathChatCompletions, "completion_window": "24h"}, nil)
		assert.Equal(t, http.StatusTooManyRequests, code)
		assert.JSONEq(t, `{"error":{"message":"The simulator holds 2 unfinished batches, its limit on batches `+
			`(BatchLimits.MaxBatches); retry when a batch has finished.","type":"rate_limit_error","param":null,`+
			`"code":"simulator_limit_reached"}}`, string(body))
		g.release(phaseValidating)
		waitStatus(t, ts.URL, a, BatchCompleted)
		waitStatus(t, ts.URL, b, BatchCompleted)
		createBatch(t, ts.URL, file, PathChatCompletions)
	})
	t.Run("files", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxFiles: 2}), g.option())
		input := upload(t, ts.URL, chatFile(1, 1))
		id := createBatch(t, ts.URL, input, PathChatCompletions).ID
		g.wait(t, phaseValidating)
		older := upload(t, ts.URL, "a")
		newer := upload(t, ts.URL, "b") // drops older, not the batch's input
		for f, want := range map[string]int{input: http.StatusOK, older: http.StatusNotFound, newer: http.StatusOK} {
			code, _ := apiCall(t, http.MethodGet, ts.URL+PathFiles+"/"+f, nil, nil)
			assert.Equal(t, want, code, f)
		}
		g.release(phaseValidating)
		v := waitStatus(t, ts.URL, id, BatchCompleted)
		require.NotNil(t, v.OutputFileID, "the output file is stored, dropping the oldest file")
		code, _ := apiCall(t, http.MethodGet, ts.URL+PathFiles+"/"+input, nil, nil)
		assert.Equal(t, http.StatusNotFound, code, "the input of a finished batch may be dropped")
	})
	t.Run("files of unfinished batches fill the store", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxFiles: 1, MaxFileBytes: 1000}), g.option())
		input := upload(t, ts.URL, chatFile(1, 1))
		createBatch(t, ts.URL, input, PathChatCompletions)
		g.wait(t, phaseValidating)
		code, body := uploadRaw(t, ts.URL, [2]string{"purpose", "batch"}, [2]string{"file", "x"})
		assert.Equal(t, http.StatusTooManyRequests, code)
		assert.Contains(t, string(body), "its limit on stored files, BatchLimits.MaxFiles")
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		g := newGate(t, phaseValidating)
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxFileBytes: 400}), g.option())
		input := upload(t, ts.URL, chatFile(1, 1))
		createBatch(t, ts.URL, input, PathChatCompletions)
		g.wait(t, phaseValidating)
		code, body := uploadRaw(t, ts.URL, [2]string{"purpose", "batch"}, [2]string{"file", strings.Repeat("x", 300)})
		assert.Equal(t, http.StatusTooManyRequests, code)
		assert.Contains(t, string(body), "(BatchLimits.MaxFileBytes = 400)")
	})
	t.Run("one upload", func(t *testing.T) {
		t.Parallel()
		_, ts := startBatchServer(t, WithZeroDelay(), WithBatchLimits(BatchLimits{MaxUploadBytes: 10}))
		code, body := uploadRaw(t, ts.URL, [2]string{"purpose", "batch"}, [2]string{"file", strings.Repeat("x", 11)})
		assert.Equal(t, http.StatusRequestEntityTooLarge, code)
		assert.JSONEq(t, `{"error":{"message":"The file is larger than the simulator's limit on one upload, 10 bytes `+
			`(BatchLimits.MaxUploadBytes).","type":"invalid_request_error","param":null,"code":"file_too_large"}}`, string(body))
		upload(t, ts.URL, strings.Repeat("x", 10))
	})
}

// TestBatchRequestsRunOnTheEngine: batch requests hold at most their share
// of the engine's sequences, show in its metrics, and leave the rest to
// online requests.
func TestBatchRequestsRunOnTheEngine(t *testing.T) {
	t.Parallel()
	s, ts := startBatchServer(t, slowEngine(), WithMaxNumSeqs(8), WithBatchShare(0.5))
	require.Equal(t, 4, s.cfg.batchSlots())
	const n, tokens = 12, 500
	id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(n, tokens)), PathChatCompletions).ID
	eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 4 },
		"four batch requests running")
	for range 5 {
		mfs := scrape(t, ts.URL)
		assert.LessOrEqual(t, value(mfs, "vllm:num_requests_running"), 4.0, "batch requests hold at most their share")
		assert.Zero(t, value(mfs, "vllm:num_requests_waiting"), "batch requests are fed as slots free up, not queued")
	}
	online := make(chan error, 1)
	go func() {
		_, err := doStream(ts.URL+PathCompletions, streamReq("online", 400))
		online <- err
	}()
	eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 5 },
		"an online request runs beside the batch's share")
	require.NoError(t, <-online)
	v := waitStatus(t, ts.URL, id, BatchCompleted)
	assert.Equal(t, requestCounts{Total: n, Completed: n}, v.RequestCounts)
	mfs := scrape(t, ts.URL)
	assert.Equal(t, float64(n+1), value(mfs, "vllm:request_success_total", "finished_reason", "length"))
	assert.Equal(t, float64(n*tokens+400), value(mfs, "vllm:generation_tokens_total"))
}

func TestCloseStopsBatches(t *testing.T) {
	t.Parallel()
	s, ts := start(t, slowEngine(), WithMaxNumSeqs(2), WithBatchShare(1))
	id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(4, 4000)), PathChatCompletions).ID
	eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 2 },
		"batch requests running")
	s.Close() // returns once every batch goroutine has
	eventually(t, batchWait, func() bool { return value(scrape(t, ts.URL), "vllm:num_requests_running") == 0 },
		"the batch's requests leave the engine")
	v := getBatch(t, ts.URL, id)
	assert.Equal(t, BatchInProgress, v.Status, "a stopped server's batch stays where it was")
	assert.Equal(t, float64(2), value(scrape(t, ts.URL), "vllm:request_success_total", "finished_reason", "abort"))
	code, body := apiCall(t, http.MethodPost, ts.URL+PathBatches,
		map[string]any{"input_file_id": v.InputFileID, "endpoint": PathChatCompletions, "completion_window": "24h"}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, code, "a closed server runs no new batch: %s", body)
}

// TestServeStopsBatches: the batches end with the context of Serve.
func TestServeStopsBatches(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := New(slowEngine(), WithMaxNumSeqs(2), WithBatchShare(1))
	base, wait, err := s.Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	createBatch(t, base, upload(t, base, chatFile(4, 4000)), PathChatCompletions)
	eventually(t, batchWait, func() bool { return value(scrape(t, base), "vllm:num_requests_running") == 2 },
		"batch requests running")
	cancel()
	require.NoError(t, wait())
	s.run.wg.Wait() // returns at once: Serve closed the batches before it returned
	eventually(t, batchWait, func() bool { return testutil.ToFloat64(s.m.running)+testutil.ToFloat64(s.m.waiting) == 0 },
		"the batch's requests leave the engine")
}

func TestBatchCreateRefusesBadRequests(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay())
	file := upload(t, ts.URL, chatFile(1, 1))
	meta := map[string]any{}
	for i := range 17 {
		meta[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"not JSON", "{", `"code":"invalid_request"`},
		{"no input file", map[string]any{"endpoint": PathChatCompletions, "completion_window": "24h"},
			`{"error":{"message":"Missing required parameter: 'input_file_id'.","type":"invalid_request_error",` +
				`"param":"input_file_id","code":"missing_required_parameter"}}`},
		{"no endpoint", map[string]any{"input_file_id": file, "completion_window": "24h"}, `"param":"endpoint"`},
		{"no window", map[string]any{"input_file_id": file, "endpoint": PathChatCompletions}, `"param":"completion_window"`},
		{"endpoint", map[string]any{"input_file_id": file, "endpoint": "/v1/embeddings", "completion_window": "24h"},
			`{"error":{"message":"Invalid value: \"/v1/embeddings\". Supported values are: '/v1/chat/completions' and '/v1/completions'.",` +
				`"type":"invalid_request_error","param":"endpoint","code":"invalid_value"}}`},
		{"window", map[string]any{"input_file_id": file, "endpoint": PathChatCompletions, "completion_window": "1h"},
			`{"error":{"message":"Invalid value: \"1h\". Supported values are: '24h'.",` +
				`"type":"invalid_request_error","param":"completion_window","code":"invalid_value"}}`},
		{"metadata value", map[string]any{"input_file_id": file, "endpoint": PathChatCompletions, "completion_window": "24h",
			"metadata": map[string]any{"tags": []string{"a"}}},
			`{"error":{"message":"Invalid type for \"metadata.tags\": expected a string.",` +
				`"type":"invalid_request_error","param":"metadata.tags","code":"invalid_type"}}`},
		{"metadata size", map[string]any{"input_file_id": file, "endpoint": PathChatCompletions, "completion_window": "24h",
			"metadata": meta}, `"param":"metadata"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body := apiCall(t, http.MethodPost, ts.URL+PathBatches, tt.body, nil)
			assert.Equal(t, http.StatusBadRequest, code)
			if strings.HasPrefix(tt.want, "{") {
				assert.JSONEq(t, tt.want, string(body))
			} else {
				assert.Contains(t, string(body), tt.want)
			}
		})
	}
}

func TestUploadRefusesBadRequests(t *testing.T) {
	t.Parallel()
	_, ts := startBatchServer(t, WithZeroDelay())
	tests := []struct {
		name   string
		fields [][2]string
		want   string
	}{
		{"no file", [][2]string{{"purpose", "batch"}}, `{"error":{"message":"Missing required parameter: 'file'.",` +
			`"type":"invalid_request_error","param":"file","code":"missing_required_parameter"}}`},
		{"no purpose", [][2]string{{"file", "x"}}, `{"error":{"message":"Missing required parameter: 'purpose'.",` +
			`"type":"invalid_request_error","param":"purpose","code":"missing_required_parameter"}}`},
		{"other purpose", [][2]string{{"purpose", "fine-tune"}, {"file", "x"}},
			`{"error":{"message":"Invalid value: \"fine-tune\". The simulator stores only files with purpose 'batch'.",` +
				`"type":"invalid_request_error","param":"purpose","code":"invalid_value"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body := uploadRaw(t, ts.URL, tt.fields...)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.JSONEq(t, tt.want, string(body))
		})
	}
	t.Run("not multipart", func(t *testing.T) {
		t.Parallel()
		code, body := apiCall(t, http.MethodPost, ts.URL+PathFiles, `{"purpose":"batch"}`, nil)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, string(body), "Expected a multipart/form-data body with the fields 'file' and 'purpose'")
	})
	t.Run("method", func(t *testing.T) {
		t.Parallel()
		code, body := apiCall(t, http.MethodPut, ts.URL+PathFiles, nil, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, code)
		assert.Contains(t, string(body), `"type":"invalid_request_error"`)
	})
}

// TestBatchRequestsAreObserved: the observer gets a Record per batch
// request, whose engine times are those of the output line's timing, and
// the Batch API's routes are handlers of the HTTP metrics.
func TestBatchRequestsAreObserved(t *testing.T) {
	t.Parallel()
	var recs records
	_, ts := startBatchServer(t, WithZeroDelay(), WithObserver(&recs))
	id := createBatch(t, ts.URL, upload(t, ts.URL, chatFile(3, 4)), PathChatCompletions).ID
	v := waitStatus(t, ts.URL, id, BatchCompleted)
	lines := fileLines(t, ts.URL, v.OutputFileID)
	byID := recs.wait(t, 3)
	require.Len(t, byID, 3)
	got := recs.byID()
	for _, l := range lines {
		var body struct{ ID string }
		require.NoError(t, json.Unmarshal(l.Response.Body, &body))
		rec, ok := got[body.ID]
		if !assert.True(t, ok, "no record of %s", body.ID) {
			continue
		}
		assert.Equal(t, id, rec.BatchID)
		assert.Equal(t, PathChatCompletions, rec.Endpoint)
		assert.Equal(t, http.StatusOK, rec.Status)
		assert.Equal(t, 4, rec.OutputTokens)
		assert.InDelta(t, unixSeconds(rec.Scheduled), l.Response.Timing.StartedAt, 1e-6)
		assert.InDelta(t, unixSeconds(rec.Finished), l.Response.Timing.FinishedAt, 1e-6)
		assert.LessOrEqual(t, l.Response.Timing.EnqueuedAt, unixSeconds(rec.Arrived)+1e-6,
			"enqueued when the batch went in progress, before the request reached the engine")
	}
	mfs := scrape(t, ts.URL)
	for _, handler := range []string{"/v1/files", "/v1/files/{file_id}/content", "/v1/batches", "/v1/batches/{batch_id}"} {
		assert.Positive(t, value(mfs, "http_requests_total", "handler", handler, "status", "2xx"), handler)
	}
}

// TestBatchUsageSumsItsCompletedRequests: a batch's usage is null until it
// runs, zeros when it starts, and at the end the sums of the usage of its
// output file's lines, with the prefix-cache hits its requests got (the
// observer's records) as cached_tokens; a request that failed counts
// nothing.
func TestBatchUsageSumsItsCompletedRequests(t *testing.T) {
	t.Parallel()
	var recs records
	g := newGate(t, phaseValidating, phaseInProgress)
	_, ts := startBatchServer(t, WithZeroDelay(), WithObserver(&recs), g.option())
	prefix := words(0, 200)
	// An online request puts the shared prefix in the prefix cache, so
	// every request of the batch finds it there.
	resp := post(t, context.Background(), ts.URL+PathChatCompletions, map[string]any{"model": DefaultModel,
		"messages": []map[string]any{{"role": "user", "content": prefix}}, "max_tokens": 2})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(readAll(t, resp)))
	recs.wait(t, 1)
	const n = 5
	var in strings.Builder
	for i := range n {
		in.WriteString(chatLine(fmt.Sprintf("r%d", i), prefix+words(1000+50*i, 3+i), 2+i) + "\n")
	}
	in.WriteString(chatLine("too-long", "Hi", 10_000_000) + "\n")
	id := createBatch(t, ts.URL, upload(t, ts.URL, in.String()), PathChatCompletions).ID

	g.wait(t, phaseValidating)
	assert.Nil(t, getBatch(t, ts.URL, id).Usage, "null before the batch runs")
	g.release(phaseValidating)
	g.wait(t, phaseInProgress)
	v := getBatch(t, ts.URL, id)
	require.NotNil(t, v.Usage, "present from in_progress on")
	assert.Equal(t, batchUsage{}, *v.Usage, "no request has completed yet")
	g.release(phaseInProgress)

	v = waitStatus(t, ts.URL, id, BatchCompleted)
	require.Equal(t, requestCounts{Total: n + 1, Completed: n, Failed: 1}, v.RequestCounts)
	require.NotNil(t, v.Model)
	assert.Equal(t, DefaultModel, *v.Model)
	var want batchUsage
	lines := fileLines(t, ts.URL, v.OutputFileID)
	require.Len(t, lines, n)
	bodyIDs := map[string]bool{}
	for _, l := range lines {
		var body struct {
			ID    string `json:"id"`
			Usage struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
				TotalTokens      int `json:"total_tokens"`
			} `json:"usage"`
		}
		require.NoError(t, json.Unmarshal(l.Response.Body, &body))
		want.InputTokens += body.Usage.PromptTokens
		want.OutputTokens += body.Usage.CompletionTokens
		want.TotalTokens += body.Usage.TotalTokens
		bodyIDs[body.ID] = true
	}
	for _, r := range recs.wait(t, 1+n) { // the one online, the batch's that ran

		if r.BatchID == id && bodyIDs[r.ID] {
			want.InputTokensDetails.CachedTokens += r.CachedTokens
		}
	}
	assert.Positive(t, want.InputTokensDetails.CachedTokens, "the requests hit the prefix cache")
	assert.Equal(t, 2*n+n*(n-1)/2, want.OutputTokens, "max_tokens 2, 3, … with ignore_eos")
	require.NotNil(t, v.Usage)
	assert.Equal(t, want, *v.Usage)

	_, raw := apiCall(t, http.MethodGet, ts.URL+PathBatches+"/"+id, nil, nil)
	assert.Contains(t, string(raw), `"output_tokens_details":{"reasoning_tokens":0}`,
		"reasoning_tokens is 0, present: the simulator generates no reasoning")
}
