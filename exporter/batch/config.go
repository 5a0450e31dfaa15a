package batch

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/benchstation/benchstation/internal/secret"
)

// Defaults for Config. PageSize is OpenAI's largest page.
const (
	DefaultInterval         = 30 * time.Second
	DefaultTimeout          = 20 * time.Second
	DefaultStaleAfter       = 5 * time.Minute
	DefaultWindow           = 24 * time.Hour
	DefaultMaxBatches       = 100
	DefaultMaxPages         = 1000
	DefaultPageSize         = 100
	DefaultMaxResponseBytes = 8 << 20
	DefaultLogEvery         = 5 * time.Minute
	DefaultMaxRetryAfter    = 15 * time.Minute
)

// APIKeyEnv is the environment variable that holds the API key of the
// endpoints given with --batch.endpoint when no key file is given.
const APIKeyEnv = "BATCH_API_KEY"

// Config says what to poll and how. The zero value of each field means its
// default.
type Config struct {
	// Endpoints are the servers to poll.
	Endpoints []Endpoint
	// Interval is the time between the end of one poll of an endpoint and
	// the start of the next (longer after a 429 or 503 with Retry-After).
	Interval time.Duration
	// Timeout bounds one poll of one endpoint, all pages together.
	Timeout time.Duration
	// StaleAfter is how long the last good data of a failing endpoint is
	// still served; after it, only the endpoint's poll metrics remain.
	StaleAfter time.Duration
	// Window is how long a finished batch keeps its per-batch series.
	Window time.Duration
	// MaxBatches bounds the batches with per-batch series, per endpoint.
	MaxBatches int
	// MaxPages bounds the pages of one poll; more fails the poll.
	MaxPages int
	// PageSize is the limit parameter of each page request.
	PageSize int
	// MaxResponseBytes bounds the body of one page.
	MaxResponseBytes int64
	// LogEvery is how often a persisting failure of the same kind is
	// logged again.
	LogEvery time.Duration
	// MaxRetryAfter caps how long a Retry-After header may delay a poll.
	MaxRetryAfter time.Duration
	// Clock tells the time (tests set it); nil is time.Now.
	Clock func() time.Time
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	setDefault(&c.Interval, DefaultInterval)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.StaleAfter, DefaultStaleAfter)
	setDefault(&c.Window, DefaultWindow)
	setDefault(&c.MaxBatches, DefaultMaxBatches)
	setDefault(&c.MaxPages, DefaultMaxPages)
	setDefault(&c.PageSize, DefaultPageSize)
	setDefault(&c.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&c.LogEvery, DefaultLogEvery)
	setDefault(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

func setDefault[T time.Duration | int | int64](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0 || c.Timeout < 0 || c.StaleAfter < 0 || c.Window < 0:
		return errors.New("batch interval, timeout, stale-after and window must not be negative")
	case c.MaxBatches < 0 || c.MaxPages < 0:
		return errors.New("batch max-batches and max-pages must not be negative")
	case c.PageSize < 0 || c.PageSize > 100:
		return fmt.Errorf("batch page size must be 1 to 100, got %d", c.PageSize)
	}
	d := c.WithDefaults()
	if d.StaleAfter < d.Interval {
		return fmt.Errorf("batch stale-after (%s) must be at least the poll interval (%s)", d.StaleAfter, d.Interval)
	}
	names := map[string]bool{}
	for _, e := range c.Endpoints {
		if names[e.Name] {
			return fmt.Errorf("batch endpoint name %q is used twice", e.Name)
		}
		names[e.Name] = true
	}
	return nil
}

// Endpoint is one Batch API server.
type Endpoint struct {
	// Name is the value of the endpoint label.
	Name string
	// URL is the server's base URL; GET URL/v1/batches lists the batches.
	URL string
	// APIKey, when set, is sent as "Authorization: Bearer <key>", to the
	// URL's origin (scheme, host and port) only.
	APIKey secret.Secret
}

// NewEndpoint checks rawURL and builds an Endpoint. An empty name is
// derived from the URL: its host and port, and its path if not "/" or "/v1".
// URLs with user information, a query or a fragment are refused: keys
// belong in key files, not in URLs. Errors never quote the URL, nor any
// part of it.
func NewEndpoint(name, rawURL string, key secret.Secret) (Endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// net/url quotes the part it chokes on (`invalid port ":sk-…"`).
		msg := strings.Join(strings.Fields(quoted.ReplaceAllString(err.Error(), "")), " ")
		return Endpoint{}, fmt.Errorf("invalid batch endpoint URL: %s", msg)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return Endpoint{}, errors.New("invalid batch endpoint URL: scheme must be http or https")
	case u.Host == "":
		return Endpoint{}, errors.New("invalid batch endpoint URL: no host")
	case u.User != nil:
		return Endpoint{}, errors.New("invalid batch endpoint URL: user information is not allowed (use an API key file)")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return Endpoint{}, errors.New("invalid batch endpoint URL: query and fragment are not allowed")
	}
	base := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
	if name == "" {
		name = u.Host + base
	}
	if !utf8.ValidString(name) {
		return Endpoint{}, errors.New("batch endpoint name is not valid UTF-8")
	}
	u.Path = base
	u.RawPath = ""
	return Endpoint{Name: name, URL: u.String(), APIKey: key}, nil
}

// ListURL is the URL of the endpoint's batch list.
func (e Endpoint) ListURL() string { return e.URL + "/v1/batches" }

// Redactor returns a Redactor that knows the endpoint's credentials: its
// key, in every form a server may echo it (alone, as the Authorization
// value, base64, escaped), and any credential its URL carries.
func (e Endpoint) Redactor() *secret.Redactor {
	r := secret.NewRedactor()
	e.AddCredentials(r)
	return r
}

// AddCredentials makes r scrub the endpoint's credentials, as its own
// Redactor does.
func (e Endpoint) AddCredentials(r *secret.Redactor) {
	if e.APIKey.IsSet() {
		r.AddSecret(e.APIKey)
		r.AddHeader("Authorization", "Bearer "+e.APIKey.Value())
	}
	r.AddURL(e.URL)
}

// quoted matches a quoted part of an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|` + "`[^`]*`")
