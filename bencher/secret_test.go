package bencher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// The credentials of the secret tests.
const (
	secretKey  = "sk-hostile-8Qm2ZrX7vT4pL9wK"
	secretUser = "benchuser"
	secretPass = "p4ss-Hostile-7Yq3"
)

// secretForms are the secrets a leak check looks for (hostile.Leaks adds
// their base64 and URL-escaped forms).
var secretForms = []string{secretKey, secretPass, secretUser + ":" + secretPass}

// credential is one way of giving the client a credential.
type credential struct {
	name string
	// opts returns the options giving it, and the target URL for base.
	opts func(base string) (string, []Option)
}

// credentials returns every way of giving a credential.
func credentials() []credential {
	return []credential{
		{"api key", func(base string) (string, []Option) {
			return base + "/v1", []Option{WithAPIKey(secretKey)}
		}},
		{"authorization header", func(base string) (string, []Option) {
			return base + "/v1", []Option{WithHeader("Authorization", "Bearer "+secretKey)}
		}},
		{"x-api-key header", func(base string) (string, []Option) {
			return base + "/v1", []Option{WithHeader("X-Api-Key", secretKey)}
		}},
		{"url user-info", func(base string) (string, []Option) {
			u, _ := url.Parse(base + "/v1")
			u.User = url.UserPassword(secretUser, secretPass)
			return u.String(), nil
		}},
	}
}

// received fails the test unless the hostile server received a secret:
// a leak check is meaningful only then.
func received(t *testing.T, srv *hostile.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		if len(hostile.Leaks(hostile.Echo(r.Header), secretForms...)) > 0 {
			return
		}
	}
	t.Fatal("the hostile server never received the credential: the test proves nothing")
}

// TestSecretClientScrubsEveryServerString runs against a server that echoes
// the request's headers into every string it answers (model names, outputs,
// error bodies and messages, SSE events): no form of the credential,
// however given, reaches the result, and what held it says [REDACTED].
func TestSecretClientScrubsEveryServerString(t *testing.T) {
	t.Parallel()
	modes := []hostile.Mode{hostile.EchoOK, hostile.Unauthorized, hostile.BadRequest, hostile.ServerError, hostile.PlainError}
	for _, cred := range credentials() {
		for _, mode := range modes {
			for _, variant := range []struct {
				name   string
				api    API
				stream bool
			}{{"stream completions", APICompletions, true}, {"json chat", APIChat, false}} {
				t.Run(cred.name+"/"+mode.String()+"/"+variant.name, func(t *testing.T) {
					t.Parallel()
					srv := hostile.New(t)
					srv.SetMode(mode)
					target, opts := cred.opts(srv.URL)
					opts = append(opts, WithTarget(target), WithAPI(variant.api), WithStreaming(variant.stream),
						WithRecordOutputs(true), WithRequests(3), WithRetries(1), WithBackoff(0, 0))
					if mode != hostile.EchoOK {
						opts = append(opts, WithModel("m"))
					}
					res, err := Run(context.Background(), Requests{{Prompt: "p", MaxTokens: 4}}, opts...)
					require.NoError(t, err)
					received(t, srv)
					b, err := json.Marshal(res)
					require.NoError(t, err)
					hostile.NoLeaks(t, "the result", string(b), secretForms...)
					if mode == hostile.EchoOK {
						assert.Equal(t, secret.Redacted, res.Config.Model, "a detected model name that holds the key")
						for _, rec := range res.Records {
							require.True(t, rec.OK(), rec.ErrorMessage)
							assert.Contains(t, rec.Output, secret.Redacted)
						}
						return
					}
					for _, rec := range res.Records {
						assert.False(t, rec.OK())
						assert.Contains(t, rec.ErrorMessage, secret.Redacted)
					}
				})
			}
		}
	}
}

// TestSecretDetectModelScrubbed: DetectModel's model name and errors hold
// no credential, whatever the server echoes.
func TestSecretDetectModelScrubbed(t *testing.T) {
	t.Parallel()
	for _, cred := range credentials() {
		for _, mode := range []hostile.Mode{hostile.EchoOK, hostile.Unauthorized, hostile.ServerError, hostile.PlainError} {
			t.Run(cred.name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				target, opts := cred.opts(srv.URL)
				model, err := DetectModel(context.Background(), target, opts...)
				received(t, srv)
				if mode == hostile.EchoOK {
					require.NoError(t, err)
					assert.Equal(t, secret.Redacted, model)
					return
				}
				require.Error(t, err)
				hostile.NoLeaks(t, "the error", err.Error(), secretForms...)
				assert.Contains(t, err.Error(), secret.Redacted)
			})
		}
	}
}

// TestSecretClientFollowsNoRedirectToOtherOrigin: a completion or a model
// detection redirected to another port, host name or scheme fails with an
// error that says so, and nothing reaches the other origin, with the
// client's own transport or with a caller's client that would follow.
func TestSecretClientFollowsNoRedirectToOtherOrigin(t *testing.T) {
	t.Parallel()
	for _, cred := range credentials() {
		for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
			for _, naive := range []bool{false, true} {
				name := cred.name + "/" + mode.String() + "/own transport"
				if naive {
					name = cred.name + "/" + mode.String() + "/caller's client"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					srv := hostile.New(t)
					srv.SetMode(mode)
					target, opts := cred.opts(srv.URL)
					opts = append(opts, WithTarget(target), WithRequests(2))
					if naive {
						// Trusts the TLS sink and follows every redirect.
						opts = append(opts, WithHTTPClient(srv.TLSSink.Client()))
					}
					_, err := DetectModel(context.Background(), target, opts...)
					require.Error(t, err)
					assert.ErrorIs(t, err, secret.ErrNotAllowed)
					assert.Contains(t, err.Error(), "another origin")
					hostile.NoLeaks(t, "the error", err.Error(), secretForms...)

					res, err := Run(context.Background(), Requests{{Prompt: "p"}}, append(opts, WithModel("m"))...)
					require.NoError(t, err)
					received(t, srv)
					b, err := json.Marshal(res)
					require.NoError(t, err)
					hostile.NoLeaks(t, "the result", string(b), secretForms...)
					for _, rec := range res.Records {
						assert.Equal(t, ErrHTTPStatus, rec.Error)
						assert.Equal(t, http.StatusFound, rec.HTTPStatus)
						assert.Contains(t, rec.ErrorMessage, "another origin")
						assert.NotContains(t, rec.ErrorMessage, "echo=", "the Location's query is not quoted")
					}
					for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
						assert.Empty(t, sink.Carrying(secretForms...), "requests carrying the credential at %s", sink.URL)
						assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
						assert.Zero(t, sink.Conns(), "connections to %s", sink.URL)
					}
				})
			}
		}
	}
}

// TestSecretMessageScrubbedBeforeCut: an error message is scrubbed before
// it is cut to DefaultMaxErrorMessage bytes, so a key that straddles the
// cut leaves no start of itself behind.
func TestSecretMessageScrubbedBeforeCut(t *testing.T) {
	t.Parallel()
	for at := DefaultMaxErrorMessage - 60; at <= DefaultMaxErrorMessage+10; at += 5 {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			t.Parallel()
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, strings.Repeat("x", at)+r.Header.Get("Authorization")+" and more")
			})
			rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithAPIKey(secretKey), WithModel("m"))
			require.Equal(t, ErrHTTPStatus, rec.Error)
			assert.LessOrEqual(t, len(rec.ErrorMessage), DefaultMaxErrorMessage+len("…"))
			assert.NotContains(t, rec.ErrorMessage, secretKey[:8], "a start of the key is left")
		})
	}
}
