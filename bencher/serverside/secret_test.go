package serverside

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

const (
	promUser = "promuser"
	promPass = "prom-Pass-5Kx8Wq"
	otherKey = "sk-hostile-8Qm2ZrX7vT4pL9wK"
)

var promSecrets = []string{promPass, promUser + ":" + promPass, otherKey}

// withUserInfo returns base (http://127.0.0.1:PORT) with the Prometheus
// credentials in it.
func withUserInfo(base string) string {
	return "http://" + promUser + ":" + promPass + "@" + strings.TrimPrefix(base, "http://")
}

// TestSecretPrometheusEchoScrubbed: a "Prometheus" that echoes the
// request's headers (the Basic credentials of its URL) into its error
// answers, and a label value that holds another key of the run, leave no
// credential in Collect's error.
func TestSecretPrometheusEchoScrubbed(t *testing.T) {
	t.Parallel()
	for _, mode := range []hostile.Mode{hostile.EchoOK, hostile.Unauthorized, hostile.ServerError, hostile.PlainError} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			c := newClient(t, withUserInfo(srv.URL), WithRedactor(secret.NewRedactor(otherKey)))
			_, err := c.Collect(context.Background(), windowStart, windowEnd)
			require.Error(t, err)
			hostile.NoLeaks(t, "the error", err.Error(), promSecrets...)
			assert.Contains(t, err.Error(), secret.Redacted)
			got := srv.Requests()
			require.NotEmpty(t, got)
			assert.NotEmpty(t, hostile.Leaks(hostile.Echo(got[0].Header), promSecrets...),
				"the server never received the credentials: the test proves nothing")
		})
	}
}

// TestSecretPrometheusRedirectToOtherOrigin: a query redirected to another
// origin is refused, with the client's own HTTP client and with a caller's
// that would follow: nothing reaches the other origin.
func TestSecretPrometheusRedirectToOtherOrigin(t *testing.T) {
	t.Parallel()
	for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
		for _, naive := range []bool{false, true} {
			name := mode.String() + "/own client"
			if naive {
				name = mode.String() + "/caller's client"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				var opts []Option
				if naive {
					opts = append(opts, WithHTTPClient(srv.TLSSink.Client()))
				}
				c := newClient(t, withUserInfo(srv.URL), opts...)
				_, err := c.Collect(context.Background(), windowStart, windowEnd)
				require.Error(t, err)
				assert.ErrorIs(t, err, secret.ErrNotAllowed)
				assert.Contains(t, err.Error(), "another origin")
				hostile.NoLeaks(t, "the error", err.Error(), promSecrets...)
				for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
					assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
					assert.Zero(t, sink.Conns(), "connections to %s", sink.URL)
				}
				require.NotEmpty(t, srv.Requests())
				assert.Equal(t, http.MethodPost, srv.Requests()[0].Method)
			})
		}
	}
}
