package live

import (
	"bytes"
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
)

// families parses an exposition.
func families(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	require.NoError(t, err)
	return mfs
}

// labels returns the labels of a metric as a map.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// seriesValue returns the value (a histogram's count) of the series of
// name whose labels include want.
func seriesValue(t *testing.T, got map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf, ok := got[name]
	require.True(t, ok, "%s missing", name)
	for _, mm := range mf.GetMetric() {
		ls := labels(mm)
		match := true
		for k, v := range want {
			match = match && ls[k] == v
		}
		if !match {
			continue
		}
		switch {
		case mm.Counter != nil:
			return mm.Counter.GetValue()
		case mm.Gauge != nil:
			return mm.Gauge.GetValue()
		case mm.Histogram != nil:
			return float64(mm.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("%s%v missing", name, want)
	return 0
}

func TestMetricsOfRuns(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	r1 := NewRun(RunInfo{ID: "run-1", Profile: "high-parallelism", Model: "m", Target: "http://x/v1", API: "chat",
		Mode: bencher.ModeClosedLoop, Simulated: true}, m)
	src := &fakeProgress{p: bencher.Progress{InFlight: 3}}
	r1.Start(src)
	r1.Observe(record(0, 20*time.Millisecond, 5*time.Millisecond, 4))
	r1.Observe(record(1, 30*time.Millisecond, 5*time.Millisecond, 4))
	r1.Observe(failed(2, bencher.ErrHTTPStatus))
	r1.Observe(failed(3, bencher.ErrorClass("something_new")))
	warm := record(4, time.Second, time.Millisecond, 2)
	warm.Warmup = true
	r1.Observe(warm)
	r2 := NewRun(RunInfo{ID: "run-2", Profile: "inngest-style"}, m)

	got := families(t, scrape(t, m))
	value := func(name string, want map[string]string) float64 {
		t.Helper()
		return seriesValue(t, got, name, want)
	}
	run1 := map[string]string{"run_id": "run-1"}
	with := func(k, v string) map[string]string { return map[string]string{"run_id": "run-1", k: v} }
	assert.Equal(t, 3.0, value("bencher_requests_total", with("outcome", "ok")), "warm-up requests count")
	assert.Equal(t, 1.0, value("bencher_requests_total", with("outcome", "http_status")))
	assert.Equal(t, 1.0, value("bencher_requests_total", with("outcome", "other")))
	assert.Equal(t, 0.0, value("bencher_requests_total", with("outcome", "timeout")), "every outcome is there from the start")
	assert.Equal(t, 3.0, value("bencher_requests_in_flight", run1))
	assert.Equal(t, 7.0, value("bencher_request_attempts_total", run1))
	assert.Equal(t, 30.0, value("bencher_input_tokens_total", run1))
	assert.Equal(t, 10.0, value("bencher_output_tokens_total", run1))
	assert.Equal(t, 2.0, value("bencher_time_to_first_token_seconds", run1), "successful measured requests only")
	assert.Equal(t, 6.0, value("bencher_inter_token_latency_seconds", run1), "3 gaps per request")
	assert.Equal(t, 2.0, value("bencher_e2e_request_latency_seconds", run1))
	assert.Equal(t, 1.0, value("bencher_run_info", map[string]string{"run_id": "run-1", "simulated": "true", "api": "chat"}))
	assert.Positive(t, value("bencher_run_start_time_seconds", run1))
	assert.Equal(t, 0.0, value("bencher_requests_in_flight", map[string]string{"run_id": "run-2"}), "not started")
	_, started := got["bencher_run_start_time_seconds"]
	assert.True(t, started)
	assert.Len(t, got["bencher_run_start_time_seconds"].GetMetric(), 1, "only started runs have a start time")

	r1.Finish()
	assert.Equal(t, 0.0, seriesValue(t, families(t, scrape(t, m)), "bencher_requests_in_flight", run1),
		"a finished run has nothing in flight")
	r2.Start(src)
	assert.Equal(t, 3.0, seriesValue(t, families(t, scrape(t, m)), "bencher_requests_in_flight", map[string]string{"run_id": "run-2"}))
}

func TestMetricsBuckets(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	r := NewRun(RunInfo{ID: "r"}, m)
	r.Observe(record(0, time.Millisecond, time.Millisecond, 2))
	got := families(t, scrape(t, m))
	bounds := func(name string) []float64 {
		var out []float64
		for _, b := range got[name].GetMetric()[0].GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the text format adds +Inf
				out = append(out, b.GetUpperBound())
			}
		}
		return out
	}
	assert.Equal(t, sim.TTFTBuckets(), bounds("bencher_time_to_first_token_seconds"))
	assert.Equal(t, sim.ITLBuckets(), bounds("bencher_inter_token_latency_seconds"))
	assert.Equal(t, sim.RequestLatencyBuckets(), bounds("bencher_e2e_request_latency_seconds"))
}

// TestLabelsBounded checks that no series carries a label outside the
// bounded set, whatever the records say.
func TestLabelsBounded(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	r := NewRun(RunInfo{ID: "r", Profile: "p"}, m)
	for i := range 200 {
		rec := record(i, time.Duration(i)*time.Millisecond, time.Millisecond, 3)
		rec.ID = "request-" + string(rune('a'+i%26))
		rec.ErrorMessage = "message " + rec.ID
		if i%3 == 0 {
			rec.Error = bencher.ErrStream
		}
		r.Observe(rec)
	}
	allowed := map[string]bool{"run_id": true, "profile": true, "outcome": true, "le": true}
	info := map[string]bool{"model": true, "target": true, "api": true, "mode": true, "simulated": true}
	outcomes := map[string]bool{}
	for _, o := range Outcomes() {
		outcomes[o] = true
	}
	for name, mf := range families(t, scrape(t, m)) {
		if len(name) < 8 || name[:8] != "bencher_" {
			continue
		}
		assert.LessOrEqual(t, len(mf.GetMetric()), len(Outcomes()), "%s: one series per outcome at most", name)
		for _, mm := range mf.GetMetric() {
			for k, v := range labels(mm) {
				assert.True(t, allowed[k] || name == "bencher_run_info" && info[k], "%s has label %s", name, k)
				if k == "outcome" {
					assert.True(t, outcomes[v], "outcome %q", v)
				}
			}
		}
	}
}

func TestPromtoolAcceptsMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	r := NewRun(RunInfo{ID: "20261127T101500Z-1a2b3c", Profile: "inngest-style", Model: "org/model", Target: "http://h:8000/v1",
		API: "completions", Mode: bencher.ModeOpenLoop}, m)
	r.Start(&fakeProgress{})
	r.Observe(record(0, 10*time.Millisecond, 2*time.Millisecond, 8))
	r.Observe(failed(1, bencher.ErrTimeout))
	promtoolCheck(t, scrape(t, m))
}

