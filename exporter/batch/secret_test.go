package batch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// hostileKey is a key in the shape of OpenAI's project keys: 51 characters.
const hostileKey = "sk-proj-Zx81QmT0cV4bN7eR2yU5iO9pA3sD6fG1hJ4kL7zX0cV"

// TestSecretRedirectToOtherPortGetsNoKey is issue #11, case 5: a 302 from
// the endpoint to another port of the same host delivered the key there,
// as Go drops Authorization only when the host name changes. A redirect to
// another origin (port, host name or scheme) is now never followed: it is
// a poll failure with reason redirect whose error and log line say so, and
// nothing, with or without the key, reaches the other origin.
func TestSecretRedirectToOtherPortGetsNoKey(t *testing.T) {
	t.Parallel()
	for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			var logs logBuffer
			ep, err := batch.NewEndpoint("hostile", srv.URL, secret.New(hostileKey))
			require.NoError(t, err)
			p, err := batch.NewPoller(ep, batch.Config{}, logs.Logger())
			require.NoError(t, err)
			t.Cleanup(p.Stop)

			err = p.Poll(t.Context())
			require.ErrorIs(t, err, batch.ErrRedirect)
			require.ErrorIs(t, err, secret.ErrNotAllowed)
			assert.Equal(t, "redirect", batch.Reason(err))
			assert.Contains(t, err.Error(), "page 1: redirect to another origin refused: refused a redirect from "+srv.URL+" to another origin")
			assert.Contains(t, err.Error(), "credentials are never sent to another origin")
			s := p.Snapshot()
			assert.Equal(t, uint64(1), s.Failures["redirect"])
			assert.Equal(t, err.Error(), s.LastError)
			assert.Contains(t, logs.String(), `msg="batch endpoint poll failed" endpoint=hostile reason=redirect`)
			assert.Contains(t, logs.String(), "to another origin")

			assert.Len(t, srv.Requests(), 1, "the endpoint itself got the request")
			assert.NotEmpty(t, hostile.Leaks(hostile.Echo(srv.Requests()[0].Header), hostileKey), "with the key: it is its origin")
			for name, sink := range map[string]*hostile.Sink{"sink": srv.Sink, "TLS sink": srv.TLSSink} {
				assert.Empty(t, sink.Carrying(hostileKey), "requests carrying the key at the %s", name)
				assert.Empty(t, sink.Requests(), "requests at the %s", name)
				assert.Zero(t, sink.Conns(), "connections to the %s", name)
			}
			hostile.NoLeaks(t, "the error", err.Error(), hostileKey)
			hostile.NoLeaks(t, "the log", logs.String(), hostileKey)
		})
	}
}

// TestSecretSameOriginRedirectIsFollowed: a redirect within the endpoint's
// origin (a gateway moving its API) is followed, with the key.
func TestSecretSameOriginRedirectIsFollowed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/v1/batches" {
			http.Redirect(w, r, "/api/v1/batches?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		fmt.Fprint(w, `{"object":"list","data":[{"id":"b1","status":"in_progress"}]}`)
	}))
	t.Cleanup(srv.Close)
	p := newPoller(t, srv.URL, nil, batch.Config{}, nil)
	require.NoError(t, p.Poll(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"Bearer " + testKey, "Bearer " + testKey}, auth)
}

