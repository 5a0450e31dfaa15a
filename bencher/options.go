package bencher

import (
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// Defaults of the options.
const (
	// DefaultBaseURL is the OpenAI base URL of a local vLLM server.
	DefaultBaseURL = "http://localhost:8000/v1"
	// DefaultAPI is the endpoint requests are sent to.
	DefaultAPI = APICompletions
	// DefaultConcurrency is the number of closed-loop workers.
	DefaultConcurrency = 1
	// DefaultBurstiness is the gamma shape of open-loop gaps (1: Poisson).
	DefaultBurstiness = 1.0
	// DefaultTimeout is the limit on one attempt of a request, from its
	// sending to the end of its response.
	DefaultTimeout = 10 * time.Minute
	// DefaultIdleTimeout is the limit on the time without a byte of a
	// streamed answer (before its headers, before its first token, between
	// tokens).
	DefaultIdleTimeout = time.Minute
	// DefaultRetryBase is the first retry's backoff; it doubles at each
	// retry, and each wait is stretched by a random 0–15 % (see WithBackoff).
	DefaultRetryBase = 250 * time.Millisecond
	// DefaultRetryMax caps the backoff ceiling.
	DefaultRetryMax = 10 * time.Second
	// DefaultMaxRetryAfter caps how long a server's Retry-After is honoured.
	DefaultMaxRetryAfter = time.Minute
	// DefaultMinErrorSample is the number of finished measured requests
	// before the error rate can stop a run.
	DefaultMinErrorSample = 20
	// DefaultSeed seeds the open-loop schedule and the retry jitter.
	DefaultSeed = 1
	// DefaultMaxErrorMessage is the most bytes kept of an error message.
	DefaultMaxErrorMessage = 512
	// DefaultMaxChunkTimes bounds the capacity pre-allocated for a record's
	// chunk times from its MaxTokens (the slice still grows past it).
	DefaultMaxChunkTimes = 16384
)

// Option configures a [Runner] or a [Client]. A Client uses the target,
// API, model, key, header, streaming, timeout, output, HTTP-client, logger
// and concurrency options and ignores the others.
type Option func(*config)

type config struct {
	baseURL        string
	api            API
	model          string
	apiKey         string
	headers        http.Header
	stream         bool
	timeout        time.Duration
	idleTimeout    time.Duration
	coldConns      bool // WithPrewarm(false)
	recordOutputs  bool
	httpClient     *http.Client
	concurrency    int
	concurrencySet bool
	rate           float64
	burstiness     float64
	requests       int
	duration       time.Duration
	warmup         int
	retries        int
	retryBase      time.Duration
	retryMax       time.Duration
	maxRetryAfter  time.Duration
	maxErrorRate   float64
	minErrorSample int
	seed           uint64
	shard, shards  int       // WithShard; shards 0: unsharded
	startAt        time.Time // WithStartAt; zero: at once
	observer       Observer
	logger         *slog.Logger
	redactor       *secret.Redactor
	userClock      bool   // WithKernelTimestamps(false)
	chunkLate      func() // tests: runs before each stream event is timed
}

func defaultConfig() config {
	return config{
		baseURL:        DefaultBaseURL,
		api:            DefaultAPI,
		headers:        http.Header{},
		stream:         true,
		timeout:        DefaultTimeout,
		idleTimeout:    DefaultIdleTimeout,
		concurrency:    DefaultConcurrency,
		burstiness:     DefaultBurstiness,
		retryBase:      DefaultRetryBase,
		retryMax:       DefaultRetryMax,
		maxRetryAfter:  DefaultMaxRetryAfter,
		minErrorSample: DefaultMinErrorSample,
		seed:           DefaultSeed,
		logger:         slog.New(slog.DiscardHandler),
	}
}

func newConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	if c.rate > 0 && !c.concurrencySet {
		c.concurrency = 0 // an open loop without a cap
	}
	c.redactor = c.secrets()
	return c
}

// secrets returns the redactor of the configuration (a new one without
// WithRedactor), knowing its credentials: the API key, the credential
// headers and the base URL's user-info. It is called again when the base
// URL changes.
func (c *config) secrets() *secret.Redactor {
	r := c.redactor
	if r == nil {
		r = secret.NewRedactor()
	}
	r.Add(c.apiKey)
	r.AddHeaders(c.headers)
	r.AddURL(c.baseURL)
	return r
}

// WithTarget sets the OpenAI base URL of the server, such as
// "http://host:8000/v1" (default DefaultBaseURL). Requests go to
// BASE/completions or BASE/chat/completions, model detection to BASE/models.
func WithTarget(baseURL string) Option { return func(c *config) { c.baseURL = baseURL } }

// WithAPI selects the endpoint (default DefaultAPI).
func WithAPI(api API) Option { return func(c *config) { c.api = api } }

// WithModel sets the model name sent in every request; empty (the default)
// detects it from GET BASE/models (see [DetectModel]).
func WithModel(model string) Option { return func(c *config) { c.model = model } }

// WithAPIKey sets the key sent as "Authorization: Bearer KEY". It never
// appears in a record, a result or an error message.
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// WithRedactor makes r the redactor of the client's records and errors:
// every string that comes from the server (error bodies and messages, SSE
// error events, recorded outputs, the finish reason, a detected model name)
// is scrubbed with it before it is recorded. The run's own credentials —
// the API key, the values of credential headers (see
// secret.IsCredentialHeader) and the target URL's user-info — are added to
// r, so that a caller who scrubs its own output with r (a CLI's stderr, a
// log handler) scrubs them too. Without it the client makes its own.
func WithRedactor(r *secret.Redactor) Option { return func(c *config) { c.redactor = r } }