func TestOutcomesCoverErrorClasses(t *testing.T) {
	t.Parallel()
	for _, c := range []bencher.ErrorClass{bencher.ErrTimeout, bencher.ErrConnection, bencher.ErrHTTPStatus, bencher.ErrStream,
		bencher.ErrInvalidResponse, bencher.ErrCanceled, bencher.ErrInvalidRequest, bencher.ErrNotSent} {
		rec := failed(0, c)
		assert.Equal(t, string(c), Outcomes()[outcomeIndex(&rec)])
	}
	ok := record(0, time.Millisecond, time.Millisecond, 1)
	assert.Equal(t, OutcomeOK, Outcomes()[outcomeIndex(&ok)])
}

func TestSnapshotWithoutMetrics(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{ID: "r"}, nil)
	s := r.Snapshot()
	assert.Zero(t, s.Elapsed)
	assert.False(t, s.HasTTFT)
	r.Start(&fakeProgress{p: bencher.Progress{InFlight: 2, Finished: 2}})
	r.Observe(record(0, 40*time.Millisecond, time.Millisecond, 5))
	r.Observe(failed(1, bencher.ErrConnection))
	s = r.Snapshot()
	assert.Equal(t, int64(1), s.OK)
	assert.Equal(t, int64(1), s.Failed)
	assert.Equal(t, int64(5), s.OutputTokens)
	assert.Equal(t, int64(2), s.Progress.InFlight)
	require.True(t, s.HasTTFT)
	assert.InEpsilon(t, float64(40*time.Millisecond), float64(s.TTFTP50), 0.13)
}

