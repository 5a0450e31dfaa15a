package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/testkit"
)

// fakePrometheus answers every instant query with one sample of value.
func fakePrometheus(t *testing.T, value string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{},"value":[1800000000,"` + value + `"]}]}}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunServerSideFromPrometheus(t *testing.T) {
	t.Parallel()
	prom := fakePrometheus(t, "0.5")
	dir := t.TempDir()
	r := runInProcess(t, fast(dir, "--prometheus-url", prom.URL, "--prometheus-wait", "0",
		"--prometheus-vllm-selector", `model_name="benchstation/sim-1b"`)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	doc := onlyDocument(t, dir)
	require.NotNil(t, doc.ServerSide)
	assert.Equal(t, prom.URL, doc.ServerSide.Source)
	require.NotNil(t, doc.ServerSide.KVCacheUsagePeak)
	assert.InDelta(t, 0.5, *doc.ServerSide.KVCacheUsagePeak, 0)
	require.NotNil(t, doc.ServerSide.GPUMemoryPeakBytes)
	assert.Contains(t, r.stdout, "-------------Server side (Prometheus)-------------\n")
	assert.Contains(t, r.stdout, "KV-cache usage peak (%):                 50.00\n")
	assert.Contains(t, r.stderr, "from Prometheus at "+prom.URL+": 8 of 8 values\n")
	assert.Contains(t, r.stderr, "bencher: warning: Prometheus does not scrape the built-in simulator")
}

func TestMatrixShowsGPUMemory(t *testing.T) {
	t.Parallel()
	prom := fakePrometheus(t, "75161927680") // 70 GiB
	dir := t.TempDir()
	r := runInProcess(t, "matrix", "--sim.zero-delay", "--input-tokens", "16", "--output-tokens", "4",
		"--profiles", "high-parallelism", "--sizes", "5,10", "--results-dir", dir,
		"--prometheus-url", prom.URL, "--prometheus-wait", "0")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "GPU mem peak (GiB)")
	assert.Equal(t, 2, strings.Count(r.stdout, "70.00"), r.stdout)
	assert.Contains(t, r.stderr, "(none for gpu_utilization_mean, kv_cache_usage_peak, prefix_cache_hit_ratio:",
		"a ratio of 75161927680 is no ratio")
}

func TestRunWithoutPrometheusWritesTheDocument(t *testing.T) {
	t.Parallel()
	addr := testkit.RefusingAddr(t)
	dir := t.TempDir()
	r := runInProcess(t, fast(dir, "--prometheus-url", "http://grafana:s3cret@"+addr, "--prometheus-wait", "2s")...)
	require.Equal(t, exitOK, r.code, "a Prometheus that is down is only a warning")
	doc := onlyDocument(t, dir)
	assert.Nil(t, doc.ServerSide)
	assert.Contains(t, r.stderr, "bencher: warning: run "+doc.ID+" is written without its server side: "+
		"serverside: Prometheus at http://"+addr+": query `min(timestamp(nvidia_gpu_memory_used_bytes))`: ")
	assert.Contains(t, r.stderr, "connection refused")
	assert.NotContains(t, r.stderr, "s3cret")
	assert.NotContains(t, r.stderr, "grafana")
	assert.NotContains(t, r.stdout, "Server side")
}
