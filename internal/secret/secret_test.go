package secret_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/internal/secret"
)

const key = "sk-test-0123456789abcdef"

// holder is a struct a program might print whole.
type holder struct {
	Name   string
	Key    secret.Secret
	hidden secret.Secret
}

func TestSecretPrintsRedactedInEveryFormat(t *testing.T) {
	s := secret.New(key)
	h := holder{Name: "n", Key: s, hidden: s}
	for _, verb := range []string{"%v", "%s", "%q", "%#v", "%+v", "%x", "%X", "%d", "%10s", "%-20v"} {
		assert.NotContains(t, fmt.Sprintf(verb, s), key, verb)
		assert.NotContains(t, fmt.Sprintf(verb, h), key, verb+" of a struct holding it")
		assert.NotContains(t, fmt.Sprintf(verb, &h), key, verb+" of a pointer to a struct holding it")
	}
	assert.Equal(t, secret.Redacted, fmt.Sprint(s))
	assert.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%q", s))
	assert.Equal(t, secret.Redacted, s.String())

	b, err := json.Marshal(h)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Name":"n","Key":"[REDACTED]"}`, string(b))

	y, err := yaml.Marshal(h)
	require.NoError(t, err)
	assert.NotContains(t, string(y), key)
	assert.Contains(t, string(y), secret.Redacted)

	var buf bytes.Buffer
	for _, lh := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(lh).Info("config", "key", s, "holder", h, slog.Any("ptr", &h))
	}
	assert.NotContains(t, buf.String(), key)
	assert.Contains(t, buf.String(), secret.Redacted)

	assert.Equal(t, key, s.Value(), "Value is the way to the credential")
	assert.True(t, s.IsSet())
}

func TestSecretUnsetShowsEmpty(t *testing.T) {
	var zero secret.Secret
	assert.False(t, zero.IsSet())
	assert.False(t, secret.New("").IsSet())
	assert.Equal(t, "", fmt.Sprint(zero), "no key stays visible as no key")
	assert.Equal(t, "", zero.Value())
	b, err := json.Marshal(zero)
	require.NoError(t, err)
	assert.Equal(t, `""`, string(b))
}

