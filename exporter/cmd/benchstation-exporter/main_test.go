package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/batch/batchtest"
	"github.com/benchstation/benchstation/internal/promtest"
	"github.com/benchstation/benchstation/internal/testkit"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// exporterBinary builds the real executable once per test run.
func exporterBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "benchstation-exporter-test")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "benchstation-exporter")
		cmd := exec.Command("go", "build", "-o", binary.path, ".")
		cmd.Env = append(os.Environ(), "CGO_CFLAGS=-O2 -Wno-deprecated-declarations")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binary.err)
	return binary.path
}

// startExporter runs the binary with args on a free port and returns its
// base URL and a function returning its log so far.
func startExporter(t *testing.T, args ...string) (string, func() string) {
	url, logs, _ := startExporterProcess(t, args...)
	return url, logs
}

func startExporterProcess(t *testing.T, args ...string) (string, func() string, int) {
	t.Helper()
	return startBinaryAt(t, exporterBinary(t), args...)
}

// startBinaryAt is startExporterProcess for the exporter built at bin.
func startBinaryAt(t *testing.T, bin string, args ...string) (string, func() string, int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	var logs syncBuffer
	cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	promtest.WaitHTTP(t, url+"/healthz", 20*time.Second)
	return url, logs.String, cmd.Process.Pid
}

type syncBuffer = testkit.Buffer

func get(t *testing.T, url string) string { return string(testkit.Get(t, url)) }

// TestPrometheusScrapesSimulation runs the real binary in simulation mode,
// has a real Prometheus scrape it, and queries GPU metrics back.
func TestPrometheusScrapesSimulation(t *testing.T) {
	t.Parallel()
	url, _ := startExporter(t, "--nvml.simulate=dgxa100")
	prom := promtest.Start(t, promtest.Target{Job: "benchstation-exporter", Address: strings.TrimPrefix(url, "http://")})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []promtest.Sample
	require.Eventually(t, func() bool {
		var err error
		got, err = prom.Query(ctx, `nvidia_gpu_temperature_celsius{job="benchstation-exporter"}`)
		return err == nil && len(got) == 8
	}, 30*time.Second, 250*time.Millisecond, "Prometheus never returned 8 GPU temperatures")
	for _, s := range got {
		assert.Regexp(t, `^[0-9]+$`, s.Value)
		assert.NotEmpty(t, s.Metric["uuid"])
	}
	sim, err := prom.Query(ctx, `count(nvidia_gpu_info{simulated="true"})`)
	require.NoError(t, err)
	require.Len(t, sim, 1)
	assert.Equal(t, "8", sim[0].Value)
	ok, err := prom.Query(ctx, `min(benchstation_exporter_scrape_collector_success)`)
	require.NoError(t, err)
	require.Len(t, ok, 1)
	assert.Equal(t, "1", ok[0].Value, "every collector succeeds in simulation")
}

