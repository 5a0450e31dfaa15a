package plugin_test

import (
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// Fixture run ids.
const (
	runA1 = "20261120T100000Z-aaaaa1"
	runA2 = "20261121T110000Z-aaaaa2"
	runB1 = "20261122T120000Z-bbbbb1"
	runC1 = "20261123T130000Z-ccccc1"
	runD1 = "20261124T140000Z-ddddd1"
)

func TestViewGolden(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	tests := []struct {
		golden    string
		queryType string
		model     map[string]any
	}{
		{"run_default_bucket", plugin.QueryTypeRun, map[string]any{"runId": runA1}},
		{"run_bucket_500ms", plugin.QueryTypeRun, map[string]any{"runId": runA2, "bucket": "500ms"}},
		{"run_interrupted", plugin.QueryTypeRun, map[string]any{"runId": runC1, "bucket": "250ms"}},
		{"distribution_ttft_histogram", plugin.QueryTypeDistribution, map[string]any{"runId": runA1, "metric": "ttft", "buckets": 5}},
		{"distribution_e2el_histogram_two", plugin.QueryTypeDistribution, map[string]any{"runIds": []string{runA1, runA2}, "metric": "e2el", "kind": "histogram", "buckets": 4}},
		{"distribution_itl_histogram_equal_values", plugin.QueryTypeDistribution, map[string]any{"runId": runA1, "metric": "itl"}},
		{"distribution_tpot_cdf_two", plugin.QueryTypeDistribution, map[string]any{"runIds": []string{runA1, runB1}, "metric": "tpot", "kind": "cdf", "buckets": 5}},
		{"compare_default_thresholds", plugin.QueryTypeCompare, map[string]any{"runIds": []string{runA1, runA2, runB1}}},
		{"compare_thresholds", plugin.QueryTypeCompare, map[string]any{"runIds": []string{runA1, runA2}, "thresholds": "ttft_p95=+10%,output_throughput=-5%"}},
		{"outputs_one_run", plugin.QueryTypeOutputs, map[string]any{"runIds": []string{runA2}, "limit": 4}},
		{"outputs_two_runs", plugin.QueryTypeOutputs, map[string]any{"runIds": []string{runA2, runA1}, "limit": 3}},
		{"annotations", plugin.QueryTypeAnnotations, nil},
		{"annotations_chat_completed", plugin.QueryTypeAnnotations, map[string]any{"profile": "chat", "status": "completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			ds := newDatasource(t, dir, plugintest.NewLogger())
			resp := runQueries(t, ds, dataQuery(t, "A", tt.queryType, tt.model, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.golden, &got, *update)
		})
	}
}

func TestRunFrameNulls(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeRun, map[string]any{"runId": runA1, "bucket": "100ms"}, allTime()))
	got := resp.Responses["A"]
	require.NoError(t, got.Error)
	require.Len(t, got.Frames, 1)
	f := got.Frames[0]
	assert.Equal(t, data.FrameTypeTimeSeriesWide, f.Meta.Type)
	p50, _ := f.FieldByName("ttft_p50")
	require.NotNil(t, p50)
	assert.Nil(t, p50.At(0), "no request completes in the first 100 ms")
	v, ok := p50.ConcreteAt(f.Rows() - 1)
	assert.True(t, ok, "the last bucket has a completion")
	assert.Positive(t, v)
	tm, _ := f.FieldByName("time")
	assert.Equal(t, plugintest.Start().Add(100*1e6), tm.At(0), "time is the run's start + the bucket's end")
}

