package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/batchapi"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/promtest"
	"github.com/benchstation/benchstation/internal/testkit"
)

// TestRunEmbeddedSimulator runs the real binary without --target: it
// benchmarks the embedded simulator, says so, prints the table and writes a
// document that validates and says SIMULATED.
func TestRunEmbeddedSimulator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, fast(dir, "--name", "smoke", "--label", "branch=main", "--warmup", "2")...)
	require.Equal(t, exitOK, p.wait(t, 30*time.Second))
	out, errs := p.stdout.String(), p.stderr.String()
	assert.Contains(t, out, "Serving Benchmark Result")
	assert.Contains(t, out, "*** SIMULATED")
	assert.Contains(t, out, "(SIMULATED)")
	assert.Contains(t, errs, "built-in vLLM SIMULATOR")
	assert.NotContains(t, errs, "\r", "no progress line when stderr is not a terminal")

	doc := onlyDocument(t, dir)
	assert.Contains(t, errs, "written to "+filepath.Join(dir, doc.ID+results.Ext))
	assert.True(t, doc.Environment.Simulated)
	assert.Equal(t, results.StatusCompleted, doc.Status)
	assert.Equal(t, "smoke", doc.Name)
	assert.Equal(t, map[string]string{"branch": "main"}, doc.Labels)
	assert.Equal(t, 20, doc.RecordCount)
	assert.Equal(t, 18, doc.Summary.Requests, "warm-up left out")
	assert.Equal(t, 18, doc.Summary.Succeeded)
	assert.Contains(t, out, "Run:                                     "+doc.ID)
}

// TestInterruptLeavesDocument sends SIGINT to the real process during a
// run: it exits 130 and leaves a document marked interrupted with what was
// measured.
func TestInterruptLeavesDocument(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, "run", "--requests", "10000", "--concurrency", "2", "--input-tokens", "16", "--output-tokens", "8",
		"--sim.decode-time", "5ms", "--results-dir", dir)
	p.waitStderr(t, regexp.MustCompile(`SIMULATOR at`), 20*time.Second)
	time.Sleep(400 * time.Millisecond) // a few requests finish
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, exitInterrupted, p.wait(t, 20*time.Second))

	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Positive(t, doc.Summary.Succeeded, "what was measured is kept")
	assert.Less(t, doc.RecordCount, 10000)
	assert.Contains(t, p.stdout.String(), "*** INTERRUPTED")
	assert.Contains(t, p.stderr.String(), "was interrupted")
	assert.Contains(t, p.stderr.String(), filepath.Join(dir, doc.ID+results.Ext))
}

// okCount matches a count of successful requests above 0.
var okCount = regexp.MustCompile(`bencher_requests_total\{outcome="ok",profile="inngest-style",run_id="[^"]+"\} [1-9]`)

// metricsAddr matches the line that gives the live metrics' address.
var metricsAddr = regexp.MustCompile(`live metrics at (http://\S+/metrics)`)

// TestLiveMetricsDuringRun scrapes --metrics-listen during a run of the
// real binary: promtool accepts the exposition, and the labels are bounded.
func TestLiveMetricsDuringRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, "run", "--requests", "400", "--concurrency", "4", "--input-tokens", "16", "--output-tokens", "8",
		"--sim.decode-time", "2ms", "--results-dir", dir, "--metrics-listen", "127.0.0.1:0", "--profile", "inngest-style",
		"--sim.fault.server-error", "0.05")
	url := p.waitStderr(t, metricsAddr, 20*time.Second)
	var body []byte
	require.Eventually(t, func() bool {
		body = get(t, url)
		return okCount.Match(body)
	}, 20*time.Second, 50*time.Millisecond, "no successful request counted during the run")
	select {
	case <-p.exited:
		t.Fatal("the run was over before the scrape: make it longer")
	default:
	}
	assert.Regexp(t, `bencher_requests_in_flight\{profile="inngest-style",run_id="[^"]+"\} [1-4]\n`, string(body))
	assert.Contains(t, string(body), `bencher_run_info{api="completions",mode="closed_loop",model="benchstation/sim-1b",profile="inngest-style"`)
	checkBoundedLabels(t, body)
	promtoolLint(t, body)
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, exitInterrupted, p.wait(t, 20*time.Second))
}

// TestInterruptEndsLinger: after a completed run, --metrics-linger keeps
// the metrics up, and SIGINT ends the wait at once (docker stop sends
// SIGTERM and waits only 10 s).
func TestInterruptEndsLinger(t *testing.T) {
	t.Parallel()
	p := start(t, fast(t.TempDir(), "--metrics-listen", "127.0.0.1:0", "--metrics-linger", "5m")...)
	url := p.waitStderr(t, metricsAddr, 20*time.Second)
	p.waitStderr(t, regexp.MustCompile(`serving the live metrics 5m0s more`), 30*time.Second)
	assert.Contains(t, string(get(t, url)), "bencher_requests_total", "still served while lingering")
	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, exitOK, p.wait(t, 10*time.Second), "the run itself completed")
	assert.Less(t, time.Since(sent), 5*time.Second, "the signal ended the linger")
}