// WithHeader adds a header to every request (it may be given several times).
// A header whose name looks like a credential (Authorization, X-Api-Key…;
// see secret.IsCredentialHeader) is a secret, as the API key is: its value
// is scrubbed from every record and error.
func WithHeader(name, value string) Option {
	return func(c *config) { c.headers.Add(name, value) }
}

// WithHeaders adds the headers h to every request.
func WithHeaders(h http.Header) Option {
	return func(c *config) {
		for k, vs := range maps.All(h) {
			for _, v := range vs {
				c.headers.Add(k, v)
			}
		}
	}
}

// WithStreaming switches streaming on (the default) or off. Streamed
// requests ask for "stream_options": {"include_usage": true}. Non-streamed
// responses have no first-token or chunk times.
func WithStreaming(on bool) Option { return func(c *config) { c.stream = on } }

// WithTimeout limits one attempt of a request, from its sending to the end
// of its response (default DefaultTimeout; 0 means no limit).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithIdleTimeout limits the time without a byte of a streamed request's
// answer (default DefaultIdleTimeout; 0 means no limit): from its sending
// to its headers, then between any two reads of the stream. A stalled
// stream fails as ErrTimeout with the stage it stalled at
// (Record.TimeoutStage: StageFirstToken or StageBetweenTokens) instead of
// being waited on for the whole WithTimeout. Non-streamed answers, which
// send nothing until they end, have only WithTimeout.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idleTimeout = d } }

// WithPrewarm opens the connection pool before the first scheduled request
// (on, the default): as many keep-alive connections as requests may be in
// flight at once (see Runner.Run), so that connecting (and the TLS
// handshake) is not measured in the first requests' latencies. Off leaves
// the connections cold: they are opened by the requests, and measured.
func WithPrewarm(on bool) Option { return func(c *config) { c.coldConns = !on } }

// WithRecordOutputs records the generated text of each request in
// Record.Output (default off).
func WithRecordOutputs(on bool) Option { return func(c *config) { c.recordOutputs = on } }

// WithHTTPClient sends requests with hc instead of a client whose
// connection pool is sized to the concurrency. Its Timeout should be 0 (use
// WithTimeout), and its transport should not ask for compression. hc is
// used through a copy that follows redirects within the target's origin
// only (secret.CheckRedirect, before hc's own CheckRedirect): the
// credentials never reach another origin.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithConcurrency sets the number of closed-loop workers (default
// DefaultConcurrency), or, with WithRate, the most requests in flight
// (default 0: no limit). Requests over the limit wait for a slot, and the
// wait shows in their latencies, which count from the scheduled time.
func WithConcurrency(n int) Option {
	return func(c *config) { c.concurrency, c.concurrencySet = n, true }
}

// WithRate makes the load open-loop: requests are scheduled at rate per
// second on average, whatever the server's speed (default 0: closed loop).
func WithRate(rate float64) Option { return func(c *config) { c.rate = rate } }

// WithBurstiness sets the gamma shape of open-loop inter-arrival gaps:
// 1 is Poisson (the default), below 1 burstier, above 1 steadier.
func WithBurstiness(shape float64) Option { return func(c *config) { c.burstiness = shape } }

// WithRequests stops the run after n requests (warm-up included). 0, the
// default, means the workload's length when it has one ([Sized]), or no
// limit when a duration is set.
func WithRequests(n int) Option { return func(c *config) { c.requests = n } }

// WithDuration stops scheduling requests d after the start (default 0: no
// limit). Requests already scheduled are finished and recorded.
func WithDuration(d time.Duration) Option { return func(c *config) { c.duration = d } }

// WithWarmup marks the first n requests as warm-up (default 0).
func WithWarmup(n int) Option { return func(c *config) { c.warmup = n } }

// WithRetries retries a request up to n times after a retryable failure:
// a connection error, HTTP 429 or a 5xx status (default 0).
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithBackoff sets the exponential backoff of retries: the wait before
// retry k (from 1) is min(max, base·2^(k−1))·(1 + 0.15·u), u uniform in
// [0, 1): never shorter than the schedule, at most 15 % longer (Inngest's
// exponential backoff with jitter). Defaults DefaultRetryBase and
// DefaultRetryMax.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *config) { c.retryBase, c.retryMax = base, maxDelay }
}

// WithMaxRetryAfter caps how long a Retry-After header of a 429 or 503
// answer is honoured (default DefaultMaxRetryAfter).
func WithMaxRetryAfter(d time.Duration) Option { return func(c *config) { c.maxRetryAfter = d } }

// WithMaxErrorRate stops the run early when the share of failed requests
// among the finished measured (non-warm-up) ones exceeds rate, once at least
// minCount have finished (minCount <= 0: DefaultMinErrorSample). The default
// rate 0 never stops.
func WithMaxErrorRate(rate float64, minCount int) Option {
	return func(c *config) {
		c.maxErrorRate = rate
		if minCount <= 0 {
			minCount = DefaultMinErrorSample
		}
		c.minErrorSample = minCount
	}
}

// WithSeed seeds the open-loop schedule and the retry jitter (default
// DefaultSeed).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithObserver sets an observer that is called with every finished record.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
