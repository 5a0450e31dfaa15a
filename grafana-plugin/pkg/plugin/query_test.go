package plugin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

func TestQueryGolden(t *testing.T) {
	t.Parallel()
	full, empty := fixtureDir(t), t.TempDir()
	tests := []struct {
		golden    string
		dir       string
		queryType string
		model     map[string]any
	}{
		{"runs", full, plugin.QueryTypeRuns, nil},
		{"runs_empty", empty, plugin.QueryTypeRuns, nil},
		{"runs_missing_dir", filepath.Join(empty, "missing"), plugin.QueryTypeRuns, nil},
		{"trend_ttft_p95", full, plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}},
		{"trend_success_rate_m1", full, plugin.QueryTypeTrend, map[string]any{"value": "success_rate", "model": "m1"}},
		{"trend_empty", empty, plugin.QueryTypeTrend, map[string]any{"value": "output_throughput"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			ds := newDatasource(t, tt.dir, plugintest.NewLogger())
			resp := runQueries(t, ds, dataQuery(t, "A", tt.queryType, tt.model, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.golden, &got, *update)
		})
	}
}

// runIDs returns the id column of a runs frame.
func runIDs(t *testing.T, f *data.Frame) []string {
	t.Helper()
	field, idx := f.FieldByName("id")
	require.GreaterOrEqual(t, idx, 0, "the runs frame has an id field")
	ids := []string{}
	for i := range field.Len() {
		ids = append(ids, field.At(i).(string))
	}
	return ids
}

func TestRunsFilters(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	start := plugintest.Start()
	tests := []struct {
		name  string
		model map[string]any
		tr    backend.TimeRange
		want  []string
	}{
		{"all", nil, allTime(), []string{"20261120T100000Z-aaaaa1", "20261121T110000Z-aaaaa2", "20261122T120000Z-bbbbb1", "20261123T130000Z-ccccc1", "20261124T140000Z-ddddd1"}},
		{"no time range is all time", nil, backend.TimeRange{}, []string{"20261120T100000Z-aaaaa1", "20261121T110000Z-aaaaa2", "20261122T120000Z-bbbbb1", "20261123T130000Z-ccccc1", "20261124T140000Z-ddddd1"}},
		{"name ignores case", map[string]any{"name": "NIGHTLY"}, allTime(), []string{"20261120T100000Z-aaaaa1", "20261121T110000Z-aaaaa2"}},
		{"two labels", map[string]any{"labels": []string{"ci=true", "branch=main"}}, allTime(), []string{"20261120T100000Z-aaaaa1"}},
		{"one label", map[string]any{"labels": []string{"team=infra"}}, allTime(), []string{"20261122T120000Z-bbbbb1"}},
		{"label value mismatch", map[string]any{"labels": []string{"ci=false"}}, allTime(), []string{}},
		{"profile", map[string]any{"profile": "chat"}, allTime(), []string{"20261120T100000Z-aaaaa1", "20261121T110000Z-aaaaa2", "20261123T130000Z-ccccc1"}},
		{"model", map[string]any{"model": "m2"}, allTime(), []string{"20261122T120000Z-bbbbb1", "20261123T130000Z-ccccc1"}},
		{"profile and model", map[string]any{"profile": "chat", "model": "m2"}, allTime(), []string{"20261123T130000Z-ccccc1"}},
		{"status failed", map[string]any{"status": "failed"}, allTime(), []string{"20261124T140000Z-ddddd1"}},
		{"status interrupted", map[string]any{"status": "interrupted"}, allTime(), []string{"20261123T130000Z-ccccc1"}},
		{"time range of the second day", nil, backend.TimeRange{From: start.Add(24 * time.Hour), To: start.Add(26 * time.Hour)}, []string{"20261121T110000Z-aaaaa2"}},
		{"a range inside a run overlaps it", nil, backend.TimeRange{From: start.Add(time.Second), To: start.Add(1500 * time.Millisecond)}, []string{"20261120T100000Z-aaaaa1"}},
		{"a range before every run", nil, backend.TimeRange{From: start.Add(-2 * time.Hour), To: start.Add(-time.Hour)}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeRuns, tt.model, tt.tr))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames, 1)
			assert.Equal(t, tt.want, runIDs(t, got.Frames[0]))
			assert.Len(t, got.Frames[0].Fields, 16, "the schema does not depend on the rows")
		})
	}
}

