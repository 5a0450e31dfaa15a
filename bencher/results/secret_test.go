package results

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

const (
	secretKey  = "sk-hostile-8Qm2ZrX7vT4pL9wK"
	secretUser = "benchuser"
	secretPass = "p4ss-Hostile-7Yq3"
)

var secretForms = []string{secretKey, secretPass, secretUser + ":" + secretPass}

// keyClient returns a client that sends the key to target's origin only,
// as the bencher CLI's does.
func keyClient(t *testing.T, target string) *http.Client {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	return &http.Client{Transport: secret.NewTransport(http.DefaultTransport, u,
		http.Header{"Authorization": {"Bearer " + secretKey}})}
}

// TestSecretDetectServerRedactsVersion (issue #11, case 3): a /version
// that echoes the request's headers is stored as [REDACTED], whether the
// key is known from the client's transport, from a redactor or from the
// target's user-info.
func TestSecretDetectServerRedactsVersion(t *testing.T) {
	t.Parallel()
	srv := hostile.New(t)
	userInfo := "http://" + secretUser + ":" + secretPass + "@" + srv.URL[len("http://"):] + "/v1"
	tests := []struct {
		name   string
		hc     func() *http.Client
		target string
		red    []*secret.Redactor
	}{
		{"secret.Transport", func() *http.Client { return keyClient(t, srv.URL) }, srv.URL + "/v1", nil},
		{"redactor", func() *http.Client {
			return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				r.Header.Set("X-Api-Key", secretKey)
				return http.DefaultTransport.RoundTrip(r)
			})}
		}, srv.URL + "/v1", []*secret.Redactor{secret.NewRedactor(secretKey)}},
		{"url user-info", func() *http.Client { return nil }, userInfo, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectServer(context.Background(), tt.hc(), tt.target, tt.red...)
			require.NoError(t, err)
			assert.Equal(t, secret.Redacted, got.Version)
			assert.False(t, got.Simulated)
			v, err := ServerVersion(context.Background(), tt.hc(), tt.target, tt.red...)
			require.NoError(t, err)
			assert.Equal(t, secret.Redacted, v)
		})
	}
	received := false
	for _, r := range srv.Requests() {
		received = received || len(hostile.Leaks(hostile.Echo(r.Header), secretForms...)) > 0
	}
	require.True(t, received, "the server never received a credential: the test proves nothing")
}

// roundTripper adapts a function to http.RoundTripper.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSecretServerVersionRedirectToOtherOrigin: a /version redirected to
// another origin is not followed, even by a caller's client that would
// follow it, and the error says why.
func TestSecretServerVersionRedirectToOtherOrigin(t *testing.T) {
	t.Parallel()
	for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			hc := srv.TLSSink.Client() // trusts the TLS sink, follows every redirect
			hc.Transport = secret.NewTransport(hc.Transport, mustParse(t, srv.URL), http.Header{"Authorization": {"Bearer " + secretKey}})
			_, err := DetectServer(context.Background(), hc, srv.URL+"/v1")
			require.Error(t, err)
			assert.ErrorIs(t, err, secret.ErrNotAllowed)
			assert.NotErrorIs(t, err, ErrNoVersion)
			assert.Contains(t, err.Error(), "another origin")
			hostile.NoLeaks(t, "the error", err.Error(), secretForms...)
			for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
				assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
				assert.Zero(t, sink.Conns(), "connections to %s", sink.URL)
			}
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// TestSecretMetaRedactorScrubsDocument: with Meta.Redactor, the server's
// strings in the records, the error, the model and the version are
// scrubbed in the document, and the caller's records are left alone.
func TestSecretMetaRedactorScrubsDocument(t *testing.T) {
	t.Parallel()
	echo := "Authorization: Bearer " + secretKey
	start := time.Now()
	res := &bencher.Result{Start: start, End: start.Add(time.Second), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{Target: "http://h/v1", Model: echo, Concurrency: 1, Requests: 2},
		Records: []bencher.Record{
			{Index: 0, Sent: 1, End: 2, Output: "said " + echo, FinishReason: echo, OutputTokens: 1},
			{Index: 1, Sent: 1, End: 2, Error: bencher.ErrHTTPStatus, HTTPStatus: 401, ErrorMessage: "refused " + echo},
		}}
	doc := NewPartial(res, Meta{ServerVersion: echo, Redactor: secret.NewRedactor(secretKey)}, assertErr("failed: "+echo))
	b := encode(t, doc)
	hostile.NoLeaks(t, "the document", string(b), secretForms...)
	assert.Equal(t, secret.Redacted, doc.Environment.Model)
	assert.Equal(t, secret.Redacted, doc.Config.Run.Model)
	assert.Equal(t, secret.Redacted, doc.Environment.ServerVersion)
	assert.Equal(t, secret.Redacted, doc.Records[0].FinishReason)
	assert.Equal(t, "said Authorization: Bearer "+secret.Redacted, doc.Records[0].Output)
	assert.Equal(t, []string{"refused Authorization: Bearer " + secret.Redacted}, doc.Errors[0].Examples)
	assert.Equal(t, "failed: Authorization: Bearer "+secret.Redacted, doc.Error)
	assert.Contains(t, res.Records[1].ErrorMessage, secretKey, "the caller's records are not modified")
}

type assertErr string

func (e assertErr) Error() string { return string(e) }
