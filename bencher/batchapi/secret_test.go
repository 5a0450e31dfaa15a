package batchapi

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// TestSecretsNeverLeakFromTheBatchClient calls every endpoint of a hostile
// server that echoes the credentials into its answers, or redirects them
// to other origins: no error says a credential, in any form, and no other
// origin receives one.
func TestSecretsNeverLeakFromTheBatchClient(t *testing.T) {
	t.Parallel()
	const key, token, user, pass = "sk-batch-key-0123456789", "tok-header-987654321", "batchuser", "batch-pass-5555"
	secrets := []string{key, token, pass, hostile.BasicForm(user, pass)}
	for _, m := range hostile.Modes() {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			h := hostile.New(t)
			h.SetMode(m)
			var errs []string
			note := func(err error) {
				if err != nil {
					errs = append(errs, err.Error())
				}
			}
			for _, base := range []string{h.URL + "/v1", strings.Replace(h.URL, "http://", "http://"+user+":"+pass+"@", 1) + "/v1"} {
				c, err := New(base, WithAPIKey(key), WithHeaders(http.Header{"X-Api-Token": {token}}),
					WithTimeout(5*time.Second),
					// Two quick attempts: the repeated submit's error is
					// checked too, without the default backoff's wait.
					WithSubmitRetries(2, time.Millisecond))
				require.NoError(t, err)
				ctx := context.Background()
				_, err = c.UploadFile(ctx, "in.jsonl", []byte("{}\n"))
				note(err)
				_, err = c.CreateBatch(ctx, CreateRequest{InputFileID: "f", Endpoint: "/v1/completions"})
				note(err)
				_, err = c.GetBatch(ctx, "b")
				note(err)
				_, err = c.CancelBatch(ctx, "b")
				note(err)
				_, err = c.ListBatches(ctx, "b", 1)
				note(err)
				note(c.FileContent(ctx, "f", &bytes.Buffer{}))
				pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				_, err = c.Wait(pollCtx, "b", 10*time.Millisecond, nil)
				cancel()
				note(err)
				_, err = Bench(ctx, c, requests(2), BenchOptions{API: bencher.APICompletions, Model: "m", Poll: time.Millisecond})
				note(err)
			}
			require.NotEmpty(t, errs, "the hostile server fails some calls in every mode")
			hostile.NoLeaks(t, "the batch client's errors", strings.Join(errs, "\n"), secrets...)
			assert.Empty(t, h.Sink.Carrying(secrets...), "a credential went to another port")
			assert.Empty(t, h.TLSSink.Carrying(secrets...), "a credential went to another scheme")
			if m == hostile.Unauthorized {
				assert.Contains(t, strings.Join(errs, "\n"), "HTTP 401", "the error still says what happened")
			}
		})
	}
}
