package plugin_test

import (
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

// count returns the sum of an int64 field.
func count(t *testing.T, f *data.Field) int64 {
	t.Helper()
	var n int64
	for i := range f.Len() {
		n += f.At(i).(int64)
	}
	return n
}

// The histogram of one or two runs is one frame, which Grafana's
// histogram panel reads as pre-bucketed data: shared buckets, then one
// count field per run in the order asked, named by the run.
func TestHistogramIsOneFrame(t *testing.T) {
	t.Parallel()
	dir, runs := unmeasuredDir(t)
	writeRuns(t, dir, plugintest.Start().Add(time.Hour), plugintest.Runs()[1])
	ds := newDatasource(t, dir, plugintest.NewLogger())
	measured, failed, other := runs[0].ID, runs[2].ID, plugintest.Runs()[1].ID
	tests := []struct {
		name   string
		runIDs []string
		want   []string
		counts []int64 // per run
		rows   int
	}{
		{"one run", []string{measured}, []string{measured}, []int64{10}, 7},
		{"baseline then run", []string{measured, other}, []string{measured, other}, []int64{10, 19}, 7},
		{"run then baseline", []string{other, measured}, []string{other, measured}, []int64{19, 10}, 7},
		{"latest and previous", []string{plugin.RunPrevious, plugin.RunLatest}, []string{runs[4].ID, other}, []int64{10, 19}, 7},
		{"a run without values counts 0 in each bucket", []string{failed, measured}, []string{failed, measured}, []int64{0, 10}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeDistribution,
				map[string]any{"runIds": tt.runIDs, "metric": "ttft", "buckets": 7}, allTime()))
			got := resp.Responses["A"]
			require.NoError(t, got.Error)
			require.Len(t, got.Frames, 1, "Grafana's histogram panel reads buckets only from one frame")
			f := got.Frames[0]
			assert.Equal(t, "histogram", f.Name)
			assert.Equal(t, append([]string{"xMin", "xMax"}, tt.want...), fieldNames(f))
			assert.Equal(t, tt.rows, f.Rows())
			for _, name := range []string{"xMin", "xMax"} {
				fl, _ := f.FieldByName(name)
				assert.Equal(t, data.FieldTypeFloat64, fl.Type(), name)
				assert.Equal(t, "ms", fl.Config.Unit, name)
			}
			for i, id := range tt.want {
				fl := f.Fields[2+i]
				assert.Equal(t, data.FieldTypeInt64, fl.Type(), id)
				assert.Equal(t, id, fl.Config.DisplayNameFromDS, "the legend names the run")
				assert.Equal(t, tt.counts[i], count(t, fl), "the values of %s", id)
			}
			assert.Equal(t, map[string]any{"metric": "ttft", "runIds": tt.want}, f.Meta.Custom)
		})
	}
}

// A CDF stays one frame per run, for a panel of one query per run.
func TestCDFIsOneFramePerRun(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeDistribution,
		map[string]any{"runIds": []string{runA1, runA2}, "metric": "e2el", "kind": "cdf"}, allTime()))
	got := resp.Responses["A"]
	require.NoError(t, got.Error)
	require.Len(t, got.Frames, 2)
	for i, id := range []string{runA1, runA2} {
		assert.Equal(t, id, got.Frames[i].Name)
		assert.Equal(t, []string{"latency", "fraction"}, fieldNames(got.Frames[i]))
	}
}

// A comparison writes a value a run lacks as null, with no change, and a
// threshold on it says "missing"; outputs of a run recorded without
// outputs are null, with a notice rather than an error.
func TestViewsOfRunsWithoutValues(t *testing.T) {
	t.Parallel()
	dir, runs := unmeasuredDir(t)
	ds := newDatasource(t, dir, plugintest.NewLogger())
	base, failed := runs[0].ID, runs[2].ID
	resp := runQueries(t, ds,
		dataQuery(t, "C", plugin.QueryTypeCompare, map[string]any{"runIds": []string{base, failed}, "thresholds": "ttft_p95=+10%"}, allTime()),
		dataQuery(t, "O", plugin.QueryTypeOutputs, map[string]any{"runIds": []string{base}}, allTime()))

	require.NoError(t, resp.Responses["C"].Error)
	f := resp.Responses["C"].Frames[0]
	row := -1
	metric, _ := f.FieldByName("metric")
	for i := range metric.Len() {
		if metric.At(i) == "ttft_p95" {
			row = i
		}
	}
	require.GreaterOrEqual(t, row, 0)
	cell := func(name string) any {
		fl, _ := f.FieldByName(name)
		require.NotNil(t, fl, name)
		if v, ok := fl.ConcreteAt(row); ok {
			return v
		}
		return nil
	}
	assert.NotNil(t, cell(base))
	assert.Nil(t, cell(failed), "no successful request: no TTFT, not 0")
	assert.Nil(t, cell(failed+" change"))
	assert.Nil(t, cell(failed+" change %"))
	assert.Equal(t, "missing", cell(failed+" verdict"))

	o := resp.Responses["O"]
	require.NoError(t, o.Error, "a run without outputs still lists its requests")
	of := o.Frames[0]
	assert.Equal(t, 10, of.Rows())
	out, _ := of.FieldByName("output")
	require.NotNil(t, out)
	for i := range out.Len() {
		v, ok := out.ConcreteAt(i)
		assert.False(t, ok, "row %d: %v", i, v)
	}
	status, _ := of.FieldByName("status")
	v, ok := status.ConcreteAt(0)
	assert.True(t, ok)
	assert.Equal(t, "ok (length)", v)
	require.Len(t, of.Meta.Notices, 1)
	assert.Equal(t, data.Notice{Severity: data.NoticeSeverityInfo, Text: "Run " + base +
		" was recorded without outputs, so its prompts and generated texts are empty: record them with --record-outputs (bencher CLI) " +
		"or the record outputs option of the query editor's Run benchmark"}, of.Meta.Notices[0])
}

// An annotation describes a run by the values it has: none written as 0.
func TestAnnotationTextLeavesOutAbsentValues(t *testing.T) {
	t.Parallel()
	dir, runs := unmeasuredDir(t)
	ds := newDatasource(t, dir, plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeAnnotations, nil, allTime()))
	require.NoError(t, resp.Responses["A"].Error)
	text, _ := resp.Responses["A"].Frames[0].FieldByName("text")
	require.NotNil(t, text)
	tests := []struct {
		row          int
		want, absent []string
	}{
		{0, []string{"requests 10", "success_rate 1", "ttft_p95 ", "output_throughput "}, nil},
		{1, []string{"requests 0"}, []string{"success_rate", "ttft_p95", "output_throughput"}},
		{2, []string{"requests 5", "success_rate 0", "output_throughput 0"}, []string{"ttft_p95"}},
	}
	for _, tt := range tests {
		got := text.At(tt.row).(string)
		assert.Contains(t, got, runs[tt.row].ID)
		for _, w := range tt.want {
			assert.Contains(t, got, w)
		}
		for _, a := range tt.absent {
			assert.NotContains(t, got, a)
		}
	}
}