// runIDs lists the run ids that have series in the registry, per family.
func runIDs(t *testing.T, m *Metrics) map[string][]string {
	t.Helper()
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string][]string{}
	for _, mf := range mfs {
		seen := map[string]bool{}
		for _, mm := range mf.GetMetric() {
			if id := labels(mm)[LabelRunID]; id != "" && !seen[id] {
				seen[id] = true
				out[mf.GetName()] = append(out[mf.GetName()], id)
			}
		}
	}
	return out
}

func TestKeepFinishedForgetsTheOldestFinishedRuns(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.KeepFinished(2)
	var runs []*Run
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		r := NewRun(RunInfo{ID: id, Profile: "chat"}, m)
		r.Start(&fakeProgress{})
		r.Observe(bencher.Record{Attempts: 1, FirstToken: time.Millisecond, End: 2 * time.Millisecond})
		runs = append(runs, r)
	}
	runs[1].Finish()
	runs[0].Finish()
	runs[0].Finish() // twice: counted once
	runs[2].Finish()
	got := runIDs(t, m)
	for _, name := range []string{"bencher_requests_total", "bencher_request_attempts_total", "bencher_output_tokens_total",
		"bencher_time_to_first_token_seconds", "bencher_e2e_request_latency_seconds", "bencher_run_info",
		"bencher_run_start_time_seconds", "bencher_requests_in_flight"} {
		assert.ElementsMatch(t, []string{"r1", "r3", "r4"}, got[name],
			"%s: r2 finished first and is forgotten; r4 runs on", name)
	}
	m.KeepFinished(1)
	assert.ElementsMatch(t, []string{"r3", "r4"}, runIDs(t, m)["bencher_requests_total"])
}

func TestKeepFinishedZeroKeepsEveryRun(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	for _, id := range []string{"r1", "r2", "r3"} {
		r := NewRun(RunInfo{ID: id}, m)
		r.Finish()
	}
	assert.ElementsMatch(t, []string{"r1", "r2", "r3"}, runIDs(t, m)["bencher_requests_total"])
}

func TestShardLabelOnEverySeries(t *testing.T) {
	t.Parallel()
	gather := func(m *Metrics) []*dto.MetricFamily {
		r := NewRun(RunInfo{ID: "run-1", Profile: "chat"}, m)
		r.Start(&fakeProgress{})
		r.Observe(bencher.Record{Attempts: 1, FirstToken: time.Millisecond, ChunkTimes: []time.Duration{1, 2}, End: 2 * time.Millisecond})
		mfs, err := m.Registry().Gather()
		require.NoError(t, err)
		require.NotEmpty(t, mfs)
		return mfs
	}
	for _, mf := range gather(NewMetrics(WithShard(2))) {
		for _, mm := range mf.GetMetric() {
			assert.Equal(t, "2", labels(mm)[LabelShard], "%s%v", mf.GetName(), labels(mm))
		}
	}
	for _, mf := range gather(NewMetrics()) {
		for _, mm := range mf.GetMetric() {
			assert.NotContains(t, labels(mm), LabelShard, "an unsharded run's %s", mf.GetName())
		}
	}
}

func TestStartAtIsTheRunsStart(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	r := NewRun(RunInfo{ID: "r", Profile: "p"}, m)
	r.StartAt(&fakeProgress{}, at)
	assert.Zero(t, r.Snapshot().Elapsed, "not started yet")
	var b bytes.Buffer
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&b, mf)
		require.NoError(t, err)
	}
	assert.Equal(t, float64(at.Unix()), seriesValue(t, families(t, b.Bytes()), "bencher_run_start_time_seconds", map[string]string{"run_id": "r"}))
}
