package plugin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// levels counts the lines of a plugintest.Logger by level, and by level
// and message.
func levels(l plugintest.Logger) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(l.String(), "\n") {
		if line == "" {
			continue
		}
		level, rest, _ := strings.Cut(line, " ")
		out[level]++
		for _, msg := range []string{"Partial data response error", "Plugin Request Completed", "Listing the results directory"} {
			if strings.HasPrefix(rest, msg) {
				out[level+" "+msg]++
			}
		}
	}
	return out
}

// A failing panel query, refreshed three times, through the SDK's request
// logging as datasource.Manage sets it up: at most one error line per
// failure, none for a user's bad query, which the panel shows.
func TestFailingQueryLogsOneLine(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	tests := []struct {
		name  string
		dir   string
		query backend.DataQuery
		want  map[string]int
	}{
		{"a bad query", "", backend.DataQuery{RefID: "A", QueryType: plugin.QueryTypeRuns, JSON: []byte(`{"labels": "x"}`)},
			map[string]int{"debug Partial data response error": 3, "info Plugin Request Completed": 3}},
		{"a run that does not exist", "", backend.DataQuery{RefID: "A", QueryType: plugin.QueryTypeRun, JSON: []byte(`{"runId": "nope"}`)},
			map[string]int{"debug Partial data response error": 3, "info Plugin Request Completed": 3}},
		{"an unknown query type", "", backend.DataQuery{RefID: "A", QueryType: "bogus", JSON: []byte(`{}`)},
			map[string]int{"error": 3, "error Partial data response error": 3, "info Plugin Request Completed": 3}},
		{"an unreadable results directory, logged once", file, backend.DataQuery{RefID: "A", QueryType: plugin.QueryTypeRuns},
			map[string]int{"error": 1, "error Listing the results directory": 1,
				"debug Partial data response error": 3, "info Plugin Request Completed": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger := plugintest.NewLogger()
			ds := newDatasource(t, cmpOr(tt.dir, fixtureDir(t)), logger)
			h, err := backend.HandlerFromMiddlewares(backend.Handlers{QueryDataHandler: ds},
				backend.NewLoggerMiddleware(plugin.RequestLogger(logger), nil), backend.NewErrorSourceMiddleware())
			require.NoError(t, err)
			for range 3 {
				resp, err := h.QueryData(context.Background(), &backend.QueryDataRequest{
					PluginContext: backend.PluginContext{PluginID: plugin.PluginID}, Queries: []backend.DataQuery{tt.query}})
				require.NoError(t, err)
				require.Error(t, resp.Responses["A"].Error)
			}
			got := levels(logger)
			for k, n := range tt.want {
				assert.Equal(t, n, got[k], "%s in:\n%s", k, logger.String())
			}
			assert.Equal(t, tt.want["error"], got["error"], "error lines in:\n%s", logger.String())
		})
	}
}

// cmpOr returns a unless it is empty, else b.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestRequestLoggerKeepsOtherLines(t *testing.T) {
	t.Parallel()
	logger := plugintest.NewLogger()
	l := plugin.RequestLogger(logger).With("k", "v").FromContext(context.Background())
	l.Error("Plugin Request Completed", "status", "error", "error", "boom")
	l.Error("Partial data response error", "refID", "A", "statusSource", "plugin")
	l.Error("Something else")
	l.Warn("A warning")
	assert.Equal(t, map[string]int{"error": 3, "warn": 1,
		"error Plugin Request Completed": 1, "error Partial data response error": 1}, levels(logger))
	assert.Contains(t, logger.String(), "[k v")
}
