package plugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// liveQuery sends one "live" query for runID and returns its response.
func liveQuery(t *testing.T, ds *plugin.Datasource, runID string) backend.DataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
			DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bench-uid"}},
		Queries: []backend.DataQuery{dataQuery(t, "L", plugin.QueryTypeLive, map[string]any{"runId": runID}, allTime())},
	})
	require.NoError(t, err)
	plugintest.CheckFrames(t, resp)
	return resp.Responses["L"]
}

// The fixture's runs start a day apart; only the first three completed, so
// "latest" is the third (the interrupted and the failed run after it do not
// count) and "previous" the second.
func TestLatestAndPreviousRuns(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	// Newer runs without measurements never stand for "latest": one that a
	// restart interrupted before any request, one that completed empty.
	writeRuns(t, dir, plugintest.Start().Add(10*24*time.Hour),
		plugintest.Run{ID: "20261130T100000Z-eeeee1", Profile: "chat", Model: "m1", Cause: context.Canceled},
		plugintest.Run{ID: "20261201T110000Z-eeeee2", Profile: "chat", Model: "m1"})
	runs := plugintest.Runs()
	latest, previous := runs[2].ID, runs[1].ID
	ds := newDatasource(t, dir, plugintest.NewLogger())
	resp := runQueries(t, ds,
		dataQuery(t, "C", plugin.QueryTypeCompare, map[string]any{"runIds": []string{plugin.RunPrevious, plugin.RunLatest}}, allTime()),
		dataQuery(t, "R", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunLatest}, allTime()),
	)
	require.NoError(t, resp.Responses["C"].Error)
	fields := resp.Responses["C"].Frames[0].Fields
	assert.Equal(t, previous, fields[2].Name, "the baseline column is the previous run")
	assert.Equal(t, latest, fields[3].Name)
	require.NoError(t, resp.Responses["R"].Error)
	assert.Equal(t, latest, resp.Responses["R"].Frames[0].Name)

	live := liveQuery(t, ds, plugin.RunLatest)
	require.NoError(t, live.Error)
	assert.Equal(t, "ds/bench-uid/runs/"+latest, live.Frames[0].Meta.Channel,
		"the panel follows the run itself, not the word")
}

// A live "latest" follows the run that is running now; once it ends
// interrupted, the latest completed run again.
func TestLiveLatestFollowsTheRunningRun(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	ds := simDatasource(t, dir, map[string]any{}, plugintest.NewLogger())
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"duration": "1m", "concurrency": 2}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))

	live := liveQuery(t, ds, plugin.RunLatest)
	require.NoError(t, live.Error)
	assert.Equal(t, "ds/bench-uid/"+started.Channel, live.Frames[0].Meta.Channel)

	code, _ = call(t, ds, "Admin", http.MethodPost, "runs/"+started.ID+"/cancel", "")
	require.Equal(t, http.StatusAccepted, code)
	require.NoError(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: started.Channel},
		backend.NewStreamSender(&packetSender{})))
	h, err := results.ReadHeader(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	require.Equal(t, results.StatusInterrupted, h.Status)

	live = liveQuery(t, ds, plugin.RunLatest)
	require.NoError(t, live.Error)
	assert.Equal(t, "ds/bench-uid/runs/"+plugintest.Runs()[2].ID, live.Frames[0].Meta.Channel,
		"an interrupted run is not the latest")
}

// fieldNames returns the names of a frame's fields.
func fieldNames(f *data.Frame) []string {
	names := make([]string, 0, len(f.Fields))
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	return names
}

// Fields of the frames that answer without a run.
var (
	runsFields        = []string{"time", "end", "id", "name", "labels", "profile", "model", "status", "simulated", "client_saturated", "requests", "success_rate", "request_throughput", "output_throughput", "ttft_p50", "ttft_p95", "e2el_p95", "mode", "makespan_s", "to_in_progress_s", "start_ms", "end_ms"}
	runFields         = []string{"time", "in_flight", "completions_per_second", "failures_per_second", "output_tokens_per_second", "ttft_p50", "ttft_p95", "e2el_p50", "e2el_p95"}
	outputFields      = []string{"id", "prompt", "status", "output", "output_tokens", "ttft", "e2el"}
	annotationsFields = []string{"time", "timeEnd", "title", "text", "tags", "id"}
)

// recentQueries are a query of each type, asking for "latest" and
// "previous" where they take runs, with the fields each answers without a
// run.
func recentQueries() []struct {
	name, queryType string
	model           map[string]any
	fields          []string
} {
	pair := []string{plugin.RunPrevious, plugin.RunLatest}
	return []struct {
		name, queryType string
		model           map[string]any
		fields          []string
	}{
		{"runs", plugin.QueryTypeRuns, nil, runsFields},
		{"trend", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, []string{"time", "ttft_p95"}},
		{"run", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunLatest}, runFields},
		{"histogram", plugin.QueryTypeDistribution, map[string]any{"runIds": pair, "metric": "ttft"}, []string{"xMin", "xMax"}},
		{"cdf", plugin.QueryTypeDistribution, map[string]any{"runIds": pair, "metric": "e2el", "kind": "cdf"}, []string{"latency", "fraction"}},
		{"compare", plugin.QueryTypeCompare, map[string]any{"runIds": pair}, []string{"metric", "unit"}},
		{"outputs", plugin.QueryTypeOutputs, map[string]any{"runIds": pair}, outputFields},
		{"annotations", plugin.QueryTypeAnnotations, nil, annotationsFields},
	}
}

