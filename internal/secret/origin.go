package secret

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxRedirects is how many same-origin redirects CheckRedirect follows.
const MaxRedirects = 10

// Origin returns u's origin, "scheme://host:port", lower-cased and with the
// scheme's default port written out, so that http://h and http://h:80 are
// one origin and http://h:80, http://h:81 and https://h:80 are three.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch scheme {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// SameOrigin reports whether a and b have one origin.
func SameOrigin(a, b *url.URL) bool { return Origin(a) == Origin(b) }

// RedirectError is the error of a redirect that was not followed because
// it changes origin.
type RedirectError struct {
	From, To string // origins
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refused a redirect from %s to another origin, %s: credentials are never sent to another origin "+
		"(point the URL at the final server instead)", e.From, e.To)
}

// Unwrap returns ErrNotAllowed.
func (e *RedirectError) Unwrap() error { return ErrNotAllowed }

// CheckRedirect is the redirect policy of every Benchstation HTTP client
// (http.Client.CheckRedirect): it follows up to MaxRedirects redirects
// within the first request's origin and refuses, with a *RedirectError,
// any that leaves it. Go's client itself drops Authorization only when the
// host name changes, not the port or the scheme; here no request ever
// leaves the origin, with or without credentials.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if !SameOrigin(via[0].URL, req.URL) {
		return &RedirectError{From: Origin(via[0].URL), To: Origin(req.URL)}
	}
	if len(via) >= MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	return nil
}

// Transport adds credential headers to the requests bound for one origin,
// and to no other. It is the way to attach an API key to the requests of
// an http.Client (whose CheckRedirect should be [CheckRedirect]).
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Origin is the origin (see [Origin]) the headers are meant for.
	Origin string
	// Header holds the headers to add; they replace a request's own.
	Header http.Header
}

// NewTransport returns a Transport that adds header to requests for
// target's origin.
func NewTransport(base http.RoundTripper, target *url.URL, header http.Header) *Transport {
	return &Transport{Base: base, Origin: Origin(target), Header: header}
}

// RoundTrip sends r, with t.Header when r is for t.Origin. A request for
// another origin is sent without them and stripped of any credential header
// it carries.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	r2 := r.Clone(r.Context())
	if Origin(r.URL) == t.Origin {
		for k, vs := range t.Header {
			r2.Header[http.CanonicalHeaderKey(k)] = vs
		}
	} else {
		for k := range r2.Header {
			if IsCredentialHeader(k) {
				delete(r2.Header, k)
			}
		}
	}
	return base.RoundTrip(r2)
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// URL returns raw fit for display: without user-info, and with the values
// of credential-like query parameters [Redacted]. A URL that does not
// parse is returned only when it cannot hold a credential ("" otherwise).
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?#") {
			return ""
		}
		return raw
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if IsCredentialName(k) {
				q[k] = []string{Redacted}
			}
		}
		u.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(Redacted), Redacted)
	}
	return u.String()
}

// SameOriginClient returns a copy of hc that follows redirects within the
// first request's origin only (CheckRedirect), then as hc's own
// CheckRedirect says. hc is not modified.
func SameOriginClient(hc *http.Client) *http.Client {
	c := *hc
	own := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckRedirect(req, via); err != nil {
			return err
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &c
}
