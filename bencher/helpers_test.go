package bencher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/benchstation/benchstation/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve starts an httptest server with h and returns its OpenAI base URL.
// It answers GET /v1/models itself (the requests that open the connection
// pool before a run, see WithPrewarm), so that h sees only the run's
// requests; serveAll gives h every request.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	return serveAll(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
			return
		}
		h(w, r)
	})
}

// serveAll starts an httptest server with h and returns its OpenAI base
// URL.
func serveAll(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL + "/v1"
}

// events writes events ("data: X\n\n" each) and flushes after each.
func events(w http.ResponseWriter, events ...string) {
	for _, e := range events {
		fmt.Fprintf(w, "data: %s\n\n", e)
		w.(http.Flusher).Flush()
	}
}

// startSSE writes the headers of a stream.
func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// Chunks of completions and chat streams.
func textChunk(text string) string {
	return fmt.Sprintf(`{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":%q,"finish_reason":null}]}`, text)
}

func finishChunk(text, reason string) string {
	return fmt.Sprintf(`{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":%q,"finish_reason":%q}]}`, text, reason)
}

func usageChunk(prompt, completion int) string {
	return fmt.Sprintf(`{"id":"cmpl-1","object":"text_completion","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		prompt, completion, prompt+completion)
}

const roleChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`

func deltaChunk(field, text string) string {
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{%q:%q},"finish_reason":null}]}`, field, text)
}

// fullStream writes a complete completions stream of n tokens with usage.
func fullStream(w http.ResponseWriter, n int) {
	startSSE(w)
	for i := range n - 1 {
		events(w, textChunk(fmt.Sprintf(" t%d", i)))
	}
	events(w, finishChunk(" end", "length"), usageChunk(5, n), "[DONE]")
}

// sendOne sends one request with a fresh client and returns its record.
func sendOne(t *testing.T, ctx context.Context, req Request, opts ...Option) Record {
	t.Helper()
	c, err := NewClient(append([]Option{WithModel("m")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	var rec Record
	c.Do(ctx, &req, &rec, time.Now())
	return rec
}

// bodyOf decodes a request body.
func bodyOf(t assert.TestingT, r *http.Request) map[string]any {
	b, err := io.ReadAll(r.Body)
	assert.NoError(t, err)
	var m map[string]any
	assert.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

// arrivals records when requests arrived at a test server.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) add(at time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.times = append(a.times, at)
	return len(a.times)
}

func (a *arrivals) all() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

// timing runs a timing-sensitive check up to three times (testkit.Retry).
// Under the race detector, beside every other package's tests, such checks
// measure the machine rather than the client (their millisecond bounds
// failed CI's -race pass): they skip there, and go tool mage test runs them
// in its pass without the race detector, alone.
func timing(t *testing.T, check func(c assert.TestingT)) {
	t.Helper()
	if raceEnabled {
		t.Skip("timing-sensitive: runs without the race detector (go test -count=1 ./bencher/; go tool mage test runs it)")
	}
	testkit.Retry(t, check)
}
