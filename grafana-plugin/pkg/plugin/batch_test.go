package plugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
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

// batchStreamSender keeps the frames of a batch run's stream and, at the
// first frame that shows the batch partly done, scrapes the live metrics.
type batchStreamSender struct {
	packetSender
	metrics *live.Metrics
	scraped map[string]*dto.MetricFamily // the live metrics mid-batch
}

func (s *batchStreamSender) Send(p *backend.StreamPacket) error {
	if err := s.packetSender.Send(p); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.frames[len(s.frames)-1]
	done, total := f.Fields[1].At(0).(int64), f.Fields[2].At(0).(int64)
	if s.scraped == nil && done > 0 && done < total {
		mfs, err := s.metrics.Registry().Gather()
		if err != nil {
			return err
		}
		s.scraped = map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			s.scraped[mf.GetName()] = mf
		}
	}
	return nil
}

// TestBatchRunStreamsTheServersProgress follows a batch-api run in the
// stream: its frames carry the server's counts rising before the batch
// ends, the batch's status and a completion rate, with in_flight, tokens
// and TTFT null; the live metrics hold the same counts mid-batch.
func TestBatchRunStreamsTheServersProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	metrics := live.NewMetrics()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": dir}, nil),
		plugin.WithLogger(plugintest.NewLogger()), plugin.WithLiveMetrics(metrics), plugin.WithStreamInterval(20*time.Millisecond),
		plugin.WithSimulatorOptions(sim.WithDecodeTime(10*time.Millisecond, 0), sim.WithMaxNumSeqs(2)))
	t.Cleanup(ds.Dispose)
	code, body := call(t, ds, "Editor", http.MethodPost, "runs",
		`{"profile": "batch-api", "requests": 30, "inputTokens": "16", "outputTokens": "16"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	ps := &batchStreamSender{metrics: metrics}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, ds.RunStream(ctx, &backend.RunStreamRequest{Path: started.Channel}, backend.NewStreamSender(ps)))
	checkProgressFrames(t, ps.frames)

	var partial, rated int
	prev := int64(0)
	statuses := map[string]bool{}
	for i, f := range ps.frames {
		require.Len(t, f.Fields, 10, "frame %d has batch_status", i)
		done, total := f.Fields[1].At(0).(int64), f.Fields[2].At(0).(int64)
		assert.GreaterOrEqual(t, done, prev, "frame %d: the server's count never goes back", i)
		prev = done
		if done > 0 && done < total {
			partial++
			assert.Equal(t, int64(30), total, "frame %d: the batch's total", i)
		}
		if f.Fields[5].At(0).(float64) > 0 && done < 30 {
			rated++
		}
		statuses[f.Fields[9].At(0).(string)] = true
		for _, k := range []int{7, 8} {
			assert.Nil(t, f.Fields[k].At(0), "frame %d: a batch has no %s: null, not 0", i, f.Fields[k].Name)
		}
		if i < len(ps.frames)-1 {
			assert.Nil(t, f.Fields[3].At(0), "frame %d: nothing in flight is measured for a batch", i)
			assert.Nil(t, f.Fields[6].At(0), "frame %d: no tokens before the batch ends", i)
		}
	}
	assert.Positive(t, partial, "frames showed the batch partly done")
	assert.Positive(t, rated, "frames showed a completion rate while the batch ran")
	assert.True(t, statuses["in_progress"], "the stream showed the batch in progress: %v", statuses)
	last := ps.frames[len(ps.frames)-1]
	assert.Equal(t, int64(30), last.Fields[1].At(0))
	assert.Equal(t, "completed", last.Fields[9].At(0))
	assert.Nil(t, last.Fields[7].At(0), "the final frame has no TTFT either")

	// The live metrics, scraped while the stream showed the batch partly
	// done, hold the server's counts too.
	ps.mu.Lock()
	mid := ps.scraped
	ps.mu.Unlock()
	require.NotNil(t, mid, "no frame showed the batch partly done")
	completed := runSeries(mid, "bencher_batch_requests_completed", map[string]string{"run_id": started.ID})
	require.Len(t, completed, 1)
	assert.Positive(t, completed[0].GetGauge().GetValue())
	assert.Less(t, completed[0].GetGauge().GetValue(), 30.0)
	assert.Empty(t, runSeries(mid, "bencher_requests_total", map[string]string{"run_id": started.ID}),
		"a batch run has no per-request series")
	assert.Empty(t, runSeries(mid, "bencher_time_to_first_token_seconds", map[string]string{"run_id": started.ID}))
}
