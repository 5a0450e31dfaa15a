// Package batchapi is a client of the OpenAI Batch API (files and batches),
// as OpenAI, vLLM-compatible servers and the bencher's simulator serve it,
// and the bencher's batch-api mode: one workload submitted as one batch
// job, measured from the job's output (see Bench).
//
// Credentials follow the project's one policy (internal/secret): the API
// key and credential headers go to the target's origin only, redirects are
// followed within that origin only, and every message of the server's is
// scrubbed of the client's credentials before it is returned.
package batchapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// Limits on what the client reads from the server.
const (
	// MaxObjectBytes is the largest JSON object (a batch, a file, a list,
	// an error) read.
	MaxObjectBytes = 4 << 20
	// MaxFileBytes is the largest output or error file downloaded.
	MaxFileBytes = 1 << 30
)

// DefaultTimeout is the limit on one HTTP exchange when WithTimeout is not
// given. A file download counts as one exchange.
const DefaultTimeout = 5 * time.Minute

// Client calls the Batch API of one server. It is safe for concurrent use.
type Client struct {
	base    string // the base URL, without a trailing slash or user-info
	path    string // the base URL's path, for messages ("/v1")
	hc      *http.Client
	red     *secret.Redactor
	timeout time.Duration
	// attempts and backoff bound the retries of uploads and creates.
	attempts int
	backoff  time.Duration
}

// Option configures a Client.
type Option func(*settings)

type settings struct {
	apiKey  string
	headers http.Header
	red     *secret.Redactor
	hc      *http.Client
	timeout time.Duration
	// attempts and backoff: see WithSubmitRetries.
	attempts int
	backoff  time.Duration
}

// WithAPIKey sends key as a bearer token, to the target's origin only.
func WithAPIKey(key string) Option { return func(s *settings) { s.apiKey = key } }

// WithHeaders adds headers to every request (after the API key, which they
// may override), to the target's origin only.
func WithHeaders(h http.Header) Option { return func(s *settings) { s.headers = h.Clone() } }

// WithRedactor scrubs the credentials r knows from every message of the
// server's. The client adds its API key and credential headers to it.
func WithRedactor(r *secret.Redactor) Option { return func(s *settings) { s.red = r } }

// WithHTTPClient sends the requests with hc (its redirects are followed
// within the target's origin only). Its Transport is wrapped to add the
// credentials.
func WithHTTPClient(hc *http.Client) Option { return func(s *settings) { s.hc = hc } }

// WithTimeout limits each HTTP exchange (0: DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// New returns a client of the server whose OpenAI base URL is baseURL
// ("http://localhost:8000/v1"). User-info in the URL becomes Basic
// authentication, unless an Authorization header is given.
func New(baseURL string, opts ...Option) (*Client, error) {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("batch API: target %q: want an http or https URL such as http://localhost:8000/v1",
			secret.URL(baseURL))
	}
	header := http.Header{}
	if s.apiKey != "" {
		header.Set("Authorization", "Bearer "+s.apiKey)
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(u.User.Username(), pass)
		if header.Get("Authorization") == "" {
			header.Set("Authorization", req.Header.Get("Authorization"))
		}
		u.User = nil
	}
	for k, vs := range s.headers {
		header[http.CanonicalHeaderKey(k)] = vs
	}
	red := s.red
	if red == nil {
		red = secret.NewRedactor()
	}
	red.Add(s.apiKey)
	red.AddURL(baseURL)
	red.AddHeaders(header)
	hc := s.hc
	if hc == nil {
		hc = &http.Client{}
	}
	hc = secret.SameOriginClient(hc)
	hc.Transport = secret.NewTransport(hc.Transport, u, header)
	timeout := s.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	attempts, backoff := s.attempts, s.backoff
	if attempts <= 0 {
		attempts = DefaultSubmitAttempts
	}
	if backoff <= 0 {
		backoff = DefaultSubmitBackoff
	}
	return &Client{base: u.String(), path: u.Path, hc: hc, red: red, timeout: timeout,
		attempts: attempts, backoff: backoff}, nil
}