// Before any run, every query answers frames of its usual shape with no
// rows, and a notice that says how to start a run: never an error.
func TestNoRunYet(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	for _, dir := range []string{empty, filepath.Join(empty, "missing")} {
		ds := newDatasource(t, dir, plugintest.NewLogger())
		for _, tt := range recentQueries() {
			t.Run(filepath.Base(dir)+"/"+tt.name, func(t *testing.T) {
				resp := runQueries(t, ds, dataQuery(t, "A", tt.queryType, tt.model, allTime()))
				got := resp.Responses["A"]
				require.NoError(t, got.Error)
				require.Len(t, got.Frames, 1)
				f := got.Frames[0]
				assert.Equal(t, tt.fields, fieldNames(f))
				assert.Zero(t, f.Rows())
				require.NotNil(t, f.Meta)
				require.Len(t, f.Meta.Notices, 1, "one notice, even for two runs asked")
				n := f.Meta.Notices[0]
				assert.Equal(t, data.NoticeSeverityInfo, n.Severity)
				assert.Equal(t, "No benchmark run yet: start one with the query editor's Run benchmark, or run `bencher run --results-dir "+
					dir+"` (this data source's results directory); interrupted, failed and empty runs do not count", n.Text)
			})
		}
	}
}

// writeRuns writes the documents of runs into dir, the first starting at
// start and the next ones an hour apart.
func writeRuns(t *testing.T, dir string, start time.Time, runs ...plugintest.Run) {
	t.Helper()
	for i, r := range runs {
		_, err := results.Write(dir, plugintest.Document(r, start.Add(time.Duration(i)*time.Hour)))
		require.NoError(t, err)
	}
}

// With runs that completed without measurements, or did not complete,
// "latest" and "previous" still stand for nothing; the runs table and the
// annotations show those runs, without a notice.
func TestOnlyUnmeasuredRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRuns(t, dir, plugintest.Start(),
		plugintest.Run{ID: "20261120T100000Z-fffff1", Profile: "chat", Cause: context.Canceled},
		plugintest.Run{ID: "20261120T110000Z-fffff2", Profile: "chat"},
		plugintest.Run{ID: "20261120T120000Z-fffff3", Profile: "chat", Requests: 4, TTFT: time.Millisecond, Cause: context.Canceled})
	ds := newDatasource(t, dir, plugintest.NewLogger())
	for _, tt := range recentQueries() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", tt.queryType, tt.model, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames, 1)
			f := got.Frames[0]
			assert.Equal(t, tt.fields, fieldNames(f))
			if tt.queryType == plugin.QueryTypeRuns || tt.queryType == plugin.QueryTypeAnnotations {
				assert.Equal(t, 3, f.Rows())
				assert.Empty(t, f.Meta.Notices)
				return
			}
			assert.Zero(t, f.Rows(), "no run completed with measurements")
			if tt.queryType == plugin.QueryTypeTrend {
				assert.Empty(t, f.Meta.Notices, "the trend has runs, none of which is a point")
				return
			}
			require.Len(t, f.Meta.Notices, 1)
			assert.Contains(t, f.Meta.Notices[0].Text, "No benchmark run yet: ")
		})
	}
}

// With one run so far, "previous" stands for nothing: queries of
// "previous" and "latest" show the one run, with a notice.
func TestOnlyOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := plugintest.Runs()[0]
	writeRuns(t, dir, plugintest.Start(), run)
	ds := newDatasource(t, dir, plugintest.NewLogger())
	const notice = `No run before the latest to compare with ("previous" needs two completed runs with measurements): start another with the query editor's Run benchmark`
	pair := []string{plugin.RunPrevious, plugin.RunLatest}
	tests := []struct {
		name, queryType string
		model           map[string]any
		frames          int
		fields          []string
		rows            bool
	}{
		{"run of previous", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunPrevious}, 1, runFields, false},
		{"histogram", plugin.QueryTypeDistribution, map[string]any{"runIds": pair, "metric": "ttft"}, 1, []string{"xMin", "xMax", run.ID}, true},
		{"cdf", plugin.QueryTypeDistribution, map[string]any{"runIds": pair, "metric": "e2el", "kind": "cdf"}, 1, []string{"latency", "fraction"}, true},
		{"compare", plugin.QueryTypeCompare, map[string]any{"runIds": pair}, 1, []string{"metric", "unit", run.ID}, true},
		{"outputs", plugin.QueryTypeOutputs, map[string]any{"runIds": pair}, 1, outputFields, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", tt.queryType, tt.model, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames, tt.frames)
			f := got.Frames[0]
			assert.Equal(t, tt.fields, fieldNames(f))
			assert.Equal(t, tt.rows, f.Rows() > 0, "rows: %d", f.Rows())
			require.Len(t, f.Meta.Notices, 1)
			assert.Equal(t, data.Notice{Severity: data.NoticeSeverityInfo, Text: notice}, f.Meta.Notices[0])
		})
	}
}

// Before any run, a live "latest" is an empty frame with a notice that
// says how to start one, not an error: the Benchmarks dashboard's live
// panel was red until the first run.
func TestLiveLatestBeforeAnyRun(t *testing.T) {
	t.Parallel()
	ds := simDatasource(t, t.TempDir(), map[string]any{}, plugintest.NewLogger())
	live := liveQuery(t, ds, plugin.RunLatest)
	require.NoError(t, live.Error)
	require.Len(t, live.Frames, 1)
	f := live.Frames[0]
	rows, err := f.RowLen()
	require.NoError(t, err)
	assert.Zero(t, rows)
	require.NotNil(t, f.Meta)
	require.NotEmpty(t, f.Meta.Notices)
	assert.Contains(t, f.Meta.Notices[0].Text, "No benchmark run yet")
}
