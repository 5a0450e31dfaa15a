package secret

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// MinLen is the shortest value a Redactor scrubs. A shorter credential
// ("1", "ab") cannot be told from ordinary text: scrubbing every "1" would
// wreck every report while protecting nothing a guess would not find. Such
// values are still kept from other origins and still print as [Redacted]
// when held in a [Secret].
const MinLen = 4

// Redactor scrubs credentials from strings. It knows each credential in
// every form a server may echo it in: as given, base64 (standard and URL
// alphabets, padded or not), URL-escaped and JSON-escaped. A nil *Redactor
// knows no credential and returns its input unchanged. It is safe for
// concurrent use.
type Redactor struct {
	mu    sync.RWMutex
	forms []string // every form of every credential, longest first
	rep   *strings.Replacer
}

// NewRedactor returns a Redactor that knows values (see [Redactor.Add]).
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add makes r scrub each value, in all its forms. Values shorter than
// [MinLen] and placeholders ([IsPlaceholder]: EMPTY, none…) are ignored.
func (r *Redactor) Add(values ...string) {
	var forms []string
	for _, v := range values {
		forms = appendForms(forms, v)
	}
	r.addForms(forms)
}

// AddSecret makes r scrub s's value.
func (r *Redactor) AddSecret(secrets ...Secret) {
	for _, s := range secrets {
		r.Add(s.Value())
	}
}

// AddHeader makes r scrub the values of a credential header (see
// [IsCredentialHeader]); other headers are ignored. For a value of the form
// "Scheme token" the token is scrubbed too, and for Basic credentials the
// decoded "user:password" and the password.
func (r *Redactor) AddHeader(name string, values ...string) {
	if !IsCredentialHeader(name) {
		return
	}
	for _, v := range values {
		v = strings.TrimSpace(v)
		r.Add(v)
		scheme, token, ok := strings.Cut(v, " ")
		if !ok {
			continue
		}
		token = strings.TrimSpace(token)
		r.Add(token)
		if strings.EqualFold(scheme, "Basic") {
			if dec, err := base64.StdEncoding.DecodeString(token); err == nil {
				_, pass, _ := strings.Cut(string(dec), ":")
				r.Add(string(dec), pass)
			}
		}
	}
}

// AddHeaders calls AddHeader for every header of h.
func (r *Redactor) AddHeaders(h http.Header) {
	for k, vs := range h {
		r.AddHeader(k, vs...)
	}
}

// AddURL makes r scrub the credentials a URL carries: its user-info (the
// password, "user:password" and its base64 form, which is what Basic
// authentication sends; a user name alone, as in https://TOKEN@host, is
// taken for a token) and the values of query parameters whose names look
// like credentials (see [IsCredentialName]). A URL that does not parse
// adds nothing.
func (r *Redactor) AddURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if u.User != nil {
		if pass, ok := u.User.Password(); ok {
			r.Add(pass, u.User.Username()+":"+pass)
		} else {
			r.Add(u.User.Username())
		}
	}
	for k, vs := range u.Query() {
		if IsCredentialName(k) {
			r.Add(vs...)
		}
	}
}

func (r *Redactor) addForms(forms []string) {
	if r == nil || len(forms) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range forms {
		if !slices.Contains(r.forms, f) {
			r.forms = append(r.forms, f)
		}
	}
	// Longest first, so that a form holding another is replaced whole.
	slices.SortStableFunc(r.forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(r.forms))
	for _, f := range r.forms {
		pairs = append(pairs, f, Redacted)
	}
	r.rep = strings.NewReplacer(pairs...)
}

// placeholders are the values that stand for "no key" by convention
// (vLLM's and OpenAI clients' documentation use EMPTY): not secrets, and
// scrubbing them would only turn ordinary words into [REDACTED].
var placeholders = []string{"empty", "none", "null", "dummy", "no-key", "nokey", "not-needed", "sk-no-key-required"}

// IsPlaceholder reports whether v is a conventional stand-in for no key.
func IsPlaceholder(v string) bool {
	return slices.Contains(placeholders, strings.ToLower(strings.TrimSpace(v)))
}

