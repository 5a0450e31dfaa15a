package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
)

// TestGatesNeverPassOnNothing: an --slo on a statistic without samples
// fails with "no samples" (exit 3), the report reads n/a and the document
// has no value for it (issue #12, point 1).
func TestGatesNeverPassOnNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, fast(dir, "--no-stream", "--slo", "ttft_p95<=1ms")...)
	assert.Equal(t, exitBreach, r.code)
	assert.Contains(t, r.stderr, "no samples")
	assert.Regexp(t, `(?m)^P95 TTFT \(ms\): +n/a$`, r.stdout)
	data, err := os.ReadFile(documents(t, dir)[0])
	require.NoError(t, err)
	var raw struct {
		Summary struct {
			TTFT map[string]any `json:"ttft_ms"`
		} `json:"summary"`
		Gates []map[string]any `json:"gates"`
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	assert.NotContains(t, raw.Summary.TTFT, "p95", "no value, not 0")
	// A loaded machine may add the client_saturated outcome; the gate
	// asked for is the first.
	require.NotEmpty(t, raw.Gates)
	assert.Equal(t, "ttft_p95", raw.Gates[0]["name"])
	assert.NotContains(t, raw.Gates[0], "actual")
	assert.Equal(t, false, raw.Gates[0]["pass"])

	// Every request failed: the gate fails, the run is an error.
	r = runInProcess(t, fast(t.TempDir(), "--sim.fault.server-error", "1", "--slo", "ttft_p95<=500ms")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no samples")
	// No latency row shows a zero for what was not measured. (The
	// saturation banner may quote a measured 0.00 of the client's own.)
	assert.NotRegexp(t, `(?m)\(ms\): +0\.00$`, r.stdout)
	assert.Regexp(t, `(?m)^P99 E2EL \(ms\): +n/a$`, r.stdout)
}

// TestJUnitFailsWhenAllRequestsFailed: a run whose requests all failed is
// a failing test case (point 2).
func TestJUnitFailsWhenAllRequestsFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")
	r := runInProcess(t, fast(filepath.Join(dir, "results"), "--sim.fault.server-error", "1", "--junit", junit)...)
	assert.Equal(t, exitError, r.code)
	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	var root report.JUnitSuites
	require.NoError(t, xml.Unmarshal(data, &root))
	assert.Equal(t, 1, root.Failures, string(data))
	assert.Contains(t, string(data), `message="no request succeeded`)
}

// TestPreflight: an unwritable --results-dir or --junit fails before the
// run, with nothing measured (point 3).
func TestPreflight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for name, args := range map[string][]string{
		"results-dir": fast(filepath.Join(file, "results")),
		"junit":       fast(filepath.Join(dir, "results"), "--junit", filepath.Join(file, "junit.xml")),
		"junit dir":   fast(filepath.Join(dir, "results2"), "--junit", dir),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runInProcess(t, args...)
			assert.Equal(t, exitError, r.code)
			assert.Contains(t, r.stderr, "--"+strings.Fields(name)[0])
			assert.NotContains(t, r.stderr, "SIMULATOR", "nothing ran")
		})
	}
}

// TestFailedWriteKeepsTheDocument: when the results directory goes away
// during the run, the document is kept in the fallback directory and the
// error says where (point 3). Not parallel: it sets TMPDIR.
func TestFailedWriteKeepsTheDocument(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := filepath.Join(t.TempDir(), "results")
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), fast(dir, "--no-sim.zero-delay", "--sim.decode-time", "20ms", "--output-tokens", "8",
			"--requests", "8", "--concurrency", "1"), &stdout, &stderr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "SIMULATOR at") },
		30*time.Second, 5*time.Millisecond)
	require.NoError(t, os.Rename(dir, dir+".gone"))
	require.NoError(t, os.WriteFile(dir, nil, 0o644)) // no directory can be made there
	assert.Equal(t, exitError, <-code)
	r := result{stderr: stderr.String()}
	kept, err := filepath.Glob(filepath.Join(tmp, results.FallbackDirName, "*"+results.Ext))
	require.NoError(t, err)
	require.Len(t, kept, 1, r.stderr)
	assert.Contains(t, r.stderr, "the document was kept in "+kept[0])
	validDocument(t, kept[0])
}

