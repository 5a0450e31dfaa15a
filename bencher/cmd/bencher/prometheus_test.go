//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/serverside"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/exporter/collector"
	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
	"github.com/benchstation/benchstation/internal/promtest"
)

// startSimulator serves the simulator (real engine timing) on a loopback
// port and returns its base URL.
func startSimulator(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := sim.New().Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); _ = wait() })
	return base
}

// startGPUExporter serves the exporter's collectors on a simulated DGX H100
// on a loopback port and returns its base URL.
func startGPUExporter(t *testing.T) string {
	t.Helper()
	sys, err := gpusim.New("dgxh100")
	require.NoError(t, err)
	gpus := gpu.NewManager(sys.Library(), gpu.Simulated())
	t.Cleanup(func() { _ = gpus.Close() })
	exp, err := collector.New(collector.Deps{GPUs: gpus, Logger: slog.New(slog.DiscardHandler), Config: collector.Config{
		ProcessName: sys.ProcessName, MaxProcessesPerGPU: collector.DefaultMaxProcessesPerGPU,
	}}, collector.DefaultEnabled())
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Close() })
	require.True(t, gpus.Refresh(), "the simulated NVML initialises")
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitUp waits until Prometheus has scraped every job successfully.
func waitUp(t *testing.T, prom *promtest.Server, jobs int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, err := prom.Query(context.Background(), "sum(up) == "+strings.Repeat("1+", jobs-1)+"1")
		return err == nil && len(got) == 1
	}, 20*time.Second, 100*time.Millisecond, "Prometheus scrapes the simulator and the exporter")
}

// The exporter's packages need cgo (go-nvml); without it this test is left
// out.

// TestServerSideFromARealPrometheus runs a short benchmark of the
// simulator while a real Prometheus (1 s scrapes) scrapes the simulator's
// vllm:* metrics and the exporter's simulated GPUs, and checks what the
// run's document says of the server side.
func TestServerSideFromARealPrometheus(t *testing.T) {
	t.Parallel()
	target := startSimulator(t)
	exporter := startGPUExporter(t)
	prom := promtest.Start(t,
		promtest.Target{Job: "vllm", Address: strings.TrimPrefix(target, "http://")},
		promtest.Target{Job: "gpu", Address: strings.TrimPrefix(exporter, "http://")})
	waitUp(t, prom, 2)

	dir := t.TempDir()
	r := runInProcess(t, "run", "--target", target+"/v1", "--duration", "4s", "--concurrency", "16",
		"--input-tokens", "512", "--output-tokens", "64", "--prefix-share", "0.5", "--prefix-groups", "2",
		"--results-dir", dir, "--progress", "never",
		"--prometheus-url", prom.URL, "--prometheus-wait", "5s", "--prometheus-vllm-selector", `job="vllm"`)
	require.Equal(t, exitOK, r.code, r.stderr)
	doc := onlyDocument(t, dir)
	ss := doc.ServerSide
	require.NotNil(t, ss, r.stderr)
	b, _ := json.Marshal(ss)
	t.Logf("server side: %s", b)
	assert.Equal(t, prom.URL, ss.Source)
	assert.Empty(t, serverside.Missing(ss), "every value is there: %s", r.stderr)
	positive := func(name string, v *float64) {
		if assert.NotNil(t, v, name) {
			assert.Greater(t, *v, 0.0, name)
		}
	}
	positive("GPU memory peak", ss.GPUMemoryPeakBytes)
	positive("energy", ss.EnergyJoules)
	positive("power", ss.PowerWattsMean)
	positive("KV-cache peak", ss.KVCacheUsagePeak)
	positive("prefix-cache hit ratio", ss.PrefixCacheHitRatio)
	positive("vLLM's mean TTFT", ptrOf(ss.Extra, serverside.ExtraVLLMTTFTMean))
	assert.LessOrEqual(t, *ss.KVCacheUsagePeak, 1.0)
	assert.LessOrEqual(t, *ss.PrefixCacheHitRatio, 1.0)
	if assert.NotNil(t, ss.GPUUtilizationMean) {
		assert.True(t, *ss.GPUUtilizationMean >= 0 && *ss.GPUUtilizationMean <= 1, *ss.GPUUtilizationMean)
	}
	if assert.NotNil(t, ss.Preemptions) {
		assert.GreaterOrEqual(t, *ss.Preemptions, 0.0)
	}
	assert.Contains(t, r.stdout, "Server side (Prometheus)")
	assert.Contains(t, r.stdout, "GPU memory peak (GiB):")
	assert.Contains(t, r.stderr, ": 8 of 8 values\n")
}

// ptrOf returns a pointer to m[k], or nil.
func ptrOf(m map[string]float64, k string) *float64 {
	if v, ok := m[k]; ok {
		return &v
	}
	return nil
}
