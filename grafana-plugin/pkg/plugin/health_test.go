package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/testkit"
)

// openAIServer serves /v1/models like vLLM, requiring the test API key.
func openAIServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer "+testAPIKey:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error": {"message": "bad key %s"}}`, r.Header.Get("Authorization"))
		case r.URL.Path == "/v1/models":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object": "list", "data": [{"id": "m1", "object": "model"}, {"id": "m2", "object": "model"}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// staticServer answers every request with status and body.
func staticServer(t *testing.T, status int, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// downURL returns the URL of a loopback port that refuses connections.
func downURL(t *testing.T) string {
	t.Helper()
	return "http://" + testkit.RefusingAddr(t)
}

// slowServer answers only when the request is given up.
func slowServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// checkHealth runs a health check of an instance with the given settings.
func checkHealth(t *testing.T, jsonData map[string]any, secure map[string]string) (*backend.CheckHealthResult, plugin.HealthDetails) {
	t.Helper()
	ds := plugin.New(instanceSettings(t, jsonData, secure),
		plugin.WithLogger(plugintest.NewLogger()), plugin.WithProbeTimeout(300*time.Millisecond))
	t.Cleanup(ds.Dispose)
	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	require.NoError(t, err, "CheckHealth never fails: it says what is wrong")
	var det plugin.HealthDetails
	if res.JSONDetails != nil {
		require.NoError(t, json.Unmarshal(res.JSONDetails, &det))
	}
	assert.NotContains(t, res.Message+string(res.JSONDetails), testAPIKey)
	return res, det
}

func TestCheckHealth(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	target, prom := openAIServer(t), staticServer(t, http.StatusOK, "text/plain", "Prometheus Server is Ready.\n")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	missing := filepath.Join(t.TempDir(), "missing")
	html404 := staticServer(t, http.StatusNotFound, "text/html", "<html><body><h1>Not Found</h1></body></html>")
	html200 := staticServer(t, http.StatusOK, "text/html", "<html><body>Welcome</body></html>")
	slow := slowServer(t)
	down, promDown := downURL(t), downURL(t)
	key := map[string]string{"apiKey": testAPIKey}
	okDir := fmt.Sprintf("Results directory %s: writable, 5 run(s).", dir)
	okTarget := fmt.Sprintf("Default target %s/v1: reachable, serves: m1, m2.", target.URL)
	okProm := fmt.Sprintf("Prometheus %s: reachable and ready.", prom.URL)
	tests := []struct {
		name     string
		jsonData map[string]any
		secure   map[string]string
		status   backend.HealthStatus
		message  string
	}{
		{"everything works", map[string]any{"resultsDir": dir, "defaultTarget": target.URL + "/v1", "prometheusUrl": prom.URL}, key,
			backend.HealthStatusOk, okDir + " " + okTarget + " " + okProm},
		{"only a results directory", map[string]any{"resultsDir": dir}, nil, backend.HealthStatusOk,
			okDir + " Default target: none set, runs use the built-in simulator. Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"results directory missing", map[string]any{"resultsDir": missing, "defaultTarget": target.URL + "/v1", "prometheusUrl": prom.URL}, key, backend.HealthStatusError,
			fmt.Sprintf("Results directory %s: does not exist (create it, or correct the results directory setting). ", missing) + okTarget + " " + okProm},
		{"results directory is a file", map[string]any{"resultsDir": file}, nil, backend.HealthStatusError,
			fmt.Sprintf("Results directory %s: is not a directory.", file) + " Default target: none set, runs use the built-in simulator. Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"target down", map[string]any{"resultsDir": dir, "defaultTarget": down + "/v1", "prometheusUrl": prom.URL}, key, backend.HealthStatusOk,
			okDir + fmt.Sprintf(" Default target %s/v1: not reachable (connection refused: is the server running, on this port?). ", down) + okProm},
		{"target is not OpenAI", map[string]any{"resultsDir": dir, "defaultTarget": html404.URL + "/v1"}, key, backend.HealthStatusOk,
			okDir + fmt.Sprintf(" Default target %s/v1: reachable, but it has no /models (HTTP 404): it does not look like an OpenAI-compatible server; the URL should end in /v1.", html404.URL) +
				" Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"target answers HTML", map[string]any{"resultsDir": dir, "defaultTarget": html200.URL + "/v1"}, key, backend.HealthStatusOk,
			okDir + fmt.Sprintf(" Default target %s/v1: reachable, but its /models answer is not an OpenAI model list: it does not look like an OpenAI-compatible server.", html200.URL) +
				" Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"target refuses the key", map[string]any{"resultsDir": dir, "defaultTarget": target.URL + "/v1"}, map[string]string{"apiKey": "wrong"}, backend.HealthStatusOk,
			okDir + fmt.Sprintf(" Default target %s/v1: reachable, but it refused the API key (HTTP 401).", target.URL) +
				" Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"target too slow", map[string]any{"resultsDir": dir, "defaultTarget": slow.URL + "/v1"}, key, backend.HealthStatusOk,
			okDir + fmt.Sprintf(" Default target %s/v1: not reachable (no answer within 300ms).", slow.URL) +
				" Prometheus: not configured (optional: it adds server-side figures to runs)."},
		{"Prometheus down", map[string]any{"resultsDir": dir, "defaultTarget": target.URL + "/v1", "prometheusUrl": promDown}, key, backend.HealthStatusOk,
			okDir + " " + okTarget + fmt.Sprintf(" Prometheus %s: not reachable (connection refused: is the server running, on this port?).", promDown)},
		{"invalid settings", map[string]any{"resultsDir": dir, "defaultTarget": "vllm:8000"}, key, backend.HealthStatusError,
			"invalid settings: defaultTarget: must start with http:// or https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := checkHealth(t, tt.jsonData, tt.secure)
			assert.Equal(t, tt.message, res.Message)
			assert.Equal(t, tt.status, res.Status, res.Message)
		})
	}
}

func TestCheckHealthDetails(t *testing.T) {
	t.Parallel()
	target := openAIServer(t)
	res, det := checkHealth(t, map[string]any{"resultsDir": t.TempDir(), "defaultTarget": target.URL + "/v1", "prometheusUrl": downURL(t)},
		map[string]string{"apiKey": testAPIKey})
	assert.Equal(t, backend.HealthStatusOk, res.Status)
	assert.True(t, det.ResultsDir.OK)
	assert.True(t, det.Target.OK)
	assert.Equal(t, []string{"m1", "m2"}, det.Target.Models)
	assert.False(t, det.Prometheus.OK)
}

func TestCheckHealthUnwritableDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "readonly")
	require.NoError(t, os.Mkdir(dir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if f, err := os.CreateTemp(dir, "probe"); err == nil {
		_ = f.Close()
		t.Skip("this user can write to a read-only directory (root): permissions cannot be tested")
	}
	res, det := checkHealth(t, map[string]any{"resultsDir": dir}, nil)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	assert.Equal(t, fmt.Sprintf("Results directory %s: is not writable by the plugin (permission denied).", dir), det.ResultsDir.Message)
}

func TestCheckHealthLeavesNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, _ := checkHealth(t, map[string]any{"resultsDir": dir}, nil)
	require.Equal(t, backend.HealthStatusOk, res.Status, res.Message)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
