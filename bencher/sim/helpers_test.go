package sim

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchstation/benchstation/internal/testkit"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start serves a new Server on an httptest server.
func start(t *testing.T, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts...)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// post sends a JSON body.
func post(t *testing.T, ctx context.Context, url string, body any) *http.Response {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// readAll reads and closes a response body.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// event is one SSE data payload and when it was read.
type event struct {
	data string
	at   time.Time
}

// readEvents parses an SSE body strictly: every event is "data: …\n\n".
// It returns the events read and the read error, if any.
func readEvents(body io.Reader) ([]event, error) {
	br := bufio.NewReader(body)
	var out []event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return out, nil
			}
			return out, err
		}
		at := time.Now()
		if !strings.HasPrefix(line, "data: ") {
			return out, &formatError{"event line without data: prefix: " + line}
		}
		blank, err := br.ReadString('\n')
		if err != nil {
			return out, err
		}
		if blank != "\n" {
			return out, &formatError{"event not followed by a blank line: " + blank}
		}
		out = append(out, event{data: strings.TrimSuffix(line[len("data: "):], "\n"), at: at})
	}
}

type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

// chunk is a streamed completion or chat chunk, or an error event.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Delta        *struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    int     `json:"code"`
	} `json:"error"`
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func parseChunk(t *testing.T, data string) chunk {
	t.Helper()
	var c chunk
	require.NoError(t, json.Unmarshal([]byte(data), &c), data)
	return c
}

// content is the generated text of a chunk ("" for role and usage chunks).
func (c chunk) content() string {
	if len(c.Choices) == 0 {
		return ""
	}
	ch := c.Choices[0]
	if ch.Text != nil {
		return *ch.Text
	}
	if ch.Delta != nil && ch.Delta.Content != nil {
		return *ch.Delta.Content
	}
	return ""
}

// streamReq is a streaming completion request body.
func streamReq(prompt string, maxTokens int) map[string]any {
	return map[string]any{"model": DefaultModel, "prompt": prompt, "max_tokens": maxTokens,
		"ignore_eos": true, "stream": true}
}

// doStream sends a streamed request and returns its events; it does not
// fail the test, so goroutines may call it.
func doStream(url string, body any) ([]event, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &formatError{"status " + resp.Status}
	}
	return readEvents(resp.Body)
}

// runStream sends a streamed request and returns its events.
func runStream(t *testing.T, url string, body any) []event {
	t.Helper()
	evs, err := doStream(url, body)
	require.NoError(t, err)
	return evs
}

// tryScrape reads /metrics without failing the test.
func tryScrape(baseURL string) map[string]*dto.MetricFamily {
	resp, err := http.Get(baseURL + PathMetrics)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, _ := p.TextToMetricFamilies(resp.Body)
	return mfs
}

// scrape reads /metrics.
func scrape(t *testing.T, baseURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(baseURL + PathMetrics)
	require.NoError(t, err)
	return parseExposition(t, readAll(t, resp))
}

func parseExposition(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	require.NoError(t, err)
	return mfs
}

// value sums a counter's or gauge's series whose labels include match.
func value(mfs map[string]*dto.MetricFamily, name string, match ...string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return -1
	}
	sum := 0.0
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, match...) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, match ...string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == match[i] && lp.GetValue() == match[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// records collects observer records.
type records struct {
	mu   sync.Mutex
	list []Record
}

func (r *records) Observe(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec)
}

// all returns the records in arrival order.
func (r *records) all() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Record(nil), r.list...)
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// wait waits until n records arrived (the observer runs after the response
// was written, so a client may finish first) and returns them; it returns
// nil, after reporting to t, if they do not come.
func (r *records) wait(t assert.TestingT, n int) []Record {
	if !assert.Eventually(t, func() bool { return len(r.all()) >= n }, 5*time.Second, time.Millisecond, "records") {
		return nil
	}
	return r.all()
}

func (r *records) byID() map[string]Record {
	out := map[string]Record{}
	for _, rec := range r.all() {
		out[rec.ID] = rec
	}
	return out
}

// timing runs a timing-sensitive check up to three times (testkit.Retry).
func timing(t *testing.T, check func(c assert.TestingT)) {
	t.Helper()
	testkit.Retry(t, check)
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, d, 2*time.Millisecond, msg)
}

// words makes a prompt of n distinct 4-byte tokens starting at from.
func words(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + (i/26)%26)))
		b.WriteString(string(rune('a' + (i/676)%26)))
		b.WriteByte(' ')
	}
	return b.String()
}
