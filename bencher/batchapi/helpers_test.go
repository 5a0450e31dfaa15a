package batchapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/sim/simtest"
)

// startSim starts the simulator and returns its OpenAI base URL.
func startSim(t *testing.T, opts ...sim.Option) string {
	t.Helper()
	return simtest.Start(t, opts...) + "/v1"
}

// requests returns n short completions requests.
func requests(n int) []bencher.Request {
	out := make([]bencher.Request, n)
	for i := range out {
		out[i] = bencher.Request{Prompt: fmt.Sprintf("request %d: tell me about batches", i), MaxTokens: 8}
	}
	return out
}

// fakeServer is an OpenAI-compatible Batch API server with scripted
// answers, for what the simulator never does: other servers' fields and
// statuses, files that are missing, rate limits.
type fakeServer struct {
	// polls are the answers of GET /batches/{id}, in turn; the last one
	// repeats.
	polls []fakeAnswer
	// output and errors are the contents of the files "out" and "err".
	output, errors string

	mu      sync.Mutex
	polled  []time.Time // when each GET /batches/{id} came
	created map[string]any
	url     string
}

// fakeAnswer is one scripted answer: a status and a body, and a
// Retry-After.
type fakeAnswer struct {
	code       int
	body       string
	retryAfter string
	// drop closes the connection without an answer (a reset, a proxy
	// that died): a transport error, not an HTTP one.
	drop bool
}

// start serves f and returns its OpenAI base URL.
func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(ts.Close)
	f.url = ts.URL + "/v1"
	return f.url
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch p := r.URL.Path; {
	case r.Method == http.MethodPost && p == "/v1/files":
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"id":"file-in","object":"file","bytes":10,"created_at":1,"filename":"in.jsonl","purpose":"batch",`+
			`"status":"processed","a_field_from_the_future":{"x":[1,2]}}`)
	case r.Method == http.MethodPost && p == "/v1/batches":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.created = body
		f.mu.Unlock()
		fmt.Fprint(w, `{"id":"batch_1","object":"batch","status":"validating","endpoint":"/v1/completions",`+
			`"input_file_id":"file-in","request_counts":{"total":0,"completed":0,"failed":0}}`)
	case r.Method == http.MethodGet && p == "/v1/batches/batch_1":
		f.mu.Lock()
		f.polled = append(f.polled, time.Now())
		a := f.polls[min(len(f.polled), len(f.polls))-1]
		f.mu.Unlock()
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.code)
		fmt.Fprint(w, a.body)
	case r.Method == http.MethodPost && p == "/v1/batches/batch_1/cancel":
		fmt.Fprint(w, `{"id":"batch_1","status":"cancelled"}`)
	case r.Method == http.MethodGet && p == "/v1/files/out/content":
		w.Header().Set("Content-Type", "application/jsonl")
		fmt.Fprint(w, f.output)
	case r.Method == http.MethodGet && p == "/v1/files/err/content":
		w.Header().Set("Content-Type", "application/jsonl")
		fmt.Fprint(w, f.errors)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"message":"no route %s %s","type":"invalid_request_error","code":null}}`, r.Method, p)
	}
}

// pollTimes returns when the polls came.
func (f *fakeServer) pollTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.polled...)
}

// okLine returns an output line answering custom_id with usage, and the
// timing extension when timing.
func okLine(customID string, prompt, completion int, timing string) string {
	resp := fmt.Sprintf(`{"status_code":200,"request_id":"r-%s","body":{"id":"c","object":"text_completion",`+
		`"choices":[{"index":0,"text":"hi","finish_reason":"length"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,`+
		`"total_tokens":%d}}%s}`, customID, prompt, completion, prompt+completion, timing)
	return fmt.Sprintf(`{"id":"line-%s","custom_id":%q,"response":%s,"error":null}`+"\n", customID, customID, resp)
}

// batchJSON returns a batch object in status with the given files.
func batchJSON(status, output, errors string, extra string) string {
	return fmt.Sprintf(`{"id":"batch_1","object":"batch","endpoint":"/v1/completions","status":%q,`+
		`"input_file_id":"file-in","output_file_id":%s,"error_file_id":%s,"created_at":1,`+
		`"request_counts":{"total":4,"completed":2,"failed":2},"usage":{"input_tokens":3},"unknown":true%s}`,
		status, nullable(output), nullable(errors), extra)
}

// nullable returns s quoted, or null when empty.
func nullable(s string) string {
	if s == "" {
		return "null"
	}
	return fmt.Sprintf("%q", s)
}

// joinLines joins output lines.
func joinLines(lines ...string) string { return strings.Join(lines, "") }

// ftoa formats a float for JSON.
func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
