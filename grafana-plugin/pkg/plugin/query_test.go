package plugin_test

import (
	"context"
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

	"github.com/benchstation/benchstation/bencher/results"
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
			for _, f := range got.Frames { // the directory is a new one each time
				for i := range f.Meta.Notices {
					f.Meta.Notices[i].Text = strings.ReplaceAll(f.Meta.Notices[i].Text, tt.dir, "RESULTS_DIR")
				}
			}
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
			assert.Len(t, got.Frames[0].Fields, len(runsFields), "the schema does not depend on the rows")
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
		{"one series per profile, of completed runs", map[string]any{"value": "ttft_p95"}, allTime(), []series{{"batch", 1}, {"chat", 2}}},
		{"a status asked for includes its runs", map[string]any{"value": "ttft_p95", "status": "interrupted"}, allTime(), []series{{"chat", 1}}},
		{"a run without profile is custom", map[string]any{"value": "ttft_p95", "status": "failed"}, allTime(), []series{{"custom", 1}}},
		{"the custom profile filter", map[string]any{"value": "ttft_p95", "status": "failed", "profile": "custom"}, allTime(), []series{{"custom", 1}}},
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

// unmeasuredDir holds, a minute apart from plugintest.Start: a completed
// chat run, a chat run interrupted before any request, a chat run that
// completed with every request failing, a completed run without requests
// and a completed run without a profile (a document from before custom
// loads had profile keys).
func unmeasuredDir(t *testing.T) (string, []plugintest.Run) {
	t.Helper()
	ms := time.Millisecond
	runs := []plugintest.Run{
		{ID: "20261120T100000Z-ggggg1", Profile: "chat", Model: "m1", Requests: 10, TTFT: 40 * ms, ITL: 10 * ms, Slowdown: ms},
		{ID: "20261120T100100Z-ggggg2", Profile: "chat", Model: "m1", Cause: context.Canceled},
		{ID: "20261120T100200Z-ggggg3", Profile: "chat", Model: "m1", Requests: 5, Failed: 5},
		{ID: "20261120T100300Z-ggggg4", Profile: "chat", Model: "m1"},
		{ID: "20261120T100400Z-ggggg5", Model: "m1", Requests: 10, TTFT: 70 * ms, ITL: 10 * ms},
	}
	dir := t.TempDir()
	for i, r := range runs {
		_, err := results.Write(dir, plugintest.Document(r, plugintest.Start().Add(time.Duration(i)*time.Minute)))
		require.NoError(t, err)
	}
	return dir, runs
}

// trendPoint is one point of a trend: its series and value.
type trendPoint struct {
	profile string
	value   float64
}

// anyPositive is a trendPoint value that stands for any value above 0.
const anyPositive = -1

// A run without measurements is never a point of a trend, even where its
// summary writes the value as 0; a run without a profile is "custom".
func TestTrendLeavesOutEmptyRuns(t *testing.T) {
	t.Parallel()
	dir, _ := unmeasuredDir(t)
	ds := newDatasource(t, dir, plugintest.NewLogger())
	tests := []struct {
		value string
		want  []trendPoint
	}{
		{"ttft_p95", []trendPoint{{"chat", 48.5}, {"custom", 70}}},
		{"success_rate", []trendPoint{{"chat", 1}, {"chat", 0}, {"custom", 1}}},
		{"output_throughput", []trendPoint{{"chat", anyPositive}, {"chat", 0}, {"custom", anyPositive}}},
		{"requests", []trendPoint{{"chat", 10}, {"chat", 5}, {"custom", 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeTrend, map[string]any{"value": tt.value}, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			var have []trendPoint
			for _, f := range got.Frames {
				for i := range f.Rows() {
					v, ok := f.Fields[1].ConcreteAt(i)
					require.True(t, ok)
					have = append(have, trendPoint{f.Fields[1].Labels[plugin.LabelProfile], v.(float64)})
				}
			}
			require.Len(t, have, len(tt.want))
			for i, w := range tt.want {
				assert.Equal(t, w.profile, have[i].profile, "point %d", i)
				if w.value == anyPositive {
					assert.Positive(t, have[i].value, "point %d", i)
					continue
				}
				assert.InDelta(t, w.value, have[i].value, 0.5, "point %d", i)
			}
		})
	}
}

// The runs table writes a value that a run lacks as null, never as 0, and
// gives each run's start and end in epoch milliseconds.
func TestRunsTableAbsentValues(t *testing.T) {
	t.Parallel()
	dir, runs := unmeasuredDir(t)
	ds := newDatasource(t, dir, plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime()))
	require.NoError(t, resp.Responses["A"].Error)
	f := resp.Responses["A"].Frames[0]
	require.Equal(t, len(runs), f.Rows())
	cell := func(field string, row int) any {
		t.Helper()
		fl, _ := f.FieldByName(field)
		require.NotNil(t, fl, field)
		if v, ok := fl.ConcreteAt(row); ok {
			return v
		}
		return nil
	}
	present, absent := true, false
	tests := []struct {
		name                  string
		row                   int
		requests, successRate any
		ttft, throughput      bool
	}{
		{"measured", 0, 10.0, 1.0, present, present},
		{"interrupted before any request", 1, 0.0, nil, absent, absent},
		{"every request failed", 2, 5.0, 0.0, absent, present},
		{"completed without requests", 3, 0.0, nil, absent, absent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.requests, cell("requests", tt.row))
			assert.Equal(t, tt.successRate, cell("success_rate", tt.row))
			for _, name := range []string{"ttft_p50", "ttft_p95", "e2el_p95"} {
				assert.Equal(t, tt.ttft, cell(name, tt.row) != nil, name)
			}
			for _, name := range []string{"request_throughput", "output_throughput"} {
				assert.Equal(t, tt.throughput, cell(name, tt.row) != nil, name)
			}
		})
	}
	for row := range runs {
		start, end := cell("time", row).(time.Time), cell("end", row).(time.Time)
		assert.Equal(t, start.UnixMilli(), cell("start_ms", row), "start_ms of row %d", row)
		assert.Equal(t, end.UnixMilli(), cell("end_ms", row), "end_ms of row %d", row)
	}
}

func TestRunsFrameEpochMilliseconds(t *testing.T) {
	t.Parallel()
	start := plugintest.Start()
	tests := []struct {
		name      string
		end       time.Time
		wantEndMS int64
	}{
		{"ended", start.Add(1500 * time.Millisecond), start.UnixMilli() + 1500},
		{"no end", time.Time{}, start.UnixMilli()},
		{"end before start", start.Add(-time.Second), start.UnixMilli()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &results.Header{ID: "x", Status: results.StatusCompleted}
			h.Environment.StartTime, h.Environment.EndTime = start, tt.end
			f := plugin.RunsFrame([]*results.Header{h})
			startMS, _ := f.FieldByName("start_ms")
			endMS, _ := f.FieldByName("end_ms")
			require.NotNil(t, startMS)
			require.NotNil(t, endMS)
			assert.Equal(t, start.UnixMilli(), startMS.At(0))
			assert.Equal(t, tt.wantEndMS, endMS.At(0))
		})
	}
}