// appendForms appends v and the forms a server may echo it in.
func appendForms(forms []string, v string) []string {
	if len(v) < MinLen || IsPlaceholder(v) {
		return forms
	}
	add := func(f string) {
		if len(f) >= MinLen && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	add(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString([]byte(v)))
	}
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	if b, err := json.Marshal(v); err == nil {
		add(string(b[1 : len(b)-1])) // as Go's encoder writes it, HTML characters escaped
	}
	return forms
}

// Empty reports whether r knows no credential.
func (r *Redactor) Empty() bool {
	if r == nil {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.forms) == 0
}

// replacer returns the current replacer, nil when r knows nothing.
func (r *Redactor) replacer() *strings.Replacer {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rep
}

// String returns s with every credential replaced by [Redacted].
func (r *Redactor) String(s string) string {
	if rep := r.replacer(); rep != nil {
		return rep.Replace(s)
	}
	return s
}

// Contains reports whether s holds a credential in any known form.
func (r *Redactor) Contains(s string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// Value returns s, or [Redacted] in its place when s holds a credential:
// for values that identify something (a label value, a model name, a
// version) a part of which would mislead.
func (r *Redactor) Value(s string) string {
	if r.Contains(s) {
		return Redacted
	}
	return s
}

// Error returns err with its text scrubbed; the result still unwraps to
// err, for errors.Is and errors.As. It returns err itself when there was
// nothing to scrub, and nil for nil.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := r.String(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// redactedError is an error whose text was scrubbed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Header returns a copy of h fit for display: the values of credential
// headers are [Redacted], the others scrubbed.
func (r *Redactor) Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			if IsCredentialHeader(k) {
				c[i] = Redacted
			} else {
				c[i] = r.String(v)
			}
		}
		out[k] = c
	}
	return out
}

// Writer returns a writer that scrubs every Write before passing it to w:
// the last line of defence of stdout, stderr and log files. It scrubs each
// Write on its own, so a credential split across two writes is not seen;
// fmt.Fprint and log handlers write whole messages. Writes are serialised,
// so a progress bar and a logger may share it (and w need not be safe for
// concurrent use).
func (r *Redactor) Writer(w io.Writer) io.Writer { return &writer{r: r, w: w} }

type writer struct {
	r  *Redactor
	mu sync.Mutex
	w  io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rep := w.r.replacer()
	if rep == nil {
		return w.w.Write(p)
	}
	clean := rep.Replace(string(p))
	if clean == string(p) {
		return w.w.Write(p)
	}
	if _, err := io.WriteString(w.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Handler returns a slog.Handler that scrubs the message and every string,
// error and Stringer attribute of each record before passing it to h.
func (r *Redactor) Handler(h slog.Handler) slog.Handler { return &handler{r: r, h: h} }

type handler struct {
	r *Redactor
	h slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if h.r.Empty() {
		return h.h.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &handler{r: h.r, h: h.h.WithAttrs(clean)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{r: h.r, h: h.h.WithGroup(name)}
}

// attr returns a with its value scrubbed.
func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		as := v.Group()
		clean := make([]any, len(as))
		for i, g := range as {
			clean[i] = h.attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.Any(a.Key, h.r.Error(x))
		case interface{ String() string }:
			return slog.String(a.Key, h.r.String(x.String()))
		case []byte:
			return slog.String(a.Key, h.r.String(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// credentialWords are the parts of a header, flag or field name that mark
// its value as a credential.
var credentialWords = []string{
	"auth", "token", "key", "secret", "password", "passwd", "pwd", "cookie",
	"session", "credential", "signature", "bearer",
}

// IsCredentialName reports whether a header, query parameter or field name
// looks like it carries a credential: Authorization, Proxy-Authorization,
// X-Api-Key, Cookie, api_key, access_token, X-Auth-Token, …
func IsCredentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// IsCredentialHeader reports whether an HTTP header carries a credential
// (see [IsCredentialName]).
func IsCredentialHeader(name string) bool { return IsCredentialName(name) }

// ErrNotAllowed is wrapped by errors about credentials that were kept back.
var ErrNotAllowed = errors.New("credentials are never sent to another origin")