func TestRedactorScrubsEveryForm(t *testing.T) {
	r := secret.NewRedactor(key)
	forms := map[string]string{
		"raw":          key,
		"base64":       base64.StdEncoding.EncodeToString([]byte(key)),
		"base64 raw":   base64.RawStdEncoding.EncodeToString([]byte(key)),
		"base64 url":   base64.URLEncoding.EncodeToString([]byte(key)),
		"query-escape": url.QueryEscape(key + "/+ ="), // not a form of key: checked below
	}
	for name, f := range forms {
		if name == "query-escape" {
			continue
		}
		got := r.String("before " + f + " after")
		assert.Equal(t, "before [REDACTED] after", got, name)
		assert.True(t, r.Contains("x"+f+"x"), name)
	}

	odd := "key/with+odd chars&<=>"
	r.Add(odd)
	for name, f := range map[string]string{
		"query": url.QueryEscape(odd), "path": url.PathEscape(odd), "json": strings.Trim(mustJSON(t, odd), `"`),
	} {
		assert.NotContains(t, r.String("a "+f+" b"), f, name)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestRedactorValueReplacesWhole(t *testing.T) {
	r := secret.NewRedactor(key)
	assert.Equal(t, secret.Redacted, r.Value("model-"+key+"-x"), "a value that held a secret is replaced, not cut")
	assert.Equal(t, "llama", r.Value("llama"))
	assert.Equal(t, "msg [REDACTED] end", r.String("msg "+key+" end"))
}

func TestRedactorIgnoresShortValues(t *testing.T) {
	r := secret.NewRedactor("1", "ab", "")
	assert.True(t, r.Empty())
	assert.Equal(t, "p99 1 ms, ab", r.String("p99 1 ms, ab"))
}

func TestRedactorIgnoresPlaceholders(t *testing.T) {
	// OPENAI_API_KEY=EMPTY is vLLM's documented "no key": the word EMPTY
	// in a report is not a leak.
	r := secret.NewRedactor("EMPTY", "none", "sk-no-key-required")
	r.AddHeader("Authorization", "Bearer EMPTY")
	assert.Equal(t, "EMPTY body; none", r.String("EMPTY body; none"))
	assert.True(t, secret.IsPlaceholder(" Empty "))
	assert.False(t, secret.IsPlaceholder(key))
}

func TestRedactorNilKnowsNothing(t *testing.T) {
	var r *secret.Redactor
	r.Add(key)
	assert.Equal(t, key, r.String(key))
	assert.False(t, r.Contains(key))
	assert.True(t, r.Empty())
	assert.NoError(t, r.Error(nil))
}

func TestRedactorLongestFormFirst(t *testing.T) {
	// "Bearer KEY" and KEY are both known: the longer is replaced whole.
	r := secret.NewRedactor()
	r.AddHeader("Authorization", "Bearer "+key)
	assert.Equal(t, "got [REDACTED].", r.String("got Bearer "+key+"."))
	assert.Equal(t, "got [REDACTED].", r.String("got "+key+"."))
}

func TestRedactorHeaders(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("alice:hunter2-pass"))
	r := secret.NewRedactor()
	r.AddHeaders(http.Header{
		"Authorization":       {"Bearer " + key},
		"Proxy-Authorization": {"Basic " + basic},
		"X-Api-Key":           {"xkey-abcdef"},
		"X-Custom-Token":      {"tok-123456"},
		"Accept":              {"application/json"},
	})
	for _, s := range []string{key, basic, "hunter2-pass", "alice:hunter2-pass", "xkey-abcdef", "tok-123456"} {
		assert.True(t, r.Contains(s), s)
	}
	assert.False(t, r.Contains("application/json"), "only credential headers are secrets")

	shown := r.Header(http.Header{"Authorization": {"Bearer " + key}, "User-Agent": {"ua " + key}, "Accept": {"*/*"}})
	assert.Equal(t, []string{secret.Redacted}, shown["Authorization"])
	assert.Equal(t, []string{"ua " + secret.Redacted}, shown["User-Agent"])
	assert.Equal(t, []string{"*/*"}, shown["Accept"])
}

func TestIsCredentialName(t *testing.T) {
	for _, n := range []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "api-key", "Cookie", "X-Auth-Token",
		"api_key", "access_token", "OPENAI_API_KEY", "client_secret", "Password"} {
		assert.True(t, secret.IsCredentialName(n), n)
	}
	for _, n := range []string{"Accept", "Content-Type", "User-Agent", "X-Request-Id", "model", "Keep-Alive"} {
		assert.False(t, secret.IsCredentialName(n), n)
	}
}

func TestRedactorURL(t *testing.T) {
	r := secret.NewRedactor()
	r.AddURL("http://alice:hunter2-pass@127.0.0.1:8000/v1?api_key=qk-987654&model=m")
	for _, s := range []string{"hunter2-pass", "alice:hunter2-pass", base64.StdEncoding.EncodeToString([]byte("alice:hunter2-pass")), "qk-987654"} {
		assert.True(t, r.Contains(s), s)
	}
	assert.False(t, r.Contains("alice "), "a user name with a password is not a secret")

	tok := secret.NewRedactor()
	tok.AddURL("https://ghp_tokenvalue1@example.test/v1")
	assert.True(t, tok.Contains("ghp_tokenvalue1"), "a user name alone is a token")

	assert.Equal(t, "http://127.0.0.1:8000/v1?api_key=[REDACTED]&model=m",
		secret.URL("http://alice:hunter2-pass@127.0.0.1:8000/v1?api_key=qk-987654&model=m"))
	assert.Equal(t, "", secret.URL("http://a:b@%zz"), "an unparsable URL that may hold credentials is not shown")
	assert.Equal(t, "http://%zz", secret.URL("http://%zz"), "an unparsable URL without credentials is shown as it is")
}

func TestRedactorError(t *testing.T) {
	r := secret.NewRedactor(key)
	base := errors.New("server said " + key)
	err := r.Error(fmt.Errorf("probe: %w", base))
	assert.Equal(t, "probe: server said [REDACTED]", err.Error())
	assert.ErrorIs(t, err, base, "the chain stays reachable")
	plain := errors.New("nothing here")
	assert.Same(t, plain, r.Error(plain))
}

