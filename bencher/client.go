package bencher

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/benchstation/benchstation/bencher/sse"
	"github.com/benchstation/benchstation/internal/secret"
)

// Errors of the client's construction and model detection.
var (
	// ErrInvalidConfig is wrapped by the errors of options that make no
	// sense (a bad URL, a negative concurrency…).
	ErrInvalidConfig = errors.New("bencher: invalid configuration")
	// ErrNoModels means that GET /v1/models listed no model.
	ErrNoModels = errors.New("bencher: the server lists no model")
)

// Limits on what the client reads of answers that are not streams.
const (
	maxErrorBody = 64 << 10 // an error answer's body
	maxJSONBody  = 64 << 20 // a non-streamed completion
)

// Client sends OpenAI completions or chat completions requests to one
// server and measures them into Records. It is safe for concurrent use.
type Client struct {
	send      func(*http.Request) (*http.Response, error)
	tmpl      *http.Request // the POST every attempt copies
	target    string        // the base URL without userinfo, for results
	spec      bodySpec
	red       *secret.Redactor // scrubs the credentials from what the server says
	headers   http.Header      // every request's headers; the values are never modified
	timeout   time.Duration
	idle      time.Duration // the idle timeout of streams (0: none)
	outputs   bool
	retries   retryPolicy
	logger    *slog.Logger
	states    sync.Pool // *state
	transport *http.Transport
	// kernelClock: the transport's connections may carry kernel receive
	// times (see kclock.go); clocks counts the chunks timed each way.
	kernelClock bool
	clocks      clockCounts
	chunkLate   func()
}

// state is a worker's reusable scratch space.
type state struct {
	dec     *sse.Decoder
	scratch []byte
	text    []byte
	rx      rxState
}

// NewClient returns a Client configured by opts (see [Option]). An empty
// model (no WithModel) leaves "model" out of request bodies, which vLLM
// answers with its served model; [DetectModel] finds the name.
func NewClient(opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	return newClient(&cfg)
}

func newClient(cfg *config) (*Client, error) {
	base, target, err := parseBaseURL(cfg.baseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	path := "/completions"
	switch cfg.api {
	case APICompletions:
	case APIChat:
		path = "/chat/completions"
	default:
		return nil, fmt.Errorf("%w: unknown API %q (want %q or %q)", ErrInvalidConfig, cfg.api, APICompletions, APIChat)
	}
	if cfg.timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %v must be >= 0", ErrInvalidConfig, cfg.timeout)
	}
	tmpl, err := http.NewRequest(http.MethodPost, base+path, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("%w: target URL: %w", ErrInvalidConfig, urlCause(err))
	}
	c := &Client{
		tmpl:    tmpl,
		target:  target,
		spec:    bodySpec{api: cfg.api, model: cfg.model, stream: cfg.stream},
		red:     cfg.secrets(),
		headers: requestHeaders(cfg),
		timeout: cfg.timeout,
		idle:    cfg.idleTimeout,
		outputs: cfg.recordOutputs,
		retries: newRetryPolicy(cfg),
		logger:  cfg.logger,
	}
	tmpl.Header = c.headers
	if u := tmpl.URL.User; u != nil {
		// http.Client would turn userinfo into Basic auth; the transport
		// alone does not.
		if _, ok := c.headers["Authorization"]; !ok {
			pass, _ := u.Password()
			tmpl.SetBasicAuth(u.Username(), pass)
		}
		tmpl.URL.User = nil
	}
	if cfg.httpClient != nil {
		c.send = sameOriginClient(cfg.httpClient).Do
	} else {
		// The transport alone: http.Client would add redirect handling
		// and copies of the headers and URL to every request. It follows
		// no redirect: a 3xx answer is a failure (see redirectMessage).
		c.transport = newTransport(cfg.concurrency, !cfg.userClock)
		c.send = c.transport.RoundTrip
		c.kernelClock = !cfg.userClock && kernelClockSupported
	}
	c.chunkLate = cfg.chunkLate
	c.states.New = func() any { return &state{dec: sse.NewDecoder(nil)} }
	return c, nil
}