// checkBoundedLabels checks every bencher_ series for labels outside the
// bounded set.
func checkBoundedLabels(t *testing.T, body []byte) {
	t.Helper()
	outcomes := map[string]bool{}
	for _, o := range live.Outcomes() {
		outcomes[o] = true
	}
	allowed := map[string]bool{"run_id": true, "profile": true, "outcome": true, "le": true, "status": true}
	info := map[string]bool{"model": true, "target": true, "api": true, "mode": true, "simulated": true}
	label := regexp.MustCompile(`(\w+)="([^"]*)"`)
	runs := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "bencher_") {
			continue
		}
		for _, m := range label.FindAllStringSubmatch(line, -1) {
			k, v := m[1], m[2]
			assert.True(t, allowed[k] || strings.HasPrefix(line, "bencher_run_info{") && info[k], "label %s in %s", k, line)
			switch k {
			case "outcome":
				assert.True(t, outcomes[v], "outcome %q", v)
			case "run_id":
				runs[v] = true
			case "status":
				assert.True(t, strings.HasPrefix(line, "bencher_batch_status{") &&
					(slices.Contains(batchapi.Statuses(), v) || v == "unknown"), "status %q in %s", v, line)
			}
		}
	}
	assert.Len(t, runs, 1, "one run, one run_id")
}

// promtoolLint runs `promtool check metrics` on an exposition.
func promtoolLint(t *testing.T, body []byte) {
	t.Helper()
	cmd := exec.Command(promtest.Binary(t, "promtool"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	assert.Empty(t, string(out))
}

// get returns the body of a GET.
func get(t *testing.T, url string) []byte { return testkit.Get(t, url) }

// TestSimCommandServesRuns starts bencher sim as its own process and runs
// the bencher against it: the result says SIMULATED (the simulator's
// /version gives it away), and the simulator stops on SIGINT with 0.
func TestSimCommandServesRuns(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	srv := start(t, "sim", "--listen", addr, "--zero-delay", "--model", "org/test-model")
	srv.waitStderr(t, regexp.MustCompile(`SIMULATED vLLM server`), 20*time.Second)
	assert.Contains(t, string(get(t, "http://"+addr+"/v1/models")), "org/test-model")

	dir := t.TempDir()
	r := runInProcess(t, "run", "--target", "http://"+addr+"/v1", "--requests", "10", "--output-tokens", "4",
		"--input-tokens", "8", "--results-dir", dir, "--api", "chat")
	require.Equal(t, exitOK, r.code, r.stderr)
	doc := onlyDocument(t, dir)
	assert.Equal(t, "org/test-model", doc.Environment.Model, "detected from /v1/models")
	assert.NotEmpty(t, doc.Environment.ServerVersion)
	assert.True(t, doc.Environment.Simulated)
	assert.Contains(t, r.stderr, "SIMULATOR")

	require.NoError(t, srv.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, exitOK, srv.wait(t, 20*time.Second))
}

func TestHelpListsProfilesAndExitCodes(t *testing.T) {
	t.Parallel()
	p := start(t, "--help")
	require.Equal(t, exitOK, p.wait(t, 20*time.Second))
	help := p.stdout.String()
	for _, want := range []string{"high-parallelism", "inngest-style", "batch-api", "Exit codes", "130  interrupted", "3    an --slo gate",
		"2    usage error", "1    runtime error", "\nrun ", "\nmatrix ", "\nsim ", "\nreport ", "\ncompare ", "\nmerge "} {
		assert.True(t, strings.Contains(help, want), "--help lacks %q", want)
	}
	p = start(t, "run", "--help")
	require.Equal(t, exitOK, p.wait(t, 20*time.Second))
	for _, flag := range []string{"--target=", "--model=", "--api=", "--requests=", "--duration=", "--concurrency=", "--rate=",
		"--burstiness=", "--input-tokens=", "--output-tokens=", "--seed=", "--retries=", "--profile=", "--sweep=", "--results-dir=",
		"--slo=", "--metrics-listen=", "--format=", "--junit=", "--api-key-file=", "--header=", "--timeout=", "--warmup=",
		"--max-error-rate=", "--[no-]ignore-eos", "--prefix-share=", "--dataset=", "--batch-file=", "--[no-]record-outputs",
		"--[no-]stream", "--name=", "--label=", "--request-slo=", "--mode=", "--batch-poll=", "--shard=", "--start-at=", "--run-id="} {
		assert.True(t, strings.Contains(p.stdout.String(), flag), "run --help lacks %s", flag)
	}
}

func TestUnknownFlagExits2(t *testing.T) {
	t.Parallel()
	p := start(t, "run", "--no-such-flag")
	assert.Equal(t, exitUsage, p.wait(t, 20*time.Second))
	assert.Contains(t, p.stderr.String(), "--no-such-flag")
}