func TestRedactorWriterAndHandler(t *testing.T) {
	r := secret.NewRedactor(key)
	var out bytes.Buffer
	w := r.Writer(&out)
	n, err := io.WriteString(w, "stderr: "+key+"\n")
	require.NoError(t, err)
	assert.Equal(t, len("stderr: "+key+"\n"), n, "Write reports the input's length")
	assert.Equal(t, "stderr: [REDACTED]\n", out.String())

	var logs bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&logs, nil))).With("target", "http://x/"+key)
	log.WithGroup("g").Info("answer "+key, "body", key, "err", errors.New("e "+key),
		"stringer", stringer(key), "bytes", []byte(key), slog.Group("inner", "v", key))
	assert.NotContains(t, logs.String(), key)
	assert.Equal(t, 7, strings.Count(logs.String(), secret.Redacted), logs.String())
}

// TestRedactorWriterSerialisesWrites: a progress bar and a logger write
// to one stderr at once; the writer under it need not be safe for that.
func TestRedactorWriterSerialisesWrites(t *testing.T) {
	var out bytes.Buffer // not safe for concurrent use
	w := secret.NewRedactor(key).Writer(&out)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				_, _ = io.WriteString(w, "line "+key+"\n")
			}
		}()
	}
	for range 4 {
		<-done
	}
	assert.Equal(t, 800, strings.Count(out.String(), "line [REDACTED]\n"))
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestOrigin(t *testing.T) {
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, "http://h:80", secret.Origin(u("HTTP://H/x")))
	assert.True(t, secret.SameOrigin(u("http://h/a"), u("http://h:80/b?c")))
	assert.True(t, secret.SameOrigin(u("https://h/a"), u("https://h:443/")))
	assert.False(t, secret.SameOrigin(u("http://h:80/"), u("http://h:81/")), "port")
	assert.False(t, secret.SameOrigin(u("http://h/"), u("https://h/")), "scheme")
	assert.False(t, secret.SameOrigin(u("http://127.0.0.1:80/"), u("http://localhost:80/")), "host name")
	assert.Equal(t, "http://[::1]:8000", secret.Origin(u("http://[::1]:8000/v1")))
}

// TestCheckRedirect runs a real client: a same-origin redirect is followed
// with the key, one to another port is refused before any connection.
func TestCheckRedirect(t *testing.T) {
	var otherHits int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits++ }))
	defer other.Close()
	var gotKey string
	mux := http.NewServeMux()
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/final", http.StatusFound) })
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) { gotKey = r.Header.Get("Authorization") })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/?k="+key, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	hc := &http.Client{
		Transport:     secret.NewTransport(nil, target, http.Header{"Authorization": {"Bearer " + key}}),
		CheckRedirect: secret.CheckRedirect,
	}
	resp, err := hc.Get(srv.URL + "/same")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer "+key, gotKey, "the key reaches its own origin")

	_, err = hc.Get(srv.URL + "/away")
	require.Error(t, err)
	var re *secret.RedirectError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, secret.ErrNotAllowed)
	assert.Contains(t, re.Error(), "another origin")
	assert.NotContains(t, re.Error(), key, "the error names origins, not URLs")
	assert.Equal(t, 0, otherHits)

	_, err = hc.Get(srv.URL + "/loop")
	assert.ErrorContains(t, err, "stopped after 10 redirects")
}

// TestTransportOtherOrigin: a request the transport sees for another
// origin carries no credential header, neither its own nor the request's.
func TestTransportOtherOrigin(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	elsewhere, _ := url.Parse("http://127.0.0.1:1")
	tr := secret.NewTransport(nil, elsewhere, http.Header{"Authorization": {"Bearer " + key}})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Accept", "text/plain")
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, got.Get("Authorization"))
	assert.Empty(t, got.Get("X-Api-Key"))
	assert.Equal(t, "text/plain", got.Get("Accept"))
	assert.Equal(t, key, req.Header.Get("X-Api-Key"), "the caller's request is not modified")
}