// TestImpossiblePlans: plans that cannot measure anything, or that ask for
// more than the machine holds, exit 2 before anything runs (point 4).
func TestImpossiblePlans(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"requests 0":          {[]string{"run", "--requests", "0"}, "--requests 0: want at least 1"},
		"warm-up only":        {[]string{"run", "--warmup", "5", "--requests", "5"}, "leaves no request to measure"},
		"huge concurrency":    {[]string{"run", "--concurrency", "1000000000", "--requests", "1"}, "--concurrency 1000000000"},
		"huge sweep":          {[]string{"run", "--sweep", "1,1000000000"}, "--sweep 1000000000"},
		"huge matrix":         {[]string{"matrix", "--concurrency", "1000000000"}, "--concurrency 1000000000"},
		"goodput without slo": {[]string{"run", "--slo", "goodput>=1"}, "needs --request-slo"},
		"faults with target":  {[]string{"matrix", "--faults", "demo", "--target", "http://127.0.0.1:1/v1"}, "--faults demo"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "results")
			began := time.Now()
			r := runInProcess(t, append(tc.args, "--results-dir", dir)...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stderr, "SIMULATOR", "nothing ran")
			assert.NotContains(t, r.stderr, "bencher: bencher:")
			assert.NoDirExists(t, dir)
			assert.Less(t, time.Since(began), 10*time.Second)
		})
	}
}

// TestSignalStopsALargeRun: a run with many workers stops soon after
// SIGTERM (point 4). The bound is generous for a loaded machine; the
// figure is logged.
func TestSignalStopsALargeRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, "run", "--concurrency", "2000", "--requests", "100000000", "--input-tokens", "16", "--output-tokens", "8",
		"--sim.decode-time", "5ms", "--omit-records", "--results-dir", dir)
	p.waitStderr(t, regexp.MustCompile(`SIMULATOR at`), 30*time.Second)
	time.Sleep(time.Second)
	sent := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	code := p.wait(t, 60*time.Second)
	took := time.Since(sent)
	t.Logf("exited %v after SIGTERM", took)
	assert.Equal(t, exitInterrupted, code)
	assert.Less(t, took, 10*time.Second)
	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
}

// TestSecondSignalWaitsForTheWrite: a second signal during a final write
// lets the write finish, then exits 130; outside a write it exits at once
// (point 5).
func TestSecondSignalWaitsForTheWrite(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var exits []int
	exited := make(chan struct{}, 2)
	var out testkitBuffer
	g := newFinalWrites(func(code int) {
		mu.Lock()
		exits = append(exits, code)
		mu.Unlock()
		exited <- struct{}{}
	}, &out)
	sigs := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	go g.watch(sigs, cancel)
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	g.begin()
	sigs <- syscall.SIGTERM // delivered: the watcher took it
	sigs <- syscall.SIGTERM // and handled the one before
	mu.Lock()
	assert.Empty(t, exits, "no exit during the write")
	mu.Unlock()
	assert.Contains(t, out.String(), "finishing the result file")
	g.end()
	<-exited
	mu.Lock()
	assert.Equal(t, []int{exitInterrupted}, exits)
	mu.Unlock()

	// Outside a write, a second signal exits at once.
	g2 := newFinalWrites(func(code int) { exited <- struct{}{} }, &out)
	sigs2 := make(chan os.Signal)
	go g2.watch(sigs2, func() {})
	sigs2 <- syscall.SIGINT
	sigs2 <- syscall.SIGINT
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("a second signal outside a write did not exit")
	}
}

// testkitBuffer is a buffer safe for concurrent use.
type testkitBuffer = syncBuffer