func TestLandingAndHealthPages(t *testing.T) {
	t.Parallel()
	url, logs := startExporter(t, "--nvml.simulate=dgxh100")
	assert.Contains(t, get(t, url+"/"), `href="/metrics"`)
	assert.Equal(t, "ok: NVML up, 8 GPUs\n", get(t, url+"/healthz"))
	assert.Contains(t, logs(), "SIMULATION MODE")
}

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--collector.temprature"}, "unknown long flag '--collector.temprature'"},
		{"unknown simulated model", []string{"--nvml.simulate=dgx9000"}, "enum value must be one of dgxa100,dgxb200,dgxh100,dgxh200, got 'dgx9000'"},
		{"bad process bound", []string{"--collector.process.max-per-gpu=0"}, "--collector.process.max-per-gpu must be at least 1, got 0"},
		{"bad retry interval", []string{"--nvml.retry-interval=0s"}, "--nvml.retry-interval must be positive, got 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stderr)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}

// TestRealLibraryAppearsLater drives the real go-nvml dlopen path: the
// exporter starts where libnvidia-ml.so.1 does not exist, serves
// nvidia_gpu_nvml_up 0, and picks the library up once it appears — a stub
// built here with gcc that lacks almost every NVML function, so the test
// also proves that missing functions are never called (calling one would
// kill the process).
func TestRealLibraryAppearsLater(t *testing.T) {
	t.Parallel()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libnvidia-ml.so.1")
	url, logs := startExporter(t, "--nvml.library-path="+lib, "--nvml.retry-interval=200ms")

	metrics := get(t, url+"/metrics")
	assert.Contains(t, metrics, "nvidia_gpu_nvml_up 0\n")
	assert.Contains(t, logs(), "NVML unavailable")

	// Build aside, then rename into place, as a package manager would.
	tmp := filepath.Join(dir, "build.so")
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-o", tmp, "testdata/nvmlstub.c").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.Rename(tmp, lib))

	require.Eventually(t, func() bool {
		return strings.Contains(get(t, url+"/metrics"), "nvidia_gpu_nvml_up 1\n")
	}, 10*time.Second, 100*time.Millisecond)
	for range 3 { // several scrapes: unsupported fields stay skipped
		metrics = get(t, url+"/metrics")
	}
	assert.Contains(t, metrics, `nvidia_gpu_temperature_celsius{gpu="0",uuid="GPU-57b00000-0000-0000-0000-000000000000"} 42`)
	assert.Contains(t, metrics, `driver_version="999.01"`)
	assert.Contains(t, metrics, `pci_bus_id="00000000:01:00.0"`)
	assert.NotContains(t, metrics, "nvidia_gpu_memory_used_bytes", "the stub has no memory functions")
	assert.Contains(t, get(t, url+"/healthz"), "NVML up, 1 GPUs")
	assert.Equal(t, 1, strings.Count(logs(), "NVML unavailable"), "one line while waiting, not one per retry")
}

// TestMemoryIsFlatOverThousandScrapes checks the exporter's resident memory
// after 1,200 scrapes in simulation mode, and that its live heap does not
// grow between scrape 300 and scrape 1,200. The heap is read after
// collections (the heap profile with gc=1), so the test measures what is
// kept, not when the collector last ran: resident memory between the two
// points moved by up to 2.2 MiB with GC timing alone on a loaded machine,
// which an RSS bound cannot tell from a leak.
func TestMemoryIsFlatOverThousandScrapes(t *testing.T) {
	t.Parallel()
	url, _, pid := startExporterProcess(t, "--nvml.simulate=dgxa100", "--web.enable-pprof")
	var heap300 int
	for i := 1; i <= 1200; i++ {
		get(t, url+"/metrics")
		if i == 300 {
			heap300 = liveHeapBytes(t, url)
		}
	}
	heap1200 := liveHeapBytes(t, url)
	rss := residentKiB(t, pid)
	t.Logf("live heap after two GCs: %d B after 300 scrapes, %d B after 1,200; resident memory %d KiB", heap300, heap1200, rss)
	assert.Less(t, rss, 32*1024, "resident memory after 1,200 scrapes")
	// 256 KiB: a leak of 300 bytes a scrape (900 scrapes) fails.
	assert.Less(t, heap1200-heap300, 256*1024, "live heap growth between scrape 300 and 1,200")
}

// liveHeapBytes returns the exporter's live heap (HeapAlloc) right after
// two garbage collections, from its heap profile: a sync.Pool's objects
// outlive one collection (its victim cache), and the scrape buffers'
// pools alone moved a one-collection reading by 0.9 MB.
func liveHeapBytes(t *testing.T, url string) int {
	t.Helper()
	get(t, url+"/debug/pprof/heap?gc=1")
	prof := get(t, url+"/debug/pprof/heap?gc=1&debug=1")
	for _, line := range strings.Split(prof, "\n") {
		if rest, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			require.NoError(t, err, line)
			return n
		}
	}
	require.Fail(t, "no HeapAlloc in the heap profile")
	return 0
}

func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib)
			require.NoError(t, err)
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// TestBatchEndpointFromFlags runs the binary with --batch.endpoint and the
// key in a file: the collector switches itself on, the key reaches the
// server, and it appears nowhere in the exposition or the log.
func TestBatchEndpointFromFlags(t *testing.T) {
	t.Parallel()
	const key = "sk-test-5ecret-batch-key"
	now := time.Now().Unix()
	srv := batchtest.NewServer(t, key,
		batchtest.Batch("batch_run", batch.StatusInProgress, now-60, 100, 40, 2),
		batchtest.Batch("batch_done", batch.StatusCompleted, now-3600, 10, 10, 0))
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))

	url, logs := startExporter(t, "--nvml.simulate=dgxa100", "--batch.endpoint="+srv.URL, "--batch.api-key-file="+keyFile)
	var metrics string
	require.Eventually(t, func() bool {
		metrics = get(t, url+"/metrics")
		return strings.Contains(metrics, "benchstation_batch_poll_success{")
	}, 10*time.Second, 100*time.Millisecond)
	assert.Contains(t, metrics, `benchstation_batch_jobs{endpoint="`+strings.TrimPrefix(srv.URL, "http://")+`",status="in_progress"} 1`)
	assert.Contains(t, metrics, `benchstation_batch_job_progress_ratio{batch_id="batch_run",`)
	assert.Contains(t, metrics, `benchstation_exporter_scrape_collector_success{collector="batch"} 1`)
	assert.Contains(t, metrics, `nvidia_gpu_nvml_up 1`, "GPU collectors alongside")
	assert.NotContains(t, metrics, key)
	assert.NotContains(t, logs(), key)
}

// TestEmptyBatchEndpointMeansNoBatchCollector: compose writes
// --batch.endpoint= for BATCH_ENDPOINT="", to switch batch polling off. The
// exporter starts, without the batch collector.
func TestEmptyBatchEndpointMeansNoBatchCollector(t *testing.T) {
	t.Parallel()
	url, logs := startExporter(t, "--nvml.simulate=dgxa100", "--batch.endpoint=")
	metrics := get(t, url+"/metrics")
	assert.Contains(t, metrics, `nvidia_gpu_nvml_up 1`)
	assert.NotContains(t, metrics, `collector="batch"`, "no batch collector")
	assert.NotContains(t, metrics, "benchstation_batch_")
	assert.NotContains(t, logs(), "invalid batch endpoint")
}

func TestBatchFlagErrors(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--batch.endpoint=http://127.0.0.1:1", "--batch.api-key-file=/nonexistent/key"}, &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "/nonexistent/key")
	assert.NotContains(t, stderr.String(), "panic")
}