// Error is an answer of the server's that is not a success.
type Error struct {
	// Method and Endpoint name the call ("POST", "/v1/batches").
	Method, Endpoint string
	// Status is the HTTP status.
	Status int
	// Type, Code and Message are the OpenAI error body's, scrubbed of the
	// client's credentials; empty when the body had none.
	Type, Code, Message string
	// RetryAfter is the server's Retry-After (0 when absent).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "batch API %s %s: HTTP %d", e.Method, e.Endpoint, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Temporary reports whether the call may succeed when repeated later: the
// server was rate-limited, overloaded or unavailable.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// errorBody is an OpenAI error body, or an older server's flat one.
type errorBody struct {
	Error json.RawMessage `json:"error"`
	errorFields
}

type errorFields struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// newError reads a failed response.
func (c *Client) newError(method, endpoint string, resp *http.Response) *Error {
	e := &Error{Method: method, Endpoint: endpoint, Status: resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body errorBody
	if json.Unmarshal(raw, &body) == nil {
		f := body.errorFields
		if len(body.Error) > 0 && body.Error[0] == '{' {
			_ = json.Unmarshal(body.Error, &f)
		} else if len(body.Error) > 0 {
			_ = json.Unmarshal(body.Error, &f.Message)
		}
		e.Type, e.Message = f.Type, f.Message
		if f.Code != nil {
			e.Code = strings.Trim(fmt.Sprint(f.Code), `"`)
		}
	} else if text := strings.TrimSpace(string(raw)); text != "" {
		e.Message = shorten(text)
	}
	e.Type, e.Code, e.Message = c.red.Value(e.Type), c.red.Value(e.Code), shorten(c.red.String(e.Message))
	return e
}

// shorten cuts a message to a readable length.
func shorten(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 && n < 1e6 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// do sends one request and decodes a JSON answer into out (when not nil),
// or returns the body's reader when raw (the caller closes it).
func (c *Client) do(ctx context.Context, method, rel string, body io.Reader, ctype string, out any) error {
	endpoint := c.path + rel
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+rel, body)
	if err != nil {
		return fmt.Errorf("batch API %s %s: %w", method, endpoint, c.red.Error(err))
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("batch API %s %s: %w", method, endpoint, &transportError{c.red.Error(err)})
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.newError(method, endpoint, resp)
	}
	if w, ok := out.(io.Writer); ok {
		n, err := io.Copy(w, io.LimitReader(resp.Body, MaxFileBytes+1))
		switch {
		case err != nil:
			return fmt.Errorf("batch API %s %s: reading the file: %w", method, endpoint, c.red.Error(err))
		case n > MaxFileBytes:
			return fmt.Errorf("batch API %s %s: the file is larger than %d bytes", method, endpoint, int64(MaxFileBytes))
		}
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxObjectBytes+1))
	switch {
	case err != nil:
		return fmt.Errorf("batch API %s %s: reading the answer: %w", method, endpoint, c.red.Error(err))
	case len(raw) > MaxObjectBytes:
		return fmt.Errorf("batch API %s %s: the answer is larger than %d bytes", method, endpoint, MaxObjectBytes)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("batch API %s %s: the answer is not the expected JSON object: %w (%s)", method, endpoint,
			err, shorten(c.red.String(string(raw))))
	}
	return nil
}

// UploadFile uploads data as a file of purpose "batch" named name
// (POST /files, multipart). An answer 429, 502, 503 or 504 is retried
// (see WithSubmitRetries), and so is an attempt that got no answer.
func (c *Client) UploadFile(ctx context.Context, name string, data []byte) (File, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("purpose", "batch"); err != nil {
		return File{}, err
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		return File{}, err
	}
	if _, err := fw.Write(data); err != nil {
		return File{}, err
	}
	if err := mw.Close(); err != nil {
		return File{}, err
	}
	var f File
	err = c.withRetries(ctx, uploadRetryable, true, func() error {
		f = File{}
		return c.do(ctx, http.MethodPost, "/files", bytes.NewReader(buf.Bytes()), mw.FormDataContentType(), &f)
	})
	if err != nil {
		return File{}, err
	}
	if f.ID == "" {
		return File{}, fmt.Errorf("batch API POST %s/files: the answer names no file id", c.path)
	}
	return f, nil
}

// GetFile returns a file's object (GET /files/{id}).
func (c *Client) GetFile(ctx context.Context, id string) (File, error) {
	var f File
	err := c.do(ctx, http.MethodGet, "/files/"+url.PathEscape(id), nil, "", &f)
	return f, err
}

// FileContent writes a file's content to w (GET /files/{id}/content); it
// fails for a file larger than MaxFileBytes.
func (c *Client) FileContent(ctx context.Context, id string, w io.Writer) error {
	return c.do(ctx, http.MethodGet, "/files/"+url.PathEscape(id)+"/content", nil, "", w)
}

// CreateRequest is the body of POST /batches.
type CreateRequest struct {
	InputFileID      string            `json:"input_file_id"`
	Endpoint         string            `json:"endpoint"`
	CompletionWindow string            `json:"completion_window"`
	Metadata         map[string]string `json:"metadata,omitempty"`
}

// CreateBatch creates a batch (POST /batches). An empty CompletionWindow
// is "24h", the only window OpenAI offers. An answer 429 or 503 is
// retried (see WithSubmitRetries); a 502 or 504 is not, since the server
// behind the gateway may have created the batch, nor is an attempt that
// got no answer.
func (c *Client) CreateBatch(ctx context.Context, r CreateRequest) (Batch, error) {
	if r.CompletionWindow == "" {
		r.CompletionWindow = "24h"
	}
	body, err := json.Marshal(r)
	if err != nil {
		return Batch{}, err
	}
	var b Batch
	err = c.withRetries(ctx, createRetryable, false, func() error {
		b = Batch{}
		return c.do(ctx, http.MethodPost, "/batches", bytes.NewReader(body), "application/json", &b)
	})
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Temporary() && !createRetryable(apiErr):
		return Batch{}, fmt.Errorf("%w (not repeated: the server behind the gateway may have created the batch "+
			"all the same; look for it with GET %s/batches)", err, c.path)
	case isTransport(err) && ctx.Err() == nil:
		return Batch{}, fmt.Errorf("%w (not repeated: the server may have created the batch before the "+
			"connection was lost; look for it with GET %s/batches)", err, c.path)
	}
	if err != nil {
		return Batch{}, err
	}
	if b.ID == "" {
		return Batch{}, fmt.Errorf("batch API POST %s/batches: the answer names no batch id", c.path)
	}
	return b, nil
}

// GetBatch returns a batch (GET /batches/{id}).
func (c *Client) GetBatch(ctx context.Context, id string) (Batch, error) {
	var b Batch
	err := c.do(ctx, http.MethodGet, "/batches/"+url.PathEscape(id), nil, "", &b)
	return b, err
}

// CancelBatch asks the server to cancel a batch (POST /batches/{id}/cancel).
func (c *Client) CancelBatch(ctx context.Context, id string) (Batch, error) {
	var b Batch
	err := c.do(ctx, http.MethodPost, "/batches/"+url.PathEscape(id)+"/cancel", nil, "", &b)
	return b, err
}

// ListBatches returns one page of batches, newest first (GET /batches):
// at most limit (0: the server's default) after the batch id after ("":
// from the start).
func (c *Client) ListBatches(ctx context.Context, after string, limit int) (BatchList, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	rel := "/batches"
	if len(q) > 0 {
		rel += "?" + q.Encode()
	}
	var l BatchList
	err := c.do(ctx, http.MethodGet, rel, nil, "", &l)
	return l, err
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