// series is what a test checks of a trend frame.
type series struct {
	profile string
	points  int
}

func TestTrendSeries(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	start := plugintest.Start()
	tests := []struct {
		name  string
		model map[string]any
		tr    backend.TimeRange
		want  []series
	}{
		{"one series per profile", map[string]any{"value": "ttft_p95"}, allTime(), []series{{"", 1}, {"batch", 1}, {"chat", 3}}},
		{"filtered by profile and status", map[string]any{"value": "e2el_p95", "profile": "chat", "status": "completed"}, allTime(), []series{{"chat", 2}}},
		{"filtered by label", map[string]any{"value": "output_throughput", "labels": []string{"ci=true"}}, allTime(), []series{{"chat", 2}}},
		{"a point only where a run starts in the range", map[string]any{"value": "ttft_p95"}, backend.TimeRange{From: start.Add(time.Second), To: start.Add(30 * time.Hour)}, []series{{"chat", 1}}},
		{"a value the runs lack gives no series", map[string]any{"value": "goodput"}, allTime(), []series{{"-", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeTrend, tt.model, tt.tr))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			var have []series
			for _, f := range got.Frames {
				require.Len(t, f.Fields, 2)
				assert.Equal(t, data.FrameTypeTimeSeriesMulti, f.Meta.Type)
				assert.Equal(t, tt.model["value"], f.Fields[1].Name)
				profile, ok := f.Fields[1].Labels[plugin.LabelProfile]
				if !ok {
					profile = "-"
				}
				have = append(have, series{profile, f.Rows()})
			}
			assert.Equal(t, tt.want, have)
		})
	}
}

func TestQueryErrorsAreIsolated(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	tests := []struct {
		name      string
		queryType string
		json      string
		want      string
		source    backend.ErrorSource
	}{
		{"invalid JSON", plugin.QueryTypeRuns, `{"queryType": "runs",`, "the query is not a valid JSON object: unexpected end of JSON input", backend.ErrorSourceDownstream},
		{"field of the wrong type", plugin.QueryTypeRuns, `{"labels": "ci=true"}`, "query field labels: must be a list of strings, not a JSON string", backend.ErrorSourceDownstream},
		{"label without value", plugin.QueryTypeRuns, `{"labels": ["ci"]}`, `labels[0]: "ci" is not key=value`, backend.ErrorSourceDownstream},
		{"unknown status", plugin.QueryTypeRuns, `{"status": "done"}`, `status: "done" is not a run status (want completed, interrupted or failed)`, backend.ErrorSourceDownstream},
		{"trend without value", plugin.QueryTypeTrend, `{}`, "value: required (a summary value such as ttft_p95, e2el_p95 or output_throughput)", backend.ErrorSourceDownstream},
		{"trend of an unknown value", plugin.QueryTypeTrend, `{"value": "latency_p95"}`, `value: "latency_p95" is not a summary value (such as ttft_p95, e2el_p95 or output_throughput)`, backend.ErrorSourceDownstream},
		{"trend value of the wrong type", plugin.QueryTypeTrend, `{"value": 95}`, "query field value: must be a string, not a JSON number", backend.ErrorSourceDownstream},
		{"unknown query type", "bogus", `{}`, `unknown query type "bogus" (want runs, trend, live, run, distribution, compare, outputs or annotations)`, backend.ErrorSourcePlugin},
		{"no query type", "", `{}`, "the query has no query type (want runs, trend, live, run, distribution, compare, outputs or annotations)", backend.ErrorSourcePlugin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := backend.DataQuery{RefID: "BAD", QueryType: tt.queryType, TimeRange: allTime(), JSON: []byte(tt.json)}
			resp := runQueries(t, ds,
				dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime()),
				bad,
				dataQuery(t, "C", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, allTime()))
			got := resp.Responses["BAD"]
			require.Error(t, got.Error)
			assert.Equal(t, tt.want, got.Error.Error())
			assert.Equal(t, tt.source, got.ErrorSource)
			assert.Equal(t, backend.StatusBadRequest, got.Status)
			assert.Empty(t, got.Frames)
			for _, ok := range []string{"A", "C"} {
				assert.NoError(t, resp.Responses[ok].Error, ok)
				assert.NotEmpty(t, resp.Responses[ok].Frames, ok)
			}
			assert.Equal(t, 5, resp.Responses["A"].Frames[0].Rows())
		})
	}
}

