package batchapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// submitServer answers POST /v1/files and POST /v1/batches: the first
// answers of each in turn, then success.
type submitServer struct {
	uploads, creates []fakeAnswer

	mu          sync.Mutex
	uploadTimes []time.Time
	createTimes []time.Time
}

func (s *submitServer) start(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(ts.Close)
	return ts.URL + "/v1"
}

func (s *submitServer) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	var (
		script []fakeAnswer
		n      int
		ok     string
	)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/files":
		s.uploadTimes = append(s.uploadTimes, time.Now())
		script, n, ok = s.uploads, len(s.uploadTimes), `{"id":"file-in","object":"file","purpose":"batch"}`
	case r.Method == http.MethodPost && r.URL.Path == "/v1/batches":
		s.createTimes = append(s.createTimes, time.Now())
		script, n, ok = s.creates, len(s.createTimes), `{"id":"batch_1","object":"batch","status":"validating"}`
	default:
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.mu.Unlock()
	if n > len(script) {
		fmt.Fprint(w, ok)
		return
	}
	a := script[n-1]
	if a.drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.code)
	fmt.Fprint(w, a.body)
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// times returns when the uploads and the creates came.
func (s *submitServer) times() (uploads, creates []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.uploadTimes...), append([]time.Time(nil), s.createTimes...)
}

const rateLimited = `{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limited"}}`

func TestUploadAndCreateWaitOutARateLimit(t *testing.T) {
	t.Parallel()
	s := &submitServer{
		uploads: []fakeAnswer{{code: http.StatusTooManyRequests, body: rateLimited, retryAfter: "1"}},
		creates: []fakeAnswer{{code: http.StatusTooManyRequests, body: rateLimited, retryAfter: "1"}},
	}
	c, err := New(s.start(t))
	require.NoError(t, err)
	f, err := c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.NoError(t, err)
	assert.Equal(t, "file-in", f.ID)
	b, err := c.CreateBatch(context.Background(), CreateRequest{InputFileID: f.ID, Endpoint: "/v1/completions"})
	require.NoError(t, err)
	assert.Equal(t, "batch_1", b.ID)
	uploads, creates := s.times()
	for name, at := range map[string][]time.Time{"upload": uploads, "create": creates} {
		require.Len(t, at, 2, name)
		assert.GreaterOrEqual(t, at[1].Sub(at[0]), time.Second, "the %s was repeated after Retry-After (1s)", name)
	}
}

func TestSubmitRetriesBackOffWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	unavailable := fakeAnswer{code: http.StatusServiceUnavailable, body: `{"error":{"message":"overloaded"}}`}
	s := &submitServer{uploads: []fakeAnswer{unavailable, unavailable}}
	c, err := New(s.start(t), WithSubmitRetries(3, 200*time.Millisecond))
	require.NoError(t, err)
	_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.NoError(t, err)
	uploads, _ := s.times()
	require.Len(t, uploads, 3)
	assert.GreaterOrEqual(t, uploads[1].Sub(uploads[0]), 200*time.Millisecond, "the first wait is the backoff")
	assert.GreaterOrEqual(t, uploads[2].Sub(uploads[1]), 400*time.Millisecond, "the second wait is twice the first")
}

func TestSubmitGivesUpAfterItsAttempts(t *testing.T) {
	t.Parallel()
	always := make([]fakeAnswer, 100)
	for i := range always {
		always[i] = fakeAnswer{code: http.StatusServiceUnavailable, retryAfter: "0.1",
			body: `{"error":{"message":"the server is overloaded","type":"server_error","code":"overloaded"}}`}
	}
	s := &submitServer{uploads: always, creates: always}
	c, err := New(s.start(t), WithSubmitRetries(4, 0))
	require.NoError(t, err)
	began := time.Now()
	_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.Error(t, err)
	assert.Regexp(t, `^batch API POST /v1/files: HTTP 503 Service Unavailable \(overloaded\): the server is overloaded `+
		`\(gave up after 4 attempts over [0-9.]+m?s\)$`, err.Error())
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr, "the server's answer stays reachable")
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.Status)

	_, err = c.CreateBatch(context.Background(), CreateRequest{InputFileID: "file-in", Endpoint: "/v1/completions"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "batch API POST /v1/batches: HTTP 503 Service Unavailable")
	assert.Contains(t, err.Error(), "gave up after 4 attempts")
	uploads, creates := s.times()
	assert.Len(t, uploads, 4)
	assert.Len(t, creates, 4)
	// Six waits of Retry-After 0.1s, not the default backoff's seconds.
	assert.Less(t, time.Since(began), 30*time.Second)
	assert.GreaterOrEqual(t, time.Since(began), 600*time.Millisecond)
}

