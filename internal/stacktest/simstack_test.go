package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/promtest"
)

// simStack is the part of the stack both end-to-end tests start: the
// vLLM simulator (job "vllm"), one simulated exporter per GPU host (job
// "benchstation-exporter"; the first also polls the Batch API of a second
// simulator, which runs one batch), and the real
// Prometheus on the repository's prometheus.yml and rules, scraping them
// on loopback ports.
type simStack struct {
	prom      *promtest.Server
	simAddr   string
	promAddr  string
	exporters []string // the exporters' addresses, one per simulated host
	batch     *stackBatch
	// targets are the scraped addresses, one job per target.
	targets []string
}

// startSimStack builds nothing: bins holds the "bencher" and "exporter"
// executables. It starts the simulator, an exporter per entry of
// simulate (an NVML simulation: dgxh100, dgxa100, …) and Prometheus, with
// bencher as job "bencher"'s stand-in, and returns once the simulator and
// the exporters answer, with the batch the first exporter watches created
// (checkStackBatch checks it) once Prometheus is ready to see it run.
func startSimStack(t *testing.T, root, dir string, bins map[string]string, bencher localTarget, simulate ...string) *simStack {
	t.Helper()
	require.NotEmpty(t, simulate)
	loopback := func() string { return fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t)) }
	s := &simStack{simAddr: loopback(), promAddr: loopback()}
	for range simulate {
		s.exporters = append(s.exporters, loopback())
	}
	local := map[string]localTarget{
		"vllm":                  {addr: s.simAddr},
		"benchstation-exporter": {addr: s.exporters[0], more: s.exporters[1:]},
		"bencher":               bencher,
		"prometheus":            {addr: s.promAddr},
	}
	for job, l := range local {
		for range 1 + len(l.more) {
			s.targets = append(s.targets, job)
		}
	}
	slices.Sort(s.targets)
	cfg := loopbackConfig(t, root, local)

	s.batch = startBatchSim(t)
	keyFile := filepath.Join(dir, "batch.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(e2eBatchKey+"\n"), 0o600))
	sim := startProcess(t, "bencher sim", bins["bencher"], "sim", "--listen", s.simAddr)
	var exporters []*process
	for i, model := range simulate {
		args := []string{"--web.listen-address=" + s.exporters[i], "--nvml.simulate=" + model, "--log.level=warn"}
		if i == 0 {
			args = append(args, "--batch.endpoint="+s.batch.base, "--batch.api-key-file="+keyFile, "--batch.interval=1s")
		}
		exporters = append(exporters, startProcess(t, "exporter "+model, bins["exporter"], args...))
	}
	s.prom = startPrometheus(t, promBinary(t), writeYAML(t, dir, "prometheus.yml", cfg), dir, s.promAddr)
	waitHTTP(t, "http://"+s.simAddr+"/health", 20*time.Second, sim)
	for i, p := range exporters {
		waitHTTP(t, "http://"+s.exporters[i]+"/healthz", 20*time.Second, p)
	}
	s.batch.create(t)
	return s
}

// promBinary is the prometheus executable.
func promBinary(t *testing.T) string { return promtest.Binary(t, "prometheus") }