func TestQueryInvalidSettings(t *testing.T) {
	t.Parallel()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": "results", "maxConcurrentRuns": 0}, nil))
	resp := runQueries(t, ds,
		dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime()),
		dataQuery(t, "B", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, allTime()))
	want := `invalid settings: resultsDir: must be an absolute path, got "results"; maxConcurrentRuns: must be between 1 and 16, got 0 (fix the data source's settings)`
	for _, ref := range []string{"A", "B"} {
		got := resp.Responses[ref]
		require.Error(t, got.Error, ref)
		assert.Equal(t, want, got.Error.Error())
		assert.Equal(t, backend.ErrorSourceDownstream, got.ErrorSource)
	}
}

func TestQueryUnreadableDirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	logger := plugintest.NewLogger()
	ds := newDatasource(t, file, logger)
	resp := runQueries(t, ds,
		dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime()),
		dataQuery(t, "B", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, allTime()))
	for _, ref := range []string{"A", "B"} {
		got := resp.Responses[ref]
		require.Error(t, got.Error, ref)
		assert.Contains(t, got.Error.Error(), "reading the results directory "+file+": ")
		assert.Contains(t, got.Error.Error(), "not a directory")
		assert.Equal(t, backend.StatusInternal, got.Status)
	}
	assert.Contains(t, logger.String(), "Listing the results directory")
}

func TestQuerySkippedFiles(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"schema_version": 1, "kind": "benchstation.run", "id": `), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".hidden.json"), []byte(`garbage`), 0o644))
	logger := plugintest.NewLogger()
	ds := newDatasource(t, dir, logger)
	for range 2 {
		resp := runQueries(t, ds,
			dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime()),
			dataQuery(t, "B", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, allTime()))
		for _, ref := range []string{"A", "B"} {
			got := resp.Responses[ref]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames[0].Meta.Notices, 1, ref)
			n := got.Frames[0].Meta.Notices[0]
			assert.Equal(t, data.NoticeSeverityWarning, n.Severity)
			assert.Equal(t, "1 file(s) of the results directory are not readable run documents and were skipped: broken.json (the plugin log says why)", n.Text)
		}
		assert.Len(t, runIDs(t, resp.Responses["A"].Frames[0]), 5)
	}
	assert.Equal(t, 1, strings.Count(logger.String(), "Skipping a file of the results directory"), "logged once: %s", logger.String())
	assert.Contains(t, logger.String(), "broken.json")
}

func TestUnitOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"ttft_p95": "ms", "server_ttft_p50": "ms", "itl_mean": "ms", "tpot_p99.9": "ms", "e2el_median": "ms",
		"failed_e2el_max": "ms", "queue_delay_std": "ms", "ttft_count": "",
		"success_rate": "percentunit", "error_rate": "percentunit", "slo_attainment": "percentunit",
		"request_throughput": "reqps", "goodput": "reqps", "request_rate": "reqps",
		"output_throughput": "suffix: tok/s", "total_token_throughput": "suffix: tok/s",
		"duration_s": "s", "requests": "", "concurrency": "", "errors_timeout": "",
	}
	for name, want := range tests {
		assert.Equal(t, want, plugin.UnitOf(name), name)
	}
}