// parseBaseURL checks an OpenAI base URL and returns it without a trailing
// slash, and its display form (see [DisplayTarget]). Its errors are bare
// messages, for wrapping.
func parseBaseURL(raw string) (base, display string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("target URL: %w", urlCause(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("target URL must be http(s)://host[:port]/v1, got %q", DisplayTarget(raw))
	}
	base = strings.TrimRight(raw, "/")
	return base, strings.TrimRight(DisplayTarget(raw), "/"), nil
}

// DisplayTarget returns a target URL as messages and results show it: its
// display form (secret.URL: no user-info) without query and fragment, as a
// target is its scheme, host and path. A string that is not a URL is
// returned as "" unless it cannot hold a credential.
func DisplayTarget(raw string) string {
	u, err := url.Parse(secret.URL(raw))
	if err != nil {
		return secret.URL(raw)
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// urlCause returns the cause of a *url.Error (of url.Parse or of an
// http.Client): its URL is the caller's to say, without credentials, and
// that of a refused redirect is the other origin's, which may carry the
// echo of a credential in its query.
func urlCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sameOriginClient returns a copy of hc that follows redirects within the
// first request's origin only (secret.CheckRedirect), then as hc's own
// CheckRedirect says.
func sameOriginClient(hc *http.Client) *http.Client {
	return secret.SameOriginClient(hc)
}

// newTransport returns an HTTP/1.1 keep-alive transport whose idle pool
// holds a connection per concurrent request (conc <= 0: unbounded, so
// 1024). MaxConnsPerHost stays 0 (no limit): the runner bounds the
// concurrency itself, and a transport-side cap would make requests wait for
// a connection after their send time was taken, hiding client-side queueing
// inside "server" time.
//
// With kernel on, its connections read with kernel receive timestamps
// where the system has them (see stampConn).
func newTransport(conc int, kernel bool) *http.Transport {
	idle := conc
	if idle <= 0 {
		idle = 1024
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, kernel),
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		DisableCompression:    true, // SSE must arrive as it is written
		ForceAttemptHTTP2:     false,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		ExpectContinueTimeout: 0,
	}
}

// Close closes the idle connections of the client's own transport.
func (c *Client) Close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// Model returns the model name sent in requests ("" when left out).
func (c *Client) Model() string { return c.spec.model }

// Redactor returns the redactor that scrubs the credentials of the client
// (its API key, credential headers and URL user-info) from what the server
// says: the caller's (WithRedactor) or the client's own.
func (c *Client) Redactor() *secret.Redactor { return c.red }

// Target returns the base URL without userinfo, as recorded in results.
func (c *Client) Target() string { return c.target }

// Do sends req, with the configured retries, and fills rec's measurements
// (all but Index, ID, Warmup and Scheduled, which are the caller's). Times
// are offsets from start, which must carry a monotonic clock reading
// (time.Now). Cancelling ctx aborts the request (ErrCanceled).
func (c *Client) Do(ctx context.Context, req *Request, rec *Record, start time.Time) {
	c.do(ctx, nil, req, rec, start)
}

func (c *Client) getState() *state   { return c.states.Get().(*state) }
func (c *Client) putState(st *state) { st.dec.Reset(nil); c.states.Put(st) }

// reqBody is a request's body, which the transport may read again
// (GetBody) when a kept-alive connection turned out to be closed.
type reqBody struct {
	b       []byte
	getBody func() (io.ReadCloser, error)
}

func newReqBody(b []byte) *reqBody {
	rb := &reqBody{b: b}
	rb.getBody = rb.open
	return rb
}

func (rb *reqBody) open() (io.ReadCloser, error) {
	br := new(bodyReader)
	br.Reset(rb.b)
	return br, nil
}

// bodyReader is a request body reader.
type bodyReader struct{ bytes.Reader }

// Close does nothing.
func (*bodyReader) Close() error { return nil }

// newHTTPRequest builds the POST of one attempt: a copy of the template,
// whose URL and headers it shares (neither is ever modified).
func (c *Client) newHTTPRequest(ctx context.Context, body *reqBody) *http.Request {
	hreq := c.tmpl.WithContext(ctx)
	hreq.Body, _ = body.open()
	hreq.GetBody = body.getBody
	hreq.ContentLength = int64(len(body.b))
	return hreq
}

// requestHeaders returns the headers of every request: the content types,
// the API key and the extra headers (which may override the others).
func requestHeaders(cfg *config) http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	if cfg.stream {
		h["Accept"] = []string{"text/event-stream"}
	}
	if cfg.apiKey != "" {
		h["Authorization"] = []string{"Bearer " + cfg.apiKey}
	}
	for k, vs := range cfg.headers {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	return h
}
