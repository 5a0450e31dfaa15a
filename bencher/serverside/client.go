package serverside

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// Defaults of the options.
const (
	// DefaultWait is the longest Collect waits for Prometheus to scrape past
	// the run's end: Prometheus's usual scrape interval.
	DefaultWait = 15 * time.Second
	// DefaultTimeout limits each query.
	DefaultTimeout = 5 * time.Second
)

// pollInterval is how often Collect asks whether Prometheus has scraped
// past the run's end.
const pollInterval = 250 * time.Millisecond

// ErrURL is wrapped by the errors of Prometheus URLs that cannot be used.
var ErrURL = errors.New("serverside: invalid Prometheus URL")

// Client asks one Prometheus about run windows. It is safe for concurrent
// use.
type Client struct {
	api     api.Client
	source  string // the URL without credentials
	sel     selectors
	wait    time.Duration
	timeout time.Duration
	log     *slog.Logger
	red     *secret.Redactor
}

// config is what the options set.
type config struct {
	selector, gpuSelector, vllmSelector string
	wait, timeout                       time.Duration
	httpClient                          *http.Client
	log                                 *slog.Logger
	red                                 *secret.Redactor
}

// Option configures a Client.
type Option func(*config)

// WithSelector adds label matchers (see ParseSelector) to every query.
func WithSelector(s string) Option { return func(c *config) { c.selector = s } }

// WithGPUSelector adds label matchers to the queries of GPU metrics
// (nvidia_gpu_*), such as `instance="gpu-box:9849"`.
func WithGPUSelector(s string) Option { return func(c *config) { c.gpuSelector = s } }

// WithVLLMSelector adds label matchers to the queries of vLLM metrics
// (vllm:*), such as `model_name="meta-llama/Llama-3.1-8B-Instruct"`.
func WithVLLMSelector(s string) Option { return func(c *config) { c.vllmSelector = s } }

// WithWait sets the longest wait for Prometheus to scrape past the run's
// end before querying (default DefaultWait); 0 queries at once.
func WithWait(d time.Duration) Option { return func(c *config) { c.wait = d } }

// WithTimeout sets the time limit of each query (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithHTTPClient sets the HTTP client of the queries (default: one on
// client_golang's default transport). It is used through a copy that
// follows redirects within Prometheus's origin only (secret.CheckRedirect,
// before hc's own CheckRedirect).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithRedactor scrubs the errors and the logged warnings of the queries
// with r: Prometheus quotes label values, which a hostile server's metrics
// may fill with the echo of a key. The Prometheus URL's own credentials are
// added to r. Without it the client scrubs those alone.
func WithRedactor(r *secret.Redactor) Option { return func(c *config) { c.red = r } }

// WithLogger sets the logger of Prometheus's warnings and of dropped values.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// New returns a client of the Prometheus at rawURL, its base URL such as
// http://prometheus:9090 (a path prefix is kept; user:password@ in the URL
// is sent as basic auth and never printed).
func New(rawURL string, opts ...Option) (*Client, error) {
	cfg := config{wait: DefaultWait, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w %q: want http(s)://host:port", ErrURL, results.RedactURL(rawURL))
	}
	c := &Client{source: results.RedactURL(rawURL), wait: max(cfg.wait, 0), timeout: cfg.timeout, log: cfg.log, red: cfg.red}
	if c.red == nil {
		c.red = secret.NewRedactor()
	}
	c.red.AddURL(rawURL)
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, s := range []struct {
		name, in string
		out      *string
	}{{"selector", cfg.selector, &c.sel.all}, {"GPU selector", cfg.gpuSelector, &c.sel.gpu},
		{"vLLM selector", cfg.vllmSelector, &c.sel.vllm}} {
		if *s.out, err = ParseSelector(s.in); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	ac, err := api.NewClient(api.Config{Address: u.String(), Client: sameOrigin(cfg.httpClient)})
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrURL, c.source, err)
	}
	c.api = ac
	return c, nil
}

// Source returns the Prometheus URL without credentials, query or fragment.
func (c *Client) Source() string { return c.source }

// Collect returns what Prometheus saw in the window [start, end]: it waits
// for the scrape after end (see WithWait), then runs the queries (see the
// package documentation) at end. A value whose series do not exist is left
// empty; any error of Prometheus fails the whole collection.
func (c *Client) Collect(ctx context.Context, start, end time.Time) (*results.ServerSide, error) {
	if err := c.waitScraped(ctx, end); err != nil {
		return nil, err
	}
	ss := &results.ServerSide{Source: c.source}
	for _, q := range c.sel.queries(end.Sub(start)) {
		v, ok, err := c.instant(ctx, q.expr, end)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			c.log.Debug("no server-side value", "value", q.name, "query", q.expr)
		case !q.valid(v):
			c.log.Debug("server-side value dropped: not a valid number", "value", q.name, "query", q.expr, "result", v)
		default:
			q.set(ss, v)
		}
	}
	return ss, nil
}

// queryError names Prometheus and the query in err. The URL of a transport
// error is dropped: it may carry a user name.
func (c *Client) queryError(expr string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return c.red.Error(fmt.Errorf("serverside: Prometheus at %s: query `%s`: %w", c.source, expr, err))
}

// sameOrigin returns a copy of hc (nil: a client on client_golang's default
// transport) that follows redirects within the first request's origin
// only, then as hc's own CheckRedirect says.
func sameOrigin(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{Transport: api.DefaultRoundTripper, CheckRedirect: secret.CheckRedirect}
	}
	return secret.SameOriginClient(hc)
}
