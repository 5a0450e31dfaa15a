package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// processLiveMetrics returns the live metrics of the test process,
// registered once, as main does, on the default registry that the SDK's
// CollectMetrics gathers (the collector cannot be unregistered).
var processLiveMetrics = sync.OnceValue(func() *live.Metrics {
	m := live.NewMetrics()
	prometheus.MustRegister(plugin.LiveCollector(m))
	return m
})

// grpcCall sends one resource request over the harness's gRPC connection
// and returns the status and body.
func grpcCall(ctx context.Context, t *testing.T, tp datasourcetest.TestPlugin, pc backend.PluginContext, method, path, body string) (int, string) {
	t.Helper()
	s := &resourceSender{}
	require.NoError(t, tp.Client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc,
		Method: method, Path: path, URL: path, Body: []byte(body)}, s))
	require.NotNil(t, s.resp)
	return s.resp.Status, string(s.resp.Body)
}

// runToEnd starts a run over gRPC and polls it until it has ended; it
// returns the ended run.
func runToEnd(ctx context.Context, t *testing.T, tp datasourcetest.TestPlugin, pc backend.PluginContext, spec string) plugin.RunListItem {
	t.Helper()
	code, body := grpcCall(ctx, t, tp, pc, http.MethodPost, "runs", spec)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	for {
		code, body = grpcCall(ctx, t, tp, pc, http.MethodGet, "runs/"+started.ID, "")
		require.Equal(t, http.StatusOK, code, body)
		var item plugin.RunListItem
		require.NoError(t, json.Unmarshal([]byte(body), &item))
		if item.Status != "running" {
			require.NotNil(t, item.Header, body)
			return item
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s did not end: %s", started.ID, body)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// collectMetrics calls the Diagnostics service's CollectMetrics, as
// Grafana does for /metrics/plugins/<plugin id>, and parses the text
// exposition (which fails on a family sent twice). It also returns the
// lines of the bencher's series.
func collectMetrics(ctx context.Context, t *testing.T, tp datasourcetest.TestPlugin) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := tp.Client.DiagnosticsClient.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	require.NoError(t, err)
	raw := resp.GetMetrics().GetPrometheus()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	require.NoError(t, err, "%s", raw)
	var lines strings.Builder
	for line := range strings.Lines(string(raw)) {
		if strings.HasPrefix(line, live.Namespace+"_") {
			lines.WriteString(line)
		}
	}
	return mfs, lines.String()
}

// runSeries returns the series of a family whose labels include want.
func runSeries(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range mfs[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// checkRunMetrics checks the live metrics of an ended run against its
// document.
func checkRunMetrics(t *testing.T, mfs map[string]*dto.MetricFamily, lines string, run plugin.RunListItem, profile string) {
	t.Helper()
	id, sum := run.ID, run.Header.Summary
	finished := sum.Requests + sum.WarmupRequests

	byOutcome := map[string]float64{}
	total := 0.0
	for _, m := range runSeries(mfs, "bencher_requests_total", map[string]string{"run_id": id, "profile": profile}) {
		for _, l := range m.GetLabel() {
			if l.GetName() == live.LabelOutcome {
				byOutcome[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
		total += m.GetCounter().GetValue()
	}
	require.NotEmpty(t, byOutcome, "bencher_requests_total of run %s in:\n%s", id, lines)
	assert.Equal(t, float64(finished), total, "every finished request of run %s", id)
	assert.Equal(t, float64(sum.Succeeded), byOutcome[live.OutcomeOK], "ok")
	assert.Equal(t, float64(sum.Failed), total-byOutcome[live.OutcomeOK], "errors")

	info := runSeries(mfs, "bencher_run_info", map[string]string{"run_id": id, "profile": profile,
		"model": sim.DefaultModel, "api": "completions", "mode": "closed_loop", "simulated": "true"})
	require.Len(t, info, 1, "bencher_run_info of run %s in:\n%s", id, lines)
	assert.Equal(t, 1.0, info[0].GetGauge().GetValue())
	inFlight := runSeries(mfs, "bencher_requests_in_flight", map[string]string{"run_id": id})
	require.Len(t, inFlight, 1)
	assert.Equal(t, 0.0, inFlight[0].GetGauge().GetValue(), "the run is over")
	start := runSeries(mfs, "bencher_run_start_time_seconds", map[string]string{"run_id": id})
	require.Len(t, start, 1)
	assert.InDelta(t, float64(run.Header.Environment.StartTime.UnixNano())/1e9, start[0].GetGauge().GetValue(), 5)

	for _, name := range []string{"bencher_time_to_first_token_seconds", "bencher_e2e_request_latency_seconds"} {
		require.Equal(t, dto.MetricType_HISTOGRAM, mfs[name].GetType(), name)
		h := runSeries(mfs, name, map[string]string{"run_id": id})
		require.Len(t, h, 1, name)
		assert.Equal(t, uint64(sum.Succeeded), h[0].GetHistogram().GetSampleCount(), name)
		assert.NotEmpty(t, h[0].GetHistogram().GetBucket(), name)
		assert.Contains(t, lines, name+`_bucket{profile="`+profile+`",run_id="`+id+`",le="+Inf"} `, name)
	}
}

// liveFactoryOptions are the options of TestOverGRPC's instances for
// checkLiveMetricsOverGRPC: a fast simulator that answers half of the
// requests with 500, and the process's live metrics.
func liveFactoryOptions() []plugin.Option {
	return []plugin.Option{
		plugin.WithSimulatorOptions(sim.WithDecodeTime(2*time.Millisecond, 0), sim.WithFaults(sim.Faults{ServerError: 0.5})),
		plugin.WithLiveMetrics(processLiveMetrics()),
	}
}

// checkLiveMetricsOverGRPC starts runs through the SDK's gRPC harness, as
// Grafana does, and reads their live metrics with CollectMetrics, the call
// behind Grafana's /metrics/plugins/<plugin id>. The metrics outlive the
// instance that ran them. It is part of TestOverGRPC, as the harness can
// only be started once per process (each start registers the SDK's
// middleware metrics on the default registry, which panics the second
// time).
func checkLiveMetricsOverGRPC(ctx context.Context, t *testing.T, tp datasourcetest.TestPlugin) {
	t.Helper()
	settings := instanceSettings(t, map[string]any{"resultsDir": t.TempDir()}, nil)
	settings.ID, settings.UID = 100, "bench-live"
	pc := backend.PluginContext{PluginID: plugin.PluginID, OrgID: 1, DataSourceInstanceSettings: &settings,
		User: &backend.User{Login: "e", Role: "Editor"}}
	first := runToEnd(ctx, t, tp, pc,
		`{"profile": "high-parallelism", "requests": 20, "inputTokens": "16", "outputTokens": "8"}`)
	require.Equal(t, 20, first.Header.Summary.Requests)
	require.Positive(t, first.Header.Summary.Failed, "the simulator answers half of the requests with 500")
	require.Positive(t, first.Header.Summary.Succeeded)

	mfs, lines := collectMetrics(ctx, t, tp)
	checkRunMetrics(t, mfs, lines, first, "high-parallelism")
	assert.Contains(t, mfs, "go_goroutines", "the default registry's own series are there once")
	instances := instancesCreated(t, mfs)

	// New settings: the SDK disposes of the instance and creates another,
	// whose run counts in the same metrics.
	settings.Updated = settings.Updated.Add(time.Second)
	second := runToEnd(ctx, t, tp, pc, `{"concurrency": 2, "requests": 4}`)
	mfs, lines = collectMetrics(ctx, t, tp)
	assert.Equal(t, instances+1, instancesCreated(t, mfs), "a new instance ran the second run")
	checkRunMetrics(t, mfs, lines, first, "high-parallelism")
	checkRunMetrics(t, mfs, lines, second, "custom-c2-in512-out128")
	assert.Equal(t, "custom-c2-in512-out128", second.Header.Profile, "a custom load's profile key")
}

// instancesCreated returns the SDK's count of the data source instances it
// created.
func instancesCreated(t *testing.T, mfs map[string]*dto.MetricFamily) float64 {
	t.Helper()
	mf := mfs["plugins_datasource_instances_total"]
	require.NotNil(t, mf)
	require.Len(t, mf.GetMetric(), 1)
	return mf.GetMetric()[0].GetCounter().GetValue()
}