func TestViewErrorsAreIsolated(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	tests := []struct {
		name      string
		queryType string
		json      string
		status    backend.Status
		want      string
	}{
		{"run without id", plugin.QueryTypeRun, `{}`, backend.StatusBadRequest, "runId: required (the id of a run, as the runs table shows it)"},
		{"run of an unknown id", plugin.QueryTypeRun, `{"runId": "nope"}`, backend.StatusNotFound, `run "nope": no such run in the results directory`},
		{"run with a bad bucket", plugin.QueryTypeRun, `{"runId": "` + runA1 + `", "bucket": "-1s"}`, backend.StatusBadRequest, `bucket: "-1s" is not a positive duration such as 1s or 500ms`},
		{"run with too many buckets", plugin.QueryTypeRun, `{"runId": "` + runA1 + `", "bucket": "1ns"}`, backend.StatusBadRequest, "bucket: "},
		{"run id of the wrong type", plugin.QueryTypeRun, `{"runId": 1}`, backend.StatusBadRequest, "query field runId: must be a string, not a JSON number"},
		{"distribution of an unknown metric", plugin.QueryTypeDistribution, `{"runId": "` + runA1 + `", "metric": "latency"}`, backend.StatusBadRequest, `metric: "latency" is not one of ttft, itl, e2el and tpot`},
		{"distribution of an unknown kind", plugin.QueryTypeDistribution, `{"runId": "` + runA1 + `", "metric": "ttft", "kind": "pdf"}`, backend.StatusBadRequest, `kind: "pdf" is not histogram or cdf`},
		{"distribution with runId and runIds", plugin.QueryTypeDistribution, `{"runId": "a", "runIds": ["b"], "metric": "ttft"}`, backend.StatusBadRequest, "runId and runIds: give one of them"},
		{"distribution of three runs", plugin.QueryTypeDistribution, `{"runIds": ["a", "b", "c"], "metric": "ttft"}`, backend.StatusBadRequest, "runIds: at most two runs, got 3"},
		{"distribution with negative buckets", plugin.QueryTypeDistribution, `{"runId": "` + runA1 + `", "metric": "ttft", "buckets": -1}`, backend.StatusBadRequest, "buckets: must be between 1 and 1000, got -1"},
		{"distribution of a missing second run", plugin.QueryTypeDistribution, `{"runIds": ["` + runA1 + `", "gone"], "metric": "ttft"}`, backend.StatusNotFound, `run "gone": no such run in the results directory`},
		{"compare of one run", plugin.QueryTypeCompare, `{"runIds": ["` + runA1 + `"]}`, backend.StatusBadRequest, "runIds: between 2 and 8 runs, got 1"},
		{"compare with bad thresholds", plugin.QueryTypeCompare, `{"runIds": ["` + runA1 + `", "` + runA2 + `"], "thresholds": "ttft_p95"}`, backend.StatusBadRequest, "thresholds: "},
		{"compare of an unknown run", plugin.QueryTypeCompare, `{"runIds": ["` + runA1 + `", "x"]}`, backend.StatusNotFound, `run "x": no such run in the results directory`},
		{"outputs of a run without outputs", plugin.QueryTypeOutputs, `{"runIds": ["` + runB1 + `"]}`, backend.StatusBadRequest, `run "` + runB1 + `" was recorded without outputs: record it with --record-outputs (bencher CLI) or recordOutputs=true (POST /runs) to see prompts and generated texts`},
		{"outputs of three runs", plugin.QueryTypeOutputs, `{"runIds": ["a", "b", "c"]}`, backend.StatusBadRequest, "runIds: one or two runs, got 3"},
		{"outputs over the limit", plugin.QueryTypeOutputs, `{"runIds": ["` + runA1 + `"], "limit": 100000}`, backend.StatusBadRequest, "limit: must be between 1 and 10000, got 100000"},
		{"annotations with a bad label", plugin.QueryTypeAnnotations, `{"labels": ["x"]}`, backend.StatusBadRequest, `labels[0]: "x" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := backend.DataQuery{RefID: "BAD", QueryType: tt.queryType, TimeRange: allTime(), JSON: []byte(tt.json)}
			resp := runQueries(t, ds,
				dataQuery(t, "A", plugin.QueryTypeRun, map[string]any{"runId": runA1}, allTime()),
				bad,
				dataQuery(t, "C", plugin.QueryTypeOutputs, map[string]any{"runIds": []string{runA1}}, allTime()))
			got := resp.Responses["BAD"]
			require.Error(t, got.Error)
			assert.Contains(t, got.Error.Error(), tt.want)
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, backend.ErrorSourceDownstream, got.ErrorSource)
			assert.Empty(t, got.Frames)
			for _, ok := range []string{"A", "C"} {
				assert.NoError(t, resp.Responses[ok].Error, ok)
				assert.NotEmpty(t, resp.Responses[ok].Frames, ok)
			}
		})
	}
}

func TestAnnotationsFilter(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	tests := []struct {
		name  string
		model map[string]any
		want  []string
	}{
		{"all", nil, []string{runA1, runA2, runB1, runC1, runD1}},
		{"label", map[string]any{"labels": []string{"ci=true"}}, []string{runA1, runA2}},
		{"model", map[string]any{"model": "m2"}, []string{runB1, runC1}},
		{"name", map[string]any{"name": "overload"}, []string{runD1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeAnnotations, tt.model, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames, 1)
			assert.Equal(t, tt.want, runIDs(t, got.Frames[0]))
			for _, name := range []string{"time", "timeEnd", "title", "text", "tags"} {
				_, idx := got.Frames[0].FieldByName(name)
				assert.GreaterOrEqual(t, idx, 0, name)
			}
		})
	}
}
