package serverside

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// received is one query that the fake Prometheus received.
type received struct {
	Method, Path, Query, Time, Timeout string
	User, Password                     string
}

// fakeProm is an httptest Prometheus HTTP API that answers instant queries
// with answer (an empty vector when answer is nil or returns "").
type fakeProm struct {
	*httptest.Server
	answer func(query string) (status int, body string)

	mu  sync.Mutex
	got []received
}

// newFakeProm starts a fake Prometheus, stopped when the test ends.
func newFakeProm(t *testing.T, answer func(query string) (int, string)) *fakeProm {
	t.Helper()
	f := &fakeProm{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// serve answers POST /api/v1/query.
func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, queryPath) {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	user, pass, _ := r.BasicAuth()
	q := r.Form.Get("query")
	f.mu.Lock()
	f.got = append(f.got, received{Method: r.Method, Path: r.URL.Path, Query: q, Time: r.Form.Get("time"),
		Timeout: r.Form.Get("timeout"), User: user, Password: pass})
	f.mu.Unlock()
	status, body := http.StatusOK, ""
	if f.answer != nil {
		status, body = f.answer(q)
	}
	if body == "" {
		body = vector()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// queries returns the queries received so far.
func (f *fakeProm) queries() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// exprs returns the PromQL of the queries received so far.
func (f *fakeProm) exprs() []string {
	var out []string
	for _, r := range f.queries() {
		out = append(out, r.Query)
	}
	return out
}

// vector returns a successful answer: a vector with one sample per value.
func vector(values ...string) string {
	result := "["
	for i, v := range values {
		if i > 0 {
			result += ","
		}
		result += fmt.Sprintf(`{"metric":{},"value":[1800000000.5,%q]}`, v)
	}
	return `{"status":"success","data":{"resultType":"vector","result":` + result + `]}}`
}

// apiError returns an error answer of Prometheus's API.
func apiError(typ, msg string) string {
	return fmt.Sprintf(`{"status":"error","errorType":%q,"error":%q}`, typ, msg)
}

// num formats v for a vector.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// newClient returns a client of f's URL (plus path) with no wait.
func newClient(t *testing.T, rawURL string, opts ...Option) *Client {
	t.Helper()
	c, err := New(rawURL, append([]Option{WithWait(0)}, opts...)...)
	require.NoError(t, err)
	return c
}

// window is the run window of the tests: 41.3 s, so R = 42s.
var (
	windowStart = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)
	windowEnd   = windowStart.Add(41300 * time.Millisecond)
)
