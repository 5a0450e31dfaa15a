package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startBatch serves a new Server whose batches stop when the test ends.
func startBatchServer(t *testing.T, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	s, ts := start(t, opts...)
	t.Cleanup(s.Close)
	return s, ts
}

// batchWait bounds the waits for a batch to reach a status.
const batchWait = 20 * time.Second

// gate is a batch hook that holds every batch at the phases it was made
// with until the test releases that phase.
type gate struct {
	hold    map[batchPhase]chan struct{}
	reached chan batchPhase
	once    map[batchPhase]*sync.Once
}

func newGate(t *testing.T, phases ...batchPhase) *gate {
	g := &gate{hold: map[batchPhase]chan struct{}{}, reached: make(chan batchPhase, 64), once: map[batchPhase]*sync.Once{}}
	for _, p := range phases {
		g.hold[p] = make(chan struct{})
		g.once[p] = &sync.Once{}
	}
	t.Cleanup(func() { // a failed test must not leave batches blocked
		for p := range g.hold {
			g.release(p)
		}
	})
	return g
}

// option installs the gate.
func (g *gate) option() Option {
	return func(c *config) {
		c.batchHook = func(ctx context.Context, _ string, p batchPhase) {
			if c, ok := g.hold[p]; ok && !isClosed(c) {
				g.reached <- p
				select {
				case <-c:
				case <-ctx.Done(): // the server closes
				}
			}
		}
	}
}

// wait waits until a batch is held at phase p.
func (g *gate) wait(t *testing.T, p batchPhase) {
	t.Helper()
	select {
	case got := <-g.reached:
		require.Equal(t, p, got, "phase reached")
	case <-time.After(batchWait):
		t.Fatalf("no batch reached phase %d", p)
	}
}

// release lets the batches held at p, and those to come, go on.
func (g *gate) release(p batchPhase) { g.once[p].Do(func() { close(g.hold[p]) }) }

// apiCall sends a request and decodes a JSON answer into out (when not nil);
// it returns the status and the raw body.
func apiCall(t *testing.T, method, url string, body any, out any) (int, []byte) {
	t.Helper()
	var rd *bytes.Reader
	switch v := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(v))
	default:
		b, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b := readAll(t, resp)
	if out != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return resp.StatusCode, b
}

// multipartBody builds a multipart/form-data body of the given fields; a
// field named "file" is sent as a file named in.jsonl.
func multipartBody(t *testing.T, fields ...[2]string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		var w interface{ Write([]byte) (int, error) }
		var err error
		if f[0] == "file" {
			w, err = mw.CreateFormFile("file", "in.jsonl")
		} else {
			w, err = mw.CreateFormField(f[0])
		}
		require.NoError(t, err)
		_, err = w.Write([]byte(f[1]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), &buf
}

// uploadRaw posts a multipart body and returns the status and body.
func uploadRaw(t *testing.T, base string, fields ...[2]string) (int, []byte) {
	t.Helper()
	ct, body := multipartBody(t, fields...)
	resp, err := http.Post(base+PathFiles, ct, body)
	require.NoError(t, err)
	return resp.StatusCode, readAll(t, resp)
}

// upload stores a batch input file and returns its id.
func upload(t *testing.T, base, content string) string {
	t.Helper()
	code, b := uploadRaw(t, base, [2]string{"purpose", "batch"}, [2]string{"file", content})
	require.Equal(t, http.StatusOK, code, string(b))
	var f fileView
	require.NoError(t, json.Unmarshal(b, &f))
	return f.ID
}

// createBatch creates a batch of a file on an endpoint.
func createBatch(t *testing.T, base, fileID, endpoint string) batchView {
	t.Helper()
	var v batchView
	code, b := apiCall(t, http.MethodPost, base+PathBatches,
		map[string]any{"input_file_id": fileID, "endpoint": endpoint, "completion_window": "24h"}, &v)
	require.Equal(t, http.StatusOK, code, string(b))
	require.Equal(t, BatchValidating, v.Status)
	return v
}

func getBatch(t *testing.T, base, id string) batchView {
	t.Helper()
	var v batchView
	code, b := apiCall(t, http.MethodGet, base+PathBatches+"/"+id, nil, &v)
	require.Equal(t, http.StatusOK, code, string(b))
	return v
}

func cancelBatch(t *testing.T, base, id string) (int, batchView, []byte) {
	t.Helper()
	var v batchView
	code, b := apiCall(t, http.MethodPost, base+PathBatches+"/"+id+"/cancel", nil, &v)
	return code, v, b
}

// waitStatus polls a batch until it has the status.
func waitStatus(t *testing.T, base, id, status string) batchView {
	t.Helper()
	var v batchView
	require.Eventually(t, func() bool {
		v = getBatch(t, base, id)
		return v.Status == status
	}, batchWait, 2*time.Millisecond, "batch %s never reached %s", id, status)
	return v
}

// fileLines reads a stored file's content as JSON lines.
func fileLines(t *testing.T, base string, id *string) []outputLineJSON {
	t.Helper()
	if id == nil {
		return nil
	}
	code, b := apiCall(t, http.MethodGet, base+PathFiles+"/"+*id+"/content", nil, nil)
	require.Equal(t, http.StatusOK, code, string(b))
	var out []outputLineJSON
	for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
		var o outputLineJSON
		require.NoError(t, json.Unmarshal([]byte(l), &o), l)
		out = append(out, o)
	}
	return out
}

