package plugin_test

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// TestBatchAPIProfileRun starts a run of the batch-api profile through the
// resource API, against the built-in simulator: the document is a batch
// job's, and the runs table shows its mode and makespan beside an online
// run of the same size, with its TTFT null.
func TestBatchAPIProfileRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ds := simDatasource(t, dir, map[string]any{}, plugintest.NewLogger())
	doc := runToDocument(t, ds, dir, `{"profile": "batch-api", "requests": 6, "inputTokens": "16", "outputTokens": "4",
		"name": "modes batch"}`)
	require.Equal(t, results.StatusCompleted, doc.Status, doc.Error)
	assert.Equal(t, bencher.ModeBatchAPI, doc.Config.Run.Mode)
	assert.Equal(t, "batch-api", doc.Profile)
	assert.Equal(t, 6, doc.Summary.Succeeded)
	require.NotNil(t, doc.Batch)
	assert.Equal(t, "completed", doc.Batch.FinalStatus)
	require.NotNil(t, doc.Batch.MakespanS)
	assert.Equal(t, plugin.BatchPoll.Seconds(), doc.Batch.PollIntervalS)
	assert.Equal(t, 0, doc.Summary.TTFT.Count)

	online := runToDocument(t, ds, dir, `{"profile": "high-parallelism", "requests": 6, "inputTokens": "16",
		"outputTokens": "4", "name": "modes online"}`)
	require.Equal(t, results.StatusCompleted, online.Status, online.Error)
	other := runToDocument(t, ds, dir, `{"profile": "high-parallelism", "requests": 3, "inputTokens": "16",
		"outputTokens": "4", "name": "modes other size"}`)
	require.Equal(t, results.StatusCompleted, other.Status, other.Error)

	tr := backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeRuns, map[string]any{"name": "modes", "size": "6"}, tr),
		dataQuery(t, "B", plugin.QueryTypeRuns, map[string]any{"size": "six"}, tr))
	require.NoError(t, resp.Responses["A"].Error)
	f := resp.Responses["A"].Frames[0]
	n, err := f.RowLen()
	require.NoError(t, err)
	require.Equal(t, 2, n, "the size filter leaves out the run of 3 requests")
	col := func(name string) int {
		for i, fld := range f.Fields {
			if fld.Name == name {
				return i
			}
		}
		t.Fatalf("no field %s", name)
		return -1
	}
	for row := range n {
		id := f.Fields[col("id")].At(row).(string)
		mode := f.Fields[col("mode")].At(row).(string)
		makespan := f.Fields[col("makespan_s")].At(row).(*float64)
		ttft := f.Fields[col("ttft_p50")].At(row).(*float64)
		throughput := f.Fields[col("request_throughput")].At(row).(*float64)
		require.NotNil(t, throughput, id)
		switch id {
		case doc.ID:
			assert.Equal(t, plugin.ModeBatchAPI, mode)
			require.NotNil(t, makespan)
			assert.Equal(t, *doc.Batch.MakespanS, *makespan)
			assert.Nil(t, ttft, "a batch has no TTFT: null, not 0")
		case online.ID:
			assert.Equal(t, plugin.ModeOnline, mode)
			assert.Nil(t, makespan)
			assert.NotNil(t, ttft)
		default:
			t.Errorf("unexpected run %s", id)
		}
	}
	assert.EqualError(t, resp.Responses["B"].Error, `size: "six" is not a number of requests (a whole number of at least 1)`)
}