// TestSecretConfigValueNotEchoed is issue #11, case 7: the key itself put
// where its variable's name or its file's path belongs was printed in the
// start-up error. The error names the field, the file and the endpoint,
// and describes such a value by its length only.
func TestSecretConfigValueNotEchoed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A key that is a valid variable name, and one in base64 with slashes.
	const nameKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	const b64Key = "q8Vw3+Zk9/pL2mN7xR4tY6uI0oP1aS5dF8gH3jK/Lz0="
	getenv := func(k string) string {
		return map[string]string{"GATEWAY_KEY": "sk-gateway-0123456789", batch.APIKeyEnv: "Bearer " + hostileKey}[k]
	}
	for _, tc := range []struct {
		name, yaml string
		want       string // %s is the file
	}{
		{name: "key in api_key_env", yaml: "endpoints:\n  - name: a\n    url: http://h\n    api_key_env: " + hostileKey + "\n",
			want: `api_key_env in %s, endpoint "a": not an environment variable name (a 51-character value; is it the key itself?)`},
		{name: "key in api_key_env, no name", yaml: "endpoints:\n  - url: http://g\n  - url: http://h\n    api_key_env: " + hostileKey + "\n",
			want: `api_key_env in %s, endpoint 2: not an environment variable name (a 51-character value; is it the key itself?)`},
		{name: "key that is a valid name in api_key_env", yaml: "endpoints:\n  - name: a\n    url: http://h\n    api_key_env: " + nameKey + "\n",
			want: `api_key_env in %s, endpoint "a": no environment variable of that name is set, and the name does not look like one ` +
				`(a 32-character value; is it the key itself?)`},
		{name: "key in api_key_file", yaml: "endpoints:\n  - name: a\n    url: http://h\n    api_key_file: " + hostileKey + "\n",
			want: `api_key_file in %s, endpoint "a": cannot open it (no such file or directory), and it does not look like a file path ` +
				`(a 51-character value; is it the key itself?)`},
		{name: "base64 key in api_key_file", yaml: "endpoints:\n  - name: a\n    url: http://h\n    api_key_file: " + b64Key + "\n",
			want: `api_key_file in %s, endpoint "a": cannot open it (no such file or directory), and it does not look like a file path ` +
				`(a 44-character value; is it the key itself?)`},
		{name: "key as a field name", yaml: "endpoints:\n  - url: http://h\n    " + hostileKey + ": x\n",
			want: `batch config %s: line 3: unknown field (a 51-character value; is it the key itself?)`},
		{name: "key where the list belongs", yaml: "endpoints: " + hostileKey + "\n",
			want: "batch config %s: line 1: cannot unmarshal !!str into []batch.fileEndpoint"},
		{name: "key in the url's port", yaml: "endpoints:\n  - url: http://h:" + hostileKey + "/\n",
			want: "batch config %s: endpoint 1: invalid batch endpoint URL: invalid port after host"},
		{name: "key in the url's user-info", yaml: "endpoints:\n  - url: http://" + hostileKey + "@h/\n",
			want: "batch config %s: endpoint 1: invalid batch endpoint URL: user information is not allowed (use an API key file)"},
		// Plausible names are still quoted: they help, and cannot be the key.
		{name: "unset variable", yaml: "endpoints:\n  - url: http://h\n    api_key_env: GATEWAY_KEY_2\n",
			want: "batch config %s: endpoint 1: api_key_env: environment variable GATEWAY_KEY_2 is empty or unset"},
		{name: "missing file", yaml: "endpoints:\n  - url: http://h\n    api_key_file: keys/gateway.key\n",
			want: "batch config %s: endpoint 1: reading API key file: open " + filepath.Join(dir, "keys/gateway.key") + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			_, err := batch.LoadConfigFile(path, getenv)
			require.EqualError(t, err, fmt.Sprintf(tc.want, path))
			hostile.NoLeaks(t, "the error", err.Error(), hostileKey, nameKey, b64Key)
			for _, k := range []string{hostileKey, nameKey, b64Key} {
				assert.NotContains(t, err.Error(), k[:7], "not even its start")
			}
		})
	}

	t.Run("flags", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			src  batch.Sources
			want string
		}{
			{name: "key in --batch.api-key-file", src: batch.Sources{URLs: []string{"http://h"}, APIKeyFile: hostileKey},
				want: "--batch.api-key-file: cannot open it (no such file or directory), and it does not look like a file path " +
					"(a 51-character value; is it the key itself?)"},
			{name: "Bearer in BATCH_API_KEY", src: batch.Sources{URLs: []string{"http://h"}},
				want: `API key contains white space or control characters (give the key alone, without "Bearer ")`},
			{name: "key in --batch.endpoint", src: batch.Sources{URLs: []string{"http://u:" + hostileKey + "@h"}, APIKeyFile: "/nonexistent"},
				want: "reading API key file: open /nonexistent: no such file or directory"},
			{name: "key in --batch.endpoint's user-info", src: batch.Sources{URLs: []string{"http://u:" + hostileKey + "@h"}, Getenv: func(string) string { return "" }},
				want: "--batch.endpoint: invalid batch endpoint URL: user information is not allowed (use an API key file)"},
		} {
			if tc.src.Getenv == nil {
				tc.src.Getenv = getenv
			}
			_, err := tc.src.Endpoints()
			require.EqualError(t, err, tc.want, tc.name)
			hostile.NoLeaks(t, tc.name, err.Error(), hostileKey)
		}
	})
}

// TestSecretKeyLikeValues pins the heuristics that decide whether a value
// found where a name, a path or an argument belongs may be quoted.
func TestSecretKeyLikeValues(t *testing.T) {
	t.Parallel()
	for _, s := range []string{hostileKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
		"Bearer abcdefgh12345678", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.e30.abc", "a3f9c2e17b40d8e6f5a2c9b0d1e7f3a4",
		"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="} {
		assert.True(t, batch.LooksLikeKey(s), s)
		assert.True(t, batch.MayBeKey(s), s)
	}
	for _, s := range []string{"", "GATEWAY_API_KEY", "OPENAI_API_KEY_2024", "vllm.key", "keys/gateway.key", "dgxa100", "30s",
		"127.0.0.1:9849", "/run/secrets/batch_api_key", "/tmp/TestSecretExporterNeverShowsKeyskey_in_api_key_env1865389162/001/batch.yaml",
		"http://127.0.0.1:8000/v1", "--batch.endpoint"} {
		assert.False(t, batch.MayBeKey(s), s)
	}
}
