package hostile_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

const key = "sk-hostile-test-key-0001"

func get(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestEchoesTheKeyEverywhere checks the server is as hostile as it says:
// the key comes back in every endpoint's body and in every error mode.
func TestEchoesTheKeyEverywhere(t *testing.T) {
	s := hostile.New(t)
	for _, path := range []string{"/v1/models", "/version", "/v1/batches", "/v1/batches/b1", "/metrics", "/nope"} {
		_, body := get(t, http.DefaultClient, s.URL+path)
		assert.NotEmpty(t, hostile.Leaks(body, key), path)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	_, body := get(t, http.DefaultClient, s.URL+"/v1/models")
	require.NoError(t, json.Unmarshal([]byte(body), &models))
	assert.Contains(t, models.Data[0].ID, key, "the model id is the echo")

	for _, stream := range []string{`{"stream":true}`, `{}`} {
		for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
			req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(stream))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.NotEmpty(t, hostile.Leaks(string(b), key), path+" "+stream)
			if stream != "{}" {
				assert.Contains(t, string(b), "data: [DONE]")
			}
		}
	}

	for mode, code := range map[hostile.Mode]int{hostile.Unauthorized: 401, hostile.BadRequest: 400,
		hostile.ServerError: 500, hostile.PlainError: 502} {
		s.SetMode(mode)
		got, body := get(t, http.DefaultClient, s.URL+"/v1/models")
		assert.Equal(t, code, got, mode.String())
		assert.NotEmpty(t, hostile.Leaks(body, key), mode.String())
	}
}

// TestRedirectsReachTheSinks checks that a naive client following the
// redirects does deliver the key to the other origin, which the sinks see.
func TestRedirectsReachTheSinks(t *testing.T) {
	s := hostile.New(t)
	s.SetMode(hostile.RedirectPort)
	get(t, http.DefaultClient, s.URL+"/v1/models")
	assert.Len(t, s.Sink.Carrying(key), 1, "Go's client keeps Authorization when only the port changes")

	s.SetMode(hostile.RedirectHost)
	get(t, http.DefaultClient, s.URL+"/v1/models")
	assert.Len(t, s.Sink.Requests(), 2, "the other host name is the same sink")
	assert.Len(t, s.Sink.Carrying(key), 2, "the echo in the redirect's query carries the key")

	s.SetMode(hostile.RedirectScheme)
	hc := s.TLSSink.Client()
	get(t, hc, s.URL+"/v1/models")
	assert.Len(t, s.TLSSink.Carrying(key), 1)
	assert.Positive(t, s.TLSSink.Conns())
}

func TestLeaksFindsEncodedForms(t *testing.T) {
	assert.Empty(t, hostile.Leaks("nothing here", key))
	assert.Len(t, hostile.Leaks("a "+key+" b "+key, key), 2)
	assert.Len(t, hostile.Leaks("Basic "+hostile.BasicForm("u", "p4ss"), "u:p4ss"), 1)
	assert.Empty(t, hostile.Leaks("x", ""), "no secret, no leak")
}
