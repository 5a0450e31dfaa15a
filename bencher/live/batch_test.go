package live

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

func TestBatchBarLine(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{Mode: bencher.ModeBatchAPI}, nil)
	batch := func(status string, total, completed, failed int64) *BatchProgress {
		return &BatchProgress{Status: status, Total: total, Completed: completed, Failed: failed}
	}
	tests := []struct {
		name string
		opts BarOptions
		snap Snapshot
		want string
	}{
		{name: "before the first poll", opts: BarOptions{Total: 100},
			snap: Snapshot{Elapsed: 2 * time.Second},
			want: "batch submitting  0:02"},
		{name: "validating: the requests submitted are the total", opts: BarOptions{Total: 100},
			snap: Snapshot{Elapsed: 3 * time.Second, Batch: batch("validating", 0, 0, 0)},
			want: "[>                   ] 0/100   0%  batch validating  failed 0  0.0 req/s  0:03"},
		{name: "in progress: the server's counts", opts: BarOptions{Total: 100, Label: "batch-api"},
			snap: Snapshot{Elapsed: 4 * time.Second, OK: 38, Failed: 2, Batch: batch("in_progress", 100, 38, 2)},
			want: "batch-api [========>           ] 40/100  40%  batch in_progress  failed 2  10.0 req/s  0:04"},
		{name: "no total known", opts: BarOptions{},
			snap: Snapshot{Elapsed: 4 * time.Second, OK: 8, Batch: batch("in_progress", 0, 8, 0)},
			want: "8 done  batch in_progress  failed 0  2.0 req/s  0:04"},
		{name: "an unknown status is quoted", opts: BarOptions{Total: 4},
			snap: Snapshot{Elapsed: time.Second, OK: 4, Batch: batch("done\x1b[2J", 4, 4, 0)},
			want: `[====================] 4/4 100%  batch "done\x1b[2J"  failed 0  4.0 req/s  0:01`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line := NewBar(nil, r, tt.opts).Line(tt.snap)
			assert.Equal(t, tt.want, line)
			assert.NotContains(t, line, "TTFT", "a batch has no TTFT")
			assert.NotContains(t, line, "tok/s", "a batch reports no tokens before it ends")
		})
	}
}

func TestBatchRunSnapshotIsTheServersCounts(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{ID: "b", Mode: bencher.ModeBatchAPI}, nil)
	r.Start(nil)
	s := r.Snapshot()
	assert.Nil(t, s.Batch, "no poll yet")
	assert.Zero(t, s.Progress, "a batch run has no runner")
	r.ObserveBatch(BatchProgress{Status: "in_progress", Total: 10, Completed: 6, Failed: 1})
	s = r.Snapshot()
	require.NotNil(t, s.Batch)
	assert.Equal(t, int64(6), s.OK)
	assert.Equal(t, int64(1), s.Failed)
	assert.Equal(t, int64(7), s.Batch.Done())
	assert.False(t, s.HasTTFT)

	online := NewRun(RunInfo{Mode: bencher.ModeClosedLoop}, nil)
	online.ObserveBatch(BatchProgress{Status: "in_progress", Completed: 6})
	assert.Nil(t, online.Snapshot().Batch, "an online run ignores batch progress")
}

func TestMetricsOfABatchRun(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	r := NewRun(RunInfo{ID: "batch-1", Profile: "batch-api", Model: "m", Target: "http://x/v1", API: "completions",
		Mode: bencher.ModeBatchAPI, Simulated: true}, m)
	online := NewRun(RunInfo{ID: "online-1", Profile: "p", Mode: bencher.ModeClosedLoop}, m)
	online.Start(&fakeProgress{})
	r.Start(nil)

	got := families(t, scrape(t, m))
	run := map[string]string{"run_id": "batch-1"}
	assert.Equal(t, 1.0, seriesValue(t, got, "bencher_run_info", map[string]string{"run_id": "batch-1", "mode": "batch_api"}))
	assert.Positive(t, seriesValue(t, got, "bencher_run_start_time_seconds", run))
	_, polled := got["bencher_batch_requests_completed"]
	assert.False(t, polled, "no batch gauge before the first poll")

	r.ObserveBatch(BatchProgress{Status: "in_progress", Total: 10, Completed: 4, Failed: 1})
	got = families(t, scrape(t, m))
	assert.Equal(t, 10.0, seriesValue(t, got, "bencher_batch_requests", run))
	assert.Equal(t, 4.0, seriesValue(t, got, "bencher_batch_requests_completed", run))
	assert.Equal(t, 1.0, seriesValue(t, got, "bencher_batch_requests_failed", run))
	assert.Equal(t, 1.0, seriesValue(t, got, "bencher_batch_status", map[string]string{"run_id": "batch-1", "status": "in_progress"}))
	assert.Equal(t, 0.0, seriesValue(t, got, "bencher_batch_status", map[string]string{"run_id": "batch-1", "status": "validating"}))
	assert.Len(t, got["bencher_batch_status"].GetMetric(), 9, "a state set: the eight statuses and unknown")

	// The per-request series are the online run's only: a batch has no
	// records until it ends, so its series are absent, not 0.
	for _, name := range []string{"bencher_requests_total", "bencher_requests_in_flight", "bencher_request_attempts_total",
		"bencher_input_tokens_total", "bencher_output_tokens_total", "bencher_time_to_first_token_seconds",
		"bencher_inter_token_latency_seconds", "bencher_e2e_request_latency_seconds"} {
		require.Contains(t, got, name, "the online run has it")
		for _, mm := range got[name].GetMetric() {
			assert.NotEqual(t, "batch-1", labels(mm)["run_id"], "%s has a series of the batch run", name)
		}
	}

	r.ObserveBatch(BatchProgress{Status: "something new", Total: 10, Completed: 10})
	got = families(t, scrape(t, m))
	assert.Equal(t, 1.0, seriesValue(t, got, "bencher_batch_status", map[string]string{"run_id": "batch-1", "status": "unknown"}))
	assert.Equal(t, 0.0, seriesValue(t, got, "bencher_batch_status", map[string]string{"run_id": "batch-1", "status": "in_progress"}))
	promtoolCheck(t, scrape(t, m))

	m.KeepFinished(1)
	r.Finish()
	online.Finish()
	got = families(t, scrape(t, m))
	assert.NotContains(t, got, "bencher_batch_requests", "a forgotten batch run leaves no series")
}
