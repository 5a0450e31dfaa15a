package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// The kinds of poll failure. Every error a poll returns wraps exactly one.
var (
	ErrTimeout      = errors.New("timeout")
	ErrConnection   = errors.New("connection failed")
	ErrUnauthorized = errors.New("unauthorized")
	ErrRateLimited  = errors.New("rate limited")
	ErrServerError  = errors.New("server error")
	ErrHTTPStatus   = errors.New("unexpected HTTP status")
	ErrMalformed    = errors.New("malformed response")
	ErrPagination   = errors.New("pagination failed")
	// ErrRedirect is a redirect to another origin (scheme, host or port),
	// which is never followed: the key is for the endpoint's origin only.
	ErrRedirect = errors.New("redirect to another origin refused")
)

// reasons name the kinds of failure in the reason label, in order.
var reasons = [...]struct {
	name string
	err  error
}{
	{"timeout", ErrTimeout},
	{"connection", ErrConnection},
	{"unauthorized", ErrUnauthorized},
	{"rate_limited", ErrRateLimited},
	{"server_error", ErrServerError},
	{"http_status", ErrHTTPStatus},
	{"malformed", ErrMalformed},
	{"pagination", ErrPagination},
	{"redirect", ErrRedirect},
}

// Reasons returns the values of the reason label, one per kind of failure.
func Reasons() []string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = r.name
	}
	return out
}

// Reason returns the reason label of a poll error, "" for nil, and
// "connection" for an error of no known kind.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	return reasons[reasonIndex(err)].name
}

func reasonIndex(err error) int {
	for i, r := range reasons {
		if errors.Is(err, r.err) {
			return i
		}
	}
	return 1
}

// HTTPError is a non-200 answer.
type HTTPError struct {
	// Code is the HTTP status code.
	Code int
	// RetryAfter is the server's Retry-After, 0 if none.
	RetryAfter time.Duration
	// Detail is the error code or type from an OpenAI-style error body,
	// restricted to a short identifier.
	Detail string
}

func (e *HTTPError) Error() string {
	s := "HTTP " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.RetryAfter > 0 {
		s += ", retry after " + e.RetryAfter.String()
	}
	return s
}

// client fetches the pages of one endpoint's batch list.
type client struct {
	http     *http.Client // adds the key, for the endpoint's origin only
	listURL  string
	key      secret.Secret
	red      *secret.Redactor
	pageSize int
	maxPages int
	maxBytes int64
	maxRetry time.Duration
	now      func() time.Time
}

// newHTTPClient returns the client of an endpoint: it sends the key to the
// endpoint's origin only and follows no redirect to another origin.
func newHTTPClient(ep Endpoint) (*http.Client, error) {
	u, err := url.Parse(ep.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("invalid batch endpoint URL (build endpoints with NewEndpoint)")
	}
	header := http.Header{}
	if ep.APIKey.IsSet() {
		header.Set("Authorization", "Bearer "+ep.APIKey.Value())
	}
	return &http.Client{
		Transport:     secret.NewTransport(http.DefaultTransport.(*http.Transport).Clone(), u, header),
		CheckRedirect: secret.CheckRedirect,
	}, nil
}

// list visits every batch of every page, following after/has_more. It
// stops with ErrPagination on a cursor seen before, a page that says
// has_more but gives no cursor, or more than maxPages pages.
func (c *client) list(ctx context.Context, visit func(*Batch)) (pages int, err error) {
	seen := map[string]bool{}
	after := ""
	for pages = 1; ; pages++ {
		if pages > c.maxPages {
			return pages - 1, fmt.Errorf("%w: more than %d pages (the limit on pages per poll)", ErrPagination, c.maxPages)
		}
		p, err := c.page(ctx, after)
		if err != nil {
			return pages, fmt.Errorf("page %d: %w", pages, err)
		}
		for i := range p.Data {
			visit(&p.Data[i])
		}
		if !p.HasMore {
			return pages, nil
		}
		next := p.LastID
		if next == "" && len(p.Data) > 0 {
			next = p.Data[len(p.Data)-1].ID
		}
		switch {
		case next == "":
			return pages, fmt.Errorf("%w: page %d says has_more but gives no last_id", ErrPagination, pages)
		case seen[next] || next == after:
			return pages, fmt.Errorf("%w: page %d repeats the cursor %s (a pagination loop)", ErrPagination, pages, c.quote(next))
		}
		seen[next] = true
		after = next
	}
}