// TestReportRebuildsTablesAndGates: bencher report of several documents
// rebuilds the matrix table, and --slo gates them (point 14); compare
// writes JUnit with one failing case per regression.
func TestReportRebuildsTablesAndGates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, "matrix", "--sizes", "4,6", "--sim.zero-delay", "--input-tokens", "16", "--output-tokens", "4",
		"--results-dir", dir)
	require.Equal(t, exitOK, r.code, r.stderr)
	docs := documents(t, dir)
	require.Len(t, docs, 6, "the three profiles at two sizes")
	r = runInProcess(t, append([]string{"report"}, docs...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Benchmark Matrix")
	assert.Contains(t, r.stdout, "ratio to high-parallelism")
	assert.Contains(t, r.stdout, "TTFT p95 (ms)")
	r = runInProcess(t, append([]string{"report", "--slo", "ttft_p95<=1us"}, docs...)...)
	assert.Equal(t, exitBreach, r.code)
	assert.Contains(t, r.stderr, "SLO gate breached")

	// Two runs of different sizes: their request counts differ.
	other := ""
	for _, p := range docs[1:] {
		if validDocument(t, p).Summary.Requests != validDocument(t, docs[0]).Summary.Requests {
			other = p
		}
	}
	require.NotEmpty(t, other)
	junit := filepath.Join(t.TempDir(), "cmp.xml")
	r = runInProcess(t, "compare", docs[0], other, "--threshold", "requests=0%", "--junit", junit)
	assert.Equal(t, exitBreach, r.code)
	data, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.Contains(t, string(data), `failures="1"`)
	assert.Regexp(t, `message="requests (grew|dropped) by`, string(data))
}

// TestMatrixEstimateAndFaults: the matrix says how long it will take, one
// line per finished run off a terminal, and --faults demo makes the
// simulator fail requests that retries save (point 15).
func TestMatrixEstimateAndFaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, "matrix", "--sizes", "10", "--faults", "demo", "--input-tokens", "16", "--output-tokens", "4",
		"--retry-backoff", "1ms", "--retry-backoff-max", "2ms", "--sim.fault.retry-after", "0s", "--results-dir", dir)
	require.NotEqual(t, exitUsage, r.code, r.stderr)
	assert.Regexp(t, `3 runs; estimated time (about|under)`, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stderr, "requests ok"), "one line per finished run")
	assert.Contains(t, r.stderr, "1 of 3 runs done")
	var failed, retried bool
	for _, p := range documents(t, dir) {
		d := validDocument(t, p)
		failed = failed || d.Summary.Failed > 0
		retried = retried || d.Summary.Retries > 0
	}
	assert.True(t, failed && retried, "the demo faults fail requests and retries happen")
}

// TestAPIKeyRefused: a 401 or 403 from the target says the API key was
// refused, not that /v1 may be missing; no message repeats its prefix
// (point 16).
func TestAPIKeyRefused(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"invalid api key"}}`, status)
		}))
		t.Cleanup(srv.Close)
		r := runInProcess(t, "run", "--target", srv.URL+"/v1", "--requests", "1", "--results-dir", t.TempDir())
		assert.Equal(t, exitError, r.code)
		assert.Contains(t, r.stderr, "API key")
		assert.NotContains(t, r.stderr, "missing")
		assert.NotContains(t, r.stderr, "bencher: bencher:")
	}
	r := runInProcess(t, "run", "--concurrency=-3", "--results-dir", t.TempDir())
	assert.Equal(t, exitUsage, r.code)
	assert.NotContains(t, r.stderr, "bencher: bencher:")
	assert.NotContains(t, bytes.ToLower([]byte(r.stderr)), []byte("bencher: bencher"))
}

// TestRetryScheduleDocumented: the help describes the retry schedule that
// the client follows (point 13): doubling from the base, stretched by up to
// 15 %, never full jitter.
func TestRetryScheduleDocumented(t *testing.T) {
	t.Parallel()
	top := strings.Join(strings.Fields(runInProcess(t, "--help").stdout), " ")
	assert.Contains(t, top, "1s, 2s, 4s, 8s, 16s (at most 30s), each stretched by a random 0-15% as Inngest does, never shorter")
	help := strings.Join(strings.Fields(runInProcess(t, "run", "--help").stdout), " ")
	assert.Contains(t, help, "min(max, base*2^(k-1))*(1+0.15u)")
	assert.NotContains(t, help+top, "full jitter")
}