func TestCreateIsNotRepeatedAfterAGatewayTimeout(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadGateway, http.StatusGatewayTimeout} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := &submitServer{creates: []fakeAnswer{{code: code, body: "upstream timed out"}},
				uploads: []fakeAnswer{{code: code, body: "upstream timed out"}}}
			c, err := New(s.start(t), WithSubmitRetries(3, 10*time.Millisecond))
			require.NoError(t, err)
			_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
			require.NoError(t, err, "an upload is repeated: a duplicate leaves an unused file at worst")
			_, err = c.CreateBatch(context.Background(), CreateRequest{InputFileID: "file-in", Endpoint: "/v1/completions"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("HTTP %d", code))
			assert.Contains(t, err.Error(), "not repeated: the server behind the gateway may have created the batch")
			uploads, creates := s.times()
			assert.Len(t, uploads, 2)
			assert.Len(t, creates, 1, "a create that may have succeeded is never repeated")
		})
	}
}

func TestSubmitRetryStopsWithItsContext(t *testing.T) {
	t.Parallel()
	s := &submitServer{creates: []fakeAnswer{{code: http.StatusTooManyRequests, body: rateLimited, retryAfter: "3600"}}}
	ctx, cancel := context.WithCancel(context.Background())
	// The context ends once the first answer (429, Retry-After: an hour)
	// has been read whole: the client is then about to wait.
	cancelAfterAnswer := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		cancel()
		return resp, err
	})
	c, err := New(s.start(t), WithHTTPClient(&http.Client{Transport: cancelAfterAnswer}))
	require.NoError(t, err)
	_, err = c.CreateBatch(ctx, CreateRequest{InputFileID: "file-in", Endpoint: "/v1/completions"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "HTTP 429 Too Many Requests")
	assert.Contains(t, err.Error(), "attempt 1 of 5")
	_, creates := s.times()
	assert.Len(t, creates, 1)
}

func TestAPermanentErrorIsNotRepeated(t *testing.T) {
	t.Parallel()
	s := &submitServer{uploads: []fakeAnswer{{code: http.StatusBadRequest,
		body: `{"error":{"message":"bad file","type":"invalid_request_error","code":"invalid_file"}}`}}}
	c, err := New(s.start(t))
	require.NoError(t, err)
	_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.Error(t, err)
	assert.Equal(t, "batch API POST /v1/files: HTTP 400 Bad Request (invalid_file): bad file", err.Error())
	uploads, _ := s.times()
	assert.Len(t, uploads, 1)
}

// TestUploadIsRepeatedAfterATransportError: a connection lost before the
// answer leaves at worst an unused input file on the server, so the upload
// is tried again; the create is not, as the batch may have been made.
func TestUploadIsRepeatedAfterATransportError(t *testing.T) {
	t.Parallel()
	s := &submitServer{uploads: []fakeAnswer{{drop: true}, {drop: true}}, creates: []fakeAnswer{{drop: true}}}
	c, err := New(s.start(t), WithSubmitRetries(3, 10*time.Millisecond))
	require.NoError(t, err)
	f, err := c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.NoError(t, err)
	assert.Equal(t, "file-in", f.ID)
	_, err = c.CreateBatch(context.Background(), CreateRequest{InputFileID: "file-in", Endpoint: "/v1/completions"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "batch API POST /v1/batches: ")
	assert.Contains(t, err.Error(), "not repeated: the server may have created the batch")
	uploads, creates := s.times()
	assert.Len(t, uploads, 3, "two lost connections, then the answer")
	assert.Len(t, creates, 1)

	// A transport error on every attempt: the upload gives up, naming them.
	s = &submitServer{uploads: []fakeAnswer{{drop: true}, {drop: true}, {drop: true}}}
	c, err = New(s.start(t), WithSubmitRetries(3, 10*time.Millisecond))
	require.NoError(t, err)
	_, err = c.UploadFile(context.Background(), "in.jsonl", []byte("{}\n"))
	require.Error(t, err)
	assert.Regexp(t, `^batch API POST /v1/files: .* \(gave up after 3 attempts over [0-9.]+m?s\)$`, err.Error())
}