// page fetches and decodes one page.
func (c *client) page(ctx context.Context, after string) (*Page, error) {
	q := url.Values{"limit": {strconv.Itoa(c.pageSize)}}
	if after != "" {
		q.Set("after", after)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.listURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: building request: %w", ErrConnection, unwrapURL(err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "benchstation-exporter")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, body)
	}
	if int64(len(body)) > c.maxBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, c.maxBytes)
	}
	return c.decodePage(body)
}

// decodePage decodes a list page, which must be a JSON object with a data
// array and, if it names its object, the object "list".
func (c *client) decodePage(body []byte) (*Page, error) {
	var wire struct {
		Page
		Data *[]Batch `json:"data"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	switch {
	case wire.Data == nil:
		return nil, fmt.Errorf("%w: no data array", ErrMalformed)
	case wire.Object != "" && wire.Object != "list":
		return nil, fmt.Errorf("%w: object is %s, not list", ErrMalformed, c.quote(wire.Object))
	}
	p := wire.Page
	p.Data = *wire.Data
	return &p, nil
}

// jsonError keeps the kind and place of a decoding error, never the input.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		msg := fmt.Sprintf("JSON %s where a %s was expected", te.Value, te.Type.Kind())
		if te.Field != "" {
			msg += " (field " + te.Field + ")"
		}
		return errors.New(msg)
	case errors.Is(err, errBadTimestamp):
		return err
	}
	return errors.New("invalid JSON")
}

func (c *client) statusError(resp *http.Response, body []byte) error {
	e := &HTTPError{Code: resp.StatusCode, Detail: errorDetail(body)}
	if e.Detail != "" && (c.red.Contains(e.Detail) || strings.Contains(c.key.Value(), e.Detail)) {
		e.Detail = "" // a server that echoes the key, or part of it
	}
	kind := ErrHTTPStatus
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		kind = ErrUnauthorized
	case resp.StatusCode == http.StatusTooManyRequests:
		kind = ErrRateLimited
	case resp.StatusCode >= 500:
		kind = ErrServerError
	}
	if kind == ErrRateLimited || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now(), c.maxRetry)
	}
	return fmt.Errorf("%w: %w", kind, e)
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped.
func retryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(limit/time.Second)+1)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

// errorDetail returns the code, else the type, of an OpenAI-style error
// body ({"error":{...}} or the flat {"object":"error",...}), as a short
// identifier; "" when there is none.
func errorDetail(body []byte) string {
	type detail struct {
		Code json.RawMessage `json:"code"`
		Type string          `json:"type"`
	}
	var e struct {
		Error *detail `json:"error"`
		detail
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	d := e.detail
	if e.Error != nil {
		d = *e.Error
	}
	var code string
	if json.Unmarshal(d.Code, &code) != nil || code == "" {
		code = d.Type
	}
	return identifier(code)
}

// identifier returns s if it is a short identifier ([A-Za-z0-9_.-], at
// most 48 bytes), else "".
func identifier(s string) string {
	if len(s) > 48 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return ""
		}
	}
	return s
}

// transportError classifies a failure to get or read a response.
func transportError(ctx context.Context, err error) error {
	err = unwrapURL(err)
	var re *secret.RedirectError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrRedirect, err)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrConnection, err)
}

// unwrapURL drops the *url.Error around a client error: its text repeats
// the URL, which adds nothing to the endpoint label.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// quote quotes a string from the server, cut to 64 bytes, for error text;
// one that holds a credential is [REDACTED] whole (before the cut, which
// could leave a part of it that no redactor would know).
func (c *client) quote(s string) string {
	s = c.red.Value(s)
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
