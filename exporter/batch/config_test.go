package batch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/internal/secret"
)

func TestNewEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url            string
		wantName, wantList   string
		wantErr, mustNotShow string
	}{
		{url: "http://localhost:8000", wantName: "localhost:8000", wantList: "http://localhost:8000/v1/batches"},
		{url: " http://localhost:8000/v1/ ", wantName: "localhost:8000", wantList: "http://localhost:8000/v1/batches"},
		{url: "https://gw.example/api/v1", wantName: "gw.example/api", wantList: "https://gw.example/api/v1/batches"},
		{name: "vllm", url: "http://10.0.0.2:8000/", wantName: "vllm", wantList: "http://10.0.0.2:8000/v1/batches"},
		{url: "localhost:8000", wantErr: "invalid batch endpoint URL: scheme must be http or https"},
		{url: "ftp://h", wantErr: "invalid batch endpoint URL: scheme must be http or https"},
		{url: "http://", wantErr: "invalid batch endpoint URL: no host"},
		{url: "http://u:hunter2@h", wantErr: "invalid batch endpoint URL: user information is not allowed (use an API key file)", mustNotShow: "hunter2"},
		{url: "http://h/?key=hunter2", wantErr: "invalid batch endpoint URL: query and fragment are not allowed", mustNotShow: "hunter2"},
		{url: "http://u:hunter2@h\x7f/", wantErr: "invalid batch endpoint URL: net/url: invalid control character in URL", mustNotShow: "hunter2"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			e, err := batch.NewEndpoint(tc.name, tc.url, secret.Secret{})
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				if tc.mustNotShow != "" {
					assert.NotContains(t, err.Error(), tc.mustNotShow)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantName, e.Name)
			assert.Equal(t, tc.wantList, e.ListURL())
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	e, err := batch.NewEndpoint("x", "http://h", secret.New(testKey))
	require.NoError(t, err)
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", e)
		fmt.Fprintf(&out, verb+"\n", e.APIKey)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "endpoint", e, "key", e.APIKey)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "endpoint", e, "key", e.APIKey)
	j, err := json.Marshal(e)
	require.NoError(t, err)
	out.Write(j)
	assert.NotContains(t, out.String(), testKey)
	assert.Contains(t, out.String(), "[REDACTED]")
	assert.Equal(t, testKey, e.APIKey.Value())
	assert.Empty(t, secret.Secret{}.String(), "no key prints as nothing")
}

func TestReadAPIKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good, empty := write("good", "  "+testKey+"\n"), write("empty", "\n")
	spaced, big := write("spaced", "sk-a "+testKey), write("big", string(make([]byte, 65<<10)))
	for _, tc := range []struct {
		name, file, env string
		want            string
		wantErr         string
	}{
		{name: "file", file: good, env: "ignored", want: testKey},
		{name: "env", env: " " + testKey + "\n", want: testKey},
		{name: "none"},
		{name: "empty file", file: empty, wantErr: "API key file " + empty + " is empty"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "reading API key file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{name: "white space inside", file: spaced, wantErr: "API key contains white space or control characters"},
		{name: "control character", env: "sk-\x00", wantErr: "API key contains white space or control characters"},
		{name: "too large", file: big, wantErr: "API key file " + big + " is larger than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := batch.ReadAPIKey(tc.file, tc.env)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Value())
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local.key"), []byte(testKey+"\n"), 0o600))
	env := map[string]string{"GATEWAY_KEY": "sk-gateway"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name, yaml string
		want       []string // name, list URL, key
		wantErr    string   // %s is the file
	}{
		{name: "valid", yaml: `
endpoints:
  - name: local
    url: http://localhost:8000
    api_key_file: local.key
  - url: https://gateway.example/v1
    api_key_env: GATEWAY_KEY
  - name: open
    url: http://10.0.0.3:8000
`, want: []string{"local http://localhost:8000/v1/batches " + testKey,
			"gateway.example https://gateway.example/v1/batches sk-gateway", "open http://10.0.0.3:8000/v1/batches "}},
		{name: "unknown top-level field", yaml: "endpoints:\n  - url: http://h\ninterval: 10s\n",
			wantErr: `batch config %s: line 3: unknown field "interval"`},
		{name: "inline key refused, value not shown", yaml: "endpoints:\n  - url: http://h\n    api_key: sk-inline-secret\n",
			wantErr: `batch config %s: line 3: unknown field "api_key"`},
		{name: "two unknown fields", yaml: "endpoints:\n  - url: http://h\n    nmae: a\n    timeout: 3s\n",
			wantErr: `batch config %s: line 3: unknown field "nmae"; line 4: unknown field "timeout"`},
		{name: "no url", yaml: "endpoints:\n  - name: a\n", wantErr: "batch config %s: endpoint 1: url is required"},
		{name: "both key sources", yaml: "endpoints:\n  - url: http://h\n    api_key_file: k\n    api_key_env: K\n",
			wantErr: "batch config %s: endpoint 1: api_key_file and api_key_env are exclusive"},
		{name: "unset env", yaml: "endpoints:\n  - url: http://h\n  - url: http://g\n    api_key_env: NOPE\n",
			wantErr: "batch config %s: endpoint 2: api_key_env: environment variable NOPE is empty or unset"},
		{name: "missing key file", yaml: "endpoints:\n  - url: http://h\n    api_key_file: none.key\n",
			wantErr: "batch config %s: endpoint 1: reading API key file: open " + filepath.Join(dir, "none.key") + ": no such file or directory"},
		{name: "bad url", yaml: "endpoints:\n  - url: http://u:pw-secret@h\n",
			wantErr: "batch config %s: endpoint 1: invalid batch endpoint URL: user information is not allowed (use an API key file)"},
		{name: "duplicate names", yaml: "endpoints:\n  - url: http://h\n  - url: https://h/v1\n",
			wantErr: `batch config %s: batch endpoint name "h" is used twice`},
		{name: "empty", yaml: "", wantErr: "batch config %s: no endpoints"},
		{name: "two documents", yaml: "endpoints:\n  - url: http://h\n---\nendpoints: []\n", wantErr: "batch config %s: more than one YAML document"},
		{name: "wrong type", yaml: "endpoints: {url: http://h}\n",
			wantErr: "batch config %s: line 1: cannot unmarshal !!map into []batch.fileEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, filepath.Base(t.Name())+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			eps, err := batch.LoadConfigFile(path, getenv)
			if tc.wantErr != "" {
				require.EqualError(t, err, fmt.Sprintf(tc.wantErr, path))
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			var got []string
			for _, e := range eps {
				got = append(got, e.Name+" "+e.ListURL()+" "+e.APIKey.Value())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSourcesEndpoints(t *testing.T) {
	t.Parallel()
	env := func(k string) string { return map[string]string{batch.APIKeyEnv: "sk-env"}[k] }
	eps, err := batch.Sources{URLs: []string{"http://a:8000", "http://b:8000/v1"}, Getenv: env}.Endpoints()
	require.NoError(t, err)
	require.Len(t, eps, 2)
	assert.Equal(t, "a:8000", eps[0].Name)
	assert.Equal(t, "b:8000", eps[1].Name)
	assert.Equal(t, "sk-env", eps[1].APIKey.Value(), "--batch.endpoint URLs share BATCH_API_KEY")

	_, err = batch.Sources{APIKeyFile: "k", Getenv: env}.Endpoints()
	require.EqualError(t, err, "--batch.api-key-file is the key of --batch.endpoint URLs, and none is given (config-file endpoints name their own api_key_file)")
	_, err = batch.Sources{URLs: []string{"a:8000"}, Getenv: env}.Endpoints()
	require.EqualError(t, err, "--batch.endpoint: invalid batch endpoint URL: scheme must be http or https")
	eps, err = batch.Sources{Getenv: env}.Endpoints()
	require.NoError(t, err)
	assert.Empty(t, eps)
	eps, err = batch.Sources{URLs: []string{"", " "}, Getenv: env}.Endpoints()
	require.NoError(t, err, "an empty --batch.endpoint names no endpoint")
	assert.Empty(t, eps)
	eps, err = batch.Sources{URLs: []string{"", "http://a:8000"}, Getenv: env}.Endpoints()
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, "a:8000", eps[0].Name)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     batch.Config
		wantErr string
	}{
		{cfg: batch.Config{}},
		{cfg: batch.Config{Interval: time.Minute, StaleAfter: 30 * time.Second},
			wantErr: "batch stale-after (30s) must be at least the poll interval (1m0s)"},
		{cfg: batch.Config{Interval: 10 * time.Minute}, wantErr: "batch stale-after (5m0s) must be at least the poll interval (10m0s)"},
		{cfg: batch.Config{Timeout: -1}, wantErr: "batch interval, timeout, stale-after and window must not be negative"},
		{cfg: batch.Config{MaxBatches: -1}, wantErr: "batch max-batches and max-pages must not be negative"},
		{cfg: batch.Config{PageSize: 101}, wantErr: "batch page size must be 1 to 100, got 101"},
	} {
		t.Run(tc.wantErr, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}
