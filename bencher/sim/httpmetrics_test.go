package sim

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instrumentatorFamily is one family of prometheus-fastapi-instrumentator's
// default instrumentation (metrics.default() in its metrics.py), as vLLM
// serves it.
type instrumentatorFamily struct {
	typ     dto.MetricType
	help    string
	labels  string // label names, sorted, comma-separated
	buckets []float64
}

// instrumentatorFamilies are the families, help texts, label names and
// buckets of the instrumentator's defaults, copied from its source (+Inf
// added, as the parsed exposition has it).
var instrumentatorFamilies = map[string]instrumentatorFamily{
	"http_requests_total": {typ: dto.MetricType_COUNTER, labels: "handler,method,status",
		help: "Total number of requests by method, status and handler."},
	"http_request_size_bytes": {typ: dto.MetricType_SUMMARY, labels: "handler",
		help: "Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. "},
	"http_response_size_bytes": {typ: dto.MetricType_SUMMARY, labels: "handler",
		help: "Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. "},
	"http_request_duration_highr_seconds": {typ: dto.MetricType_HISTOGRAM, labels: "",
		help:    "Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. ",
		buckets: []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60, math.Inf(1)}},
	"http_request_duration_seconds": {typ: dto.MetricType_HISTOGRAM, labels: "handler,method",
		help:    "Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ",
		buckets: []float64{0.1, 0.5, 1, math.Inf(1)}},
}

func TestHTTPMetricsAreTheInstrumentators(t *testing.T) {
	t.Parallel()
	got := parseExposition(t, exposition(t))
	for name, want := range instrumentatorFamilies {
		t.Run(name, func(t *testing.T) {
			mf, ok := got[name]
			require.True(t, ok, "%s is not served", name)
			assert.Equal(t, want.typ, mf.GetType(), "type")
			assert.Equal(t, want.help, mf.GetHelp(), "help")
			assert.Equal(t, []string{want.labels}, labelSets(mf), "label names")
			if want.typ == dto.MetricType_HISTOGRAM {
				assert.Equal(t, want.buckets, bucketBounds(mf), "buckets")
			}
			if want.typ == dto.MetricType_SUMMARY {
				for _, m := range mf.GetMetric() {
					assert.Empty(t, m.GetSummary().GetQuantile(), "no percentile calculated")
				}
			}
		})
	}
}

