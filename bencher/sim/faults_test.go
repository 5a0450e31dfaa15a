package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	const maxTokens = 10
	tests := []struct {
		name   string
		faults Faults
		stream bool
		check  func(t *testing.T, resp *http.Response, ts string, sent time.Time)
	}{
		{"rate limit", Faults{RateLimit: 1, RetryAfter: 1500 * time.Millisecond}, true, func(t *testing.T, resp *http.Response, _ string, _ time.Time) {
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, "2", resp.Header.Get("Retry-After"))
			assert.JSONEq(t, `{"error":{"message":"Too many requests (simulated rate limit). Please retry after 2 seconds.",`+
				`"type":"RateLimitError","param":null,"code":429}}`, string(readAll(t, resp)))
		}},
		{"server error", Faults{ServerError: 1}, false, func(t *testing.T, resp *http.Response, _ string, _ time.Time) {
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.JSONEq(t, `{"error":{"message":"Internal server error (simulated fault).","type":"InternalServerError","param":null,"code":500}}`,
				string(readAll(t, resp)))
		}},
		{"context too long", Faults{ContextTooLong: 1}, true, func(t *testing.T, resp *http.Response, _ string, _ time.Time) {
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			e := parseChunk(t, string(readAll(t, resp))).Error
			require.NotNil(t, e)
			assert.Equal(t, "BadRequestError", e.Type)
			assert.Equal(t, 400, e.Code)
			assert.Regexp(t, `^This model's maximum context length is 8192 tokens\. However, you requested 10 output tokens and your prompt contains at least 8183 input tokens`, e.Message)
		}},
		{"abort mid-stream", Faults{Abort: 1}, true, func(t *testing.T, resp *http.Response, base string, _ time.Time) {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			evs, err := readEvents(resp.Body)
			resp.Body.Close()
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the connection is closed mid-stream")
			assert.NotEmpty(t, evs)
			assert.Less(t, len(evs), maxTokens)
			for _, ev := range evs {
				assert.NotEqual(t, "[DONE]", ev.data)
			}
			eventually(t, time.Second, func() bool {
				return value(scrape(t, base), "vllm:request_success_total", "finished_reason", "abort") == 1
			}, "counted as abort")
		}},
		{"abort non-streaming", Faults{Abort: 1}, false, nil},
		{"error event", Faults{ErrorEvent: 1}, true, func(t *testing.T, resp *http.Response, base string, _ time.Time) {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			evs, err := readEvents(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(evs), 3)
			assert.Equal(t, "[DONE]", evs[len(evs)-1].data)
			errEv := evs[len(evs)-2].data
			assert.Regexp(t, regexp.MustCompile(`^\{"error": \{"message": "Simulated engine error after \d+ tokens\.", "type": "InternalServerError", "param": null, "code": 500\}\}$`), errEv)
			for _, ev := range evs[:len(evs)-2] {
				c := parseChunk(t, ev.data)
				assert.Nil(t, c.Error)
				assert.Nil(t, c.Choices[0].FinishReason, "an errored stream has no finish_reason")
			}
			eventually(t, time.Second, func() bool {
				return value(scrape(t, base), "vllm:request_success_total", "finished_reason", "error") == 1
			}, "counted as error")
		}},
		{"error non-streaming", Faults{ErrorEvent: 1}, false, func(t *testing.T, resp *http.Response, _ string, _ time.Time) {
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Regexp(t, `"type":"InternalServerError","param":null,"code":500`, string(readAll(t, resp)))
		}},
		{"stall", Faults{Stall: 1, StallDuration: 150 * time.Millisecond}, true, func(t *testing.T, resp *http.Response, _ string, sent time.Time) {
			evs, err := readEvents(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Len(t, evs, maxTokens+1)
			assert.GreaterOrEqual(t, evs[len(evs)-1].at.Sub(sent), 150*time.Millisecond, "the stream paused")
			gap := time.Duration(0)
			for i := 1; i < len(evs); i++ {
				gap = max(gap, evs[i].at.Sub(evs[i-1].at))
			}
			assert.GreaterOrEqual(t, gap, 75*time.Millisecond, "the pause is between two events, mid-stream")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ts := start(t, WithZeroDelay(), WithFaults(tt.faults))
			body := streamReq("hello there", maxTokens)
			body["stream"] = tt.stream
			if tt.check == nil { // the connection closes without a response
				b, _ := json.Marshal(body)
				resp, err := http.Post(ts.URL+PathCompletions, "application/json", bytes.NewReader(b))
				if err == nil {
					resp.Body.Close()
				}
				assert.Error(t, err)
				return
			}
			sent := time.Now()
			resp := post(t, context.Background(), ts.URL+PathCompletions, body)
			tt.check(t, resp, ts.URL, sent)
		})
	}
}

func TestFaultShares(t *testing.T) {
	t.Parallel()
	faults := Faults{RateLimit: 0.2, ServerError: 0.1, ContextTooLong: 0.1}
	statuses := func(seed uint64) []int {
		_, ts := start(t, WithZeroDelay(), WithSeed(seed), WithFaults(faults))
		var out []int
		for range 200 {
			body := streamReq("x", 1)
			body["stream"] = false
			resp := post(t, context.Background(), ts.URL+PathCompletions, body)
			readAll(t, resp)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b, c := statuses(7), statuses(7), statuses(8)
	assert.Equal(t, a, b, "the same seed gives the same faults in the same order")
	assert.NotEqual(t, a, c, "another seed gives other faults")
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	assert.InDelta(t, 40, count[http.StatusTooManyRequests], 20)
	assert.InDelta(t, 20, count[http.StatusInternalServerError], 14)
	assert.InDelta(t, 20, count[http.StatusBadRequest], 14)
	assert.InDelta(t, 120, count[http.StatusOK], 30)
}

func TestDeterministicWithSeed(t *testing.T) {
	t.Parallel()
	created := regexp.MustCompile(`"created":\d+`)
	bodies := func(seed uint64) []string {
		_, ts := start(t, WithZeroDelay(), WithSeed(seed), WithFaults(Faults{Stall: 0.3, StallDuration: time.Millisecond}))
		var out []string
		for i := range 6 {
			body := map[string]any{"prompt": words(i%3, 30), "max_tokens": 40, "stream": i%2 == 0}
			resp := post(t, context.Background(), ts.URL+PathCompletions, body)
			out = append(out, created.ReplaceAllString(string(readAll(t, resp)), `"created":0`))
		}
		return out
	}
	a, b, c := bodies(42), bodies(42), bodies(43)
	assert.Equal(t, a, b, "same seed, same answers")
	for i := range a {
		assert.NotEqual(t, a[i], c[i], "another seed, other answers")
	}
}