// outputLineJSON is an output or error file line as a client reads it.
type outputLineJSON struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
		Timing     *batchTiming    `json:"timing"`
	} `json:"response"`
	Error *outputError `json:"error"`
}

// chatLine is an input line of a chat request.
func chatLine(customID, content string, maxTokens int) string {
	b, _ := json.Marshal(map[string]any{"custom_id": customID, "method": "POST", "url": PathChatCompletions,
		"body": map[string]any{"model": DefaultModel, "messages": []map[string]any{{"role": "user", "content": content}},
			"max_tokens": maxTokens, "ignore_eos": true}})
	return string(b)
}

// chatFile is an input file of n chat requests of maxTokens tokens each,
// custom_ids r1, r2, ….
func chatFile(n, maxTokens int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(chatLine(fmt.Sprintf("r%d", i), fmt.Sprintf("Question number %d?", i), maxTokens))
		b.WriteByte('\n')
	}
	return b.String()
}

// customIDs returns the custom_ids of lines, and the error codes of those
// with an error.
func customIDs(lines []outputLineJSON) (ids []string, codes map[string]string) {
	codes = map[string]string{}
	for _, l := range lines {
		ids = append(ids, l.CustomID)
		if l.Error != nil {
			codes[l.CustomID] = l.Error.Code
		}
	}
	return ids, codes
}

// assertTimes checks that a batch's timestamps are set exactly for the
// phases named, in order.
func assertTimes(t *testing.T, v batchView, set ...string) {
	t.Helper()
	all := map[string]*int64{"in_progress_at": v.InProgressAt, "finalizing_at": v.FinalizingAt,
		"completed_at": v.CompletedAt, "failed_at": v.FailedAt, "expired_at": v.ExpiredAt,
		"cancelling_at": v.CancellingAt, "cancelled_at": v.CancelledAt}
	prev := v.CreatedAt
	for _, name := range set {
		ts := all[name]
		if assert.NotNil(t, ts, "%s must be set", name) {
			assert.GreaterOrEqual(t, *ts, prev, "%s must not come before the phase before it", name)
			prev = *ts
		}
		delete(all, name)
	}
	for name, ts := range all {
		assert.Nil(t, ts, "%s must be null", name)
	}
	require.NotNil(t, v.ExpiresAt)
	assert.GreaterOrEqual(t, *v.ExpiresAt, v.CreatedAt)
}