// TestHTTPMetricsMatchTheDocsCapture checks the label names against the
// real capture of vLLM's docs (../shared/fixtures), which lists one
// series of each family.
func TestHTTPMetricsMatchTheDocsCapture(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../shared/fixtures/vllm-metrics-docs-excerpts.txt")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("fixture absent")
	}
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^(http_[a-z_]+?)(?:_count|_sum|_bucket)?(?:\{([^}]*)\})? \S+$`)
	seen := 0
	for _, m := range line.FindAllStringSubmatch(string(raw), -1) {
		want, ok := instrumentatorFamilies[m[1]]
		if !assert.True(t, ok, "the capture has %s", m[1]) {
			continue
		}
		var names []string
		for _, pair := range strings.Split(m[2], ",") {
			if name, _, ok := strings.Cut(pair, "="); ok && name != "le" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		assert.Equal(t, want.labels, strings.Join(names, ","), "%s", m[0])
		seen++
	}
	assert.Equal(t, len(instrumentatorFamilies), seen, "one series of each family in the capture")
}

// TestHTTPMetricsCountWhatTheClientsGot sends requests that end in each
// way and checks http_requests_total by method, grouped status and
// handler, the sizes and the durations.
func TestHTTPMetricsCountWhatTheClientsGot(t *testing.T) {
	t.Parallel()
	_, ok := start(t, WithZeroDelay())
	_, limited := start(t, WithZeroDelay(), WithFaults(Faults{RateLimit: 1, RetryAfter: time.Second}))
	_, failing := start(t, WithZeroDelay(), WithFaults(Faults{ServerError: 1}))
	_, cut := start(t, WithZeroDelay(), WithFaults(Faults{Abort: 1}))
	ctx := context.Background()
	send := func(url string, body any) int {
		r := post(t, ctx, url, body)
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode
	}
	nonStream := map[string]any{"model": DefaultModel, "prompt": "hello there", "max_tokens": 4}
	assert.Equal(t, 200, send(ok.URL+PathCompletions, streamReq("hello", 4)))
	assert.Equal(t, 200, send(ok.URL+PathCompletions, nonStream))
	assert.Equal(t, 404, send(ok.URL+PathCompletions, `{"model":"nope","prompt":"x"}`))
	assert.Equal(t, 400, send(ok.URL+PathChatCompletions, `{"messages":`))
	for _, p := range []string{"/nope", PathModels, PathHealth, PathVersion, PathMetrics, "/ping", "/v1/models/x"} {
		resp, err := ok.Client().Get(ok.URL + p)
		require.NoError(t, err)
		readAll(t, resp)
	}
	assert.Equal(t, 429, send(limited.URL+PathChatCompletions, map[string]any{"messages": []any{map[string]any{"role": "user", "content": "hi"}}}))
	assert.Equal(t, 500, send(failing.URL+PathCompletions, nonStream))
	// A stream cut after its 200 started is a 2xx; a response cut before
	// it started is a 5xx (the instrumentator's default status is 500).
	assert.Equal(t, 200, send(cut.URL+PathCompletions, streamReq("hello", 8)))
	_, err := http.Post(cut.URL+PathCompletions, "application/json", strings.NewReader(`{"prompt":"hello","max_tokens":8}`))
	require.Error(t, err, "the non-streamed request's connection is cut")

	counts := func(url string) map[string]float64 {
		out := map[string]float64{}
		mfs := scrape(t, url)
		for _, m := range mfs["http_requests_total"].GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["method"]+" "+l["handler"]+" "+l["status"]] = m.GetCounter().GetValue()
		}
		return out
	}
	// The cut request is counted once the handler returns.
	eventually(t, 10*time.Second, func() bool { return len(counts(cut.URL)) == 2 }, "the cut requests are counted")
	assert.Equal(t, map[string]float64{
		"POST /v1/completions 2xx": 2, "POST /v1/completions 4xx": 1, "POST /v1/chat/completions 4xx": 1,
		"GET none 4xx": 2, "GET /v1/models 2xx": 1,
	}, counts(ok.URL), "/health, /version, /metrics and /ping are left out; unknown paths are handler none")
	assert.Equal(t, map[string]float64{"POST /v1/chat/completions 4xx": 1}, counts(limited.URL))
	assert.Equal(t, map[string]float64{"POST /v1/completions 5xx": 1}, counts(failing.URL))
	assert.Equal(t, map[string]float64{"POST /v1/completions 2xx": 1, "POST /v1/completions 5xx": 1}, counts(cut.URL))

	mfs := scrape(t, ok.URL)
	summary := func(name, handler string) (count uint64, sum float64) {
		for _, m := range mfs[name].GetMetric() {
			if hasLabels(m, "handler", handler) {
				count += m.GetSummary().GetSampleCount()
				sum += m.GetSummary().GetSampleSum()
			}
		}
		return count, sum
	}
	n, size := summary("http_request_size_bytes", PathCompletions)
	assert.Equal(t, uint64(3), n)
	assert.Greater(t, size, 50.0, "request bodies by their Content-Length")
	n, size = summary("http_response_size_bytes", PathModels)
	assert.Equal(t, uint64(1), n)
	assert.Greater(t, size, 50.0, "a JSON response by its Content-Length")
	var highr uint64
	for _, m := range mfs["http_request_duration_highr_seconds"].GetMetric() {
		highr += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(7), highr, "every counted request timed")
}
