package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
)

// fastBatch returns the flags of a quick batch-api run against the
// embedded simulator.
func fastBatch(dir string, more ...string) []string {
	return fast(dir, append([]string{"--mode", "batch-api", "--batch-poll", "20ms"}, more...)...)
}

func TestRunBatchAPIMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, fastBatch(dir)...)
	require.Equal(t, exitOK, r.code)
	assert.Regexp(t, `bencher: batch \S+ completed \(20 of 20 requests done, 0 failed\)`, r.stderr)
	for _, want := range []string{"Load mode:                               one Batch API job",
		"Mean TTFT (ms):                          n/a", "Mean ITL (ms):                           n/a",
		"Mean TPOT (ms):                          n/a", "Batch API Job", "Final status:                            completed",
		"Per-request timing from the server:      yes", "Server Queue Time (batch)"} {
		assert.Contains(t, r.stdout, want)
	}

	doc := onlyDocument(t, dir)
	assert.Equal(t, bencher.ModeBatchAPI, doc.Config.Run.Mode)
	assert.Equal(t, "custom-batch-in16-out4", doc.Profile)
	assert.Equal(t, results.StatusCompleted, doc.Status)
	assert.Equal(t, 20, doc.Summary.Succeeded)
	b := doc.Batch
	require.NotNil(t, b)
	assert.Equal(t, "completed", b.FinalStatus)
	assert.Equal(t, "/v1/completions", b.Endpoint)
	assert.Equal(t, 20, b.Completed)
	assert.Equal(t, results.BatchCounts{Total: 20, Completed: 20}, b.RequestCounts)
	assert.True(t, b.PerRequestTiming)
	require.NotNil(t, b.MakespanS)
	require.NotNil(t, b.ToInProgressS)
	assert.LessOrEqual(t, *b.ToInProgressS, *b.MakespanS)
	require.NotNil(t, b.ServerSpanS, "the simulator reports per-request times")
	assert.Positive(t, *b.ServerSpanS)
	assert.InDelta(t, *b.MakespanS, doc.Summary.Window.DurationS, 1e-9, "the throughputs divide by the makespan")
	assert.InDelta(t, float64(doc.Summary.Succeeded) / *b.MakespanS, doc.Summary.RequestThroughput, 1e-9)
	assert.Positive(t, doc.Summary.OutputThroughput)
	assert.Equal(t, 0, doc.Summary.TTFT.Count)
	assert.Equal(t, 0, doc.Summary.ITL.Count)
	assert.Equal(t, 0, doc.Summary.TPOT.Count)
	assert.Equal(t, 20, doc.Summary.QueueDelay.Count, "the server's per-request queue time")
	assert.Equal(t, 20, doc.Summary.E2EL.Count)
	assert.Subset(t, doc.Summary.Unmeasured, []string{"ttft", "itl", "tpot"})

	raw, err := os.ReadFile(filepath.Join(dir, doc.ID+results.Ext))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	summary := m["summary"].(map[string]any)
	assert.Equal(t, map[string]any{"count": 0.0}, summary["ttft_ms"], "TTFT is absent, not 0")
	assert.NotContains(t, summary, "request_rate", "all at once: no arrival rate")
}

func TestBatchAPIGatesOnUnmeasurableValuesFail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, fastBatch(dir, "--slo", "ttft_p95<=10s,success_rate>=0.9", "--junit", filepath.Join(dir, "j.xml"))...)
	assert.Equal(t, exitBreach, r.code)
	assert.Contains(t, r.stderr, "FAIL ttft_p95<=10s: not measured in this mode (the run's mode cannot measure ttft_p95)")
	doc := onlyDocument(t, dir)
	require.Len(t, doc.Gates, 2)
	assert.Equal(t, gate.Outcome{Gate: doc.Gates[0].Gate, NotMeasured: true}, doc.Gates[0])
	assert.True(t, doc.Gates[1].Pass)
	junit, err := os.ReadFile(filepath.Join(dir, "j.xml"))
	require.NoError(t, err)
	assert.Contains(t, string(junit), `<property name="batch.final_status" value="completed">`)
	assert.Contains(t, string(junit), "not measured in this mode: ttft_p95")
}

func TestBatchAPIUsageErrors(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"rate":            {[]string{"run", "--mode", "batch-api", "--rate", "5"}, "--mode batch-api: --rate and --sweep shape an online load"},
		"duration only":   {[]string{"run", "--mode", "batch-api", "--duration", "10s"}, "--mode batch-api: want --requests"},
		"warmup":          {[]string{"run", "--mode", "batch-api", "--warmup", "2"}, "--warmup has no meaning"},
		"poll":            {[]string{"run", "--mode", "batch-api", "--batch-poll", "0s"}, "--batch-poll 0s: want a positive interval"},
		"profile clash":   {[]string{"run", "--profile", "inngest-style", "--mode", "batch-api"}, "--mode batch-api, but --profile inngest-style is a profile of the online mode"},
		"shard":           {[]string{"run", "--mode", "batch-api", "--shard", "0/2", "--start-at", "2030-01-01T00:00:00Z", "--target", "http://127.0.0.1:9/v1"}, "--mode batch-api: --shard and --start-at split and time an online load"},
		"start-at":        {[]string{"run", "--mode", "batch-api", "--start-at", "2030-01-01T00:00:00Z"}, "--mode batch-api: --shard and --start-at split and time an online load"},
		"mode for matrix": {[]string{"matrix", "--mode", "batch-api"}, "--mode: matrix runs each profile in its own mode"},
		"unknown mode":    {[]string{"run", "--mode", "offline"}, "--mode=offline: enum value must be one of online,batch-api"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runInProcess(t, append(tt.args, "--results-dir", t.TempDir())...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tt.want)
		})
	}
}

// TestMatrixComparesBatchAPI runs the three profiles at two sizes: one
// table, the batch-api rows beside the online ones, with a makespan and a
// throughput and without TTFT.
func TestMatrixComparesBatchAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"matrix", "--sizes", "10,100", "--sim.zero-delay", "--input-tokens", "16", "--output-tokens", "4",
		"--batch-poll", "20ms", "--allow-saturated"}
	r := runInProcess(t, append(args, "--results-dir", dir)...)
	require.Equal(t, exitOK, r.code)
	assert.Equal(t, 1, strings.Count(r.stdout, "Benchmark Matrix"), "one table")
	for _, n := range []string{"10", "100"} {
		row := regexp.MustCompile(`(?m)^batch-api n=` + n + ` \[SIM\]\s+batch job\s+` + n + `\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)`).
			FindStringSubmatch(r.stdout)
		require.NotNil(t, row, "the batch-api row of size %s:\n%s", n, r.stdout)
		total, reqs, toks, ttft50, ttft95 := row[1], row[2], row[3], row[4], row[5]
		for _, v := range []string{total, reqs, toks} {
			assert.Regexp(t, `^[0-9]+\.[0-9]{2}$`, v, "makespan and throughputs are present")
		}
		assert.Equal(t, report.NA, ttft50)
		assert.Equal(t, report.NA, ttft95)
		for _, p := range []string{"high-parallelism", "inngest-style"} {
			assert.Regexp(t, `(?m)^`+p+` n=`+n+` \[SIM\]\s+concurrency`, r.stdout)
		}
	}
	profiles := map[string]int{}
	for _, p := range documents(t, dir) {
		doc := validDocument(t, p)
		profiles[doc.Profile]++
		if doc.Profile == profileBatchAPI {
			require.NotNil(t, doc.Batch)
			assert.NotNil(t, doc.Batch.MakespanS)
		}
	}
	assert.Equal(t, map[string]int{"high-parallelism": 2, "inngest-style": 2, "batch-api": 2}, profiles)

	js := runInProcess(t, append(args, "--format", "json", "--results-dir", t.TempDir())...)
	require.Equal(t, exitOK, js.code)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(js.stdout), &rows))
	batchRows := 0
	for _, row := range rows {
		if row["profile"] == profileBatchAPI {
			batchRows++
			assert.Nil(t, row["ttft_p50_ms"], "TTFT is null, not 0")
			assert.NotNil(t, row["makespan_s"])
			assert.NotNil(t, row["request_throughput"])
			assert.Equal(t, row["makespan_s"], row["duration_s"])
		} else {
			assert.NotContains(t, row, "makespan_s")
		}
	}
	assert.Equal(t, 2, batchRows)
}

// TestInterruptCancelsTheBatch sends SIGINT to the real process while its
// batch runs: the batch is cancelled on the server, the process exits 130
// and the document says interrupted, with the requests the batch never
// ran as canceled.
func TestInterruptCancelsTheBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, "run", "--mode", "batch-api", "--batch-poll", "20ms", "--requests", "200", "--input-tokens", "16",
		"--output-tokens", "32", "--ignore-eos", "--sim.decode-time", "20ms", "--sim.max-num-seqs", "4", "--results-dir", dir)
	p.waitStderr(t, regexp.MustCompile(`batch \S+ in_progress`), 30*time.Second)
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, exitInterrupted, p.wait(t, 30*time.Second))
	assert.Regexp(t, `batch \S+ (cancelling|cancelled)`, p.stderr.String())

	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	require.NotNil(t, doc.Batch)
	assert.Equal(t, "cancelled", doc.Batch.FinalStatus)
	assert.Positive(t, doc.Batch.Cancelled)
	assert.Equal(t, 200, doc.RecordCount)
	assert.Equal(t, doc.Batch.Cancelled, doc.Summary.ErrorsByClass[bencher.ErrCanceled])
	assert.Contains(t, p.stdout.String(), "INTERRUPTED")
}

// batchCompleted matches the live count of a batch's completed requests.
var batchCompleted = regexp.MustCompile(`bencher_batch_requests_completed\{profile="[^"]+",run_id="[^"]+"\} (\d+)\n`)

// TestLiveMetricsDuringABatchRun scrapes --metrics-listen while the real
// binary's batch runs: the completed count, the server's, rises before the
// batch ends, and the batch run has no per-request series.
func TestLiveMetricsDuringABatchRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, "run", "--mode", "batch-api", "--batch-poll", "20ms", "--requests", "200", "--input-tokens", "16",
		"--output-tokens", "32", "--ignore-eos", "--sim.decode-time", "20ms", "--sim.max-num-seqs", "4", "--results-dir", dir,
		"--metrics-listen", "127.0.0.1:0")
	url := p.waitStderr(t, metricsAddr, 20*time.Second)
	completed := func(body []byte) int {
		m := batchCompleted.FindSubmatch(body)
		if m == nil {
			return -1
		}
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		return n
	}
	var body []byte
	first := 0
	require.Eventually(t, func() bool {
		body = get(t, url)
		first = completed(body)
		return first > 0
	}, 30*time.Second, 20*time.Millisecond, "no completed request counted during the batch")
	require.Eventually(t, func() bool {
		body = get(t, url)
		return completed(body) > first
	}, 30*time.Second, 20*time.Millisecond, "the completed count did not rise during the batch")
	select {
	case <-p.exited:
		t.Fatal("the batch was over before the scrapes: make it longer")
	default:
	}
	assert.Less(t, completed(body), 200)
	text := string(body)
	assert.Regexp(t, `bencher_batch_requests\{profile="custom-batch-in16-out32",run_id="[^"]+"\} 200\n`, text)
	assert.Regexp(t, `bencher_batch_status\{profile="[^"]+",run_id="[^"]+",status="in_progress"\} 1\n`, text)
	assert.Contains(t, text, `bencher_run_info{api="completions",mode="batch_api",model="benchstation/sim-1b"`)
	for _, absent := range []string{"bencher_requests_total", "bencher_requests_in_flight", "bencher_time_to_first_token_seconds",
		"bencher_output_tokens_total"} {
		assert.NotContains(t, text, absent+"{", "a batch has no per-request series while it runs")
	}
	checkBoundedLabels(t, body)
	promtoolLint(t, body)
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, exitInterrupted, p.wait(t, 30*time.Second))
}

// TestBatchAPIDurationBoundsTheJob gives a batch less time than it needs:
// it is cancelled, and the run fails saying why.
func TestBatchAPIDurationBoundsTheJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, "run", "--mode", "batch-api", "--batch-poll", "20ms", "--requests", "200", "--input-tokens", "16",
		"--output-tokens", "32", "--ignore-eos", "--sim.decode-time", "20ms", "--sim.max-num-seqs", "4",
		"--duration", "300ms", "--results-dir", dir)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "the batch had not ended after --duration 300ms; it was cancelled")
	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusFailed, doc.Status)
	assert.Equal(t, "cancelled", doc.Batch.FinalStatus)
}

// TestBatchAPIAgainstATargetWithoutIt names the missing endpoint.
func TestBatchAPIAgainstATargetWithoutIt(t *testing.T) {
	t.Parallel()
	target := onlineOnlyTarget(t)
	dir := t.TempDir()
	r := runInProcess(t, "run", "--mode", "batch-api", "--target", target, "--requests", "2", "--results-dir", dir)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "batch API POST /v1/files: HTTP 404 Not Found")
	assert.Contains(t, r.stderr, "the target serves no Batch API")
	assert.Equal(t, results.StatusFailed, onlyDocument(t, dir).Status)
}

// onlineOnlyTarget serves an OpenAI server without a Batch API: it lists a
// model and answers 404 to everything else, as vLLM's serve does.
func onlineOnlyTarget(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/models" {
			fmt.Fprint(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"Not Found"}`)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/v1"
}

// A matrix of the default profiles against a server without a Batch API
// leaves batch-api out, saying so, instead of ending with runs that all
// failed; named in --profiles, it is run, and fails saying why.
func TestMatrixLeavesOutAMissingBatchAPI(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.WithZeroDelay(), sim.WithModel("m"))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/files") || strings.HasPrefix(r.URL.Path, "/v1/batches") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"detail":"Not Found"}`)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	dir := t.TempDir()
	r := runInProcess(t, "matrix", "--target", ts.URL+"/v1", "--sizes", "2", "--results-dir", dir, "--allow-saturated")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "bencher: the target serves no Batch API (GET "+ts.URL+"/v1/batches?limit=1 answered 404 Not Found): "+
		"the matrix leaves out the batch-api profile")
	assert.Contains(t, r.stdout, "high-parallelism n=2")
	assert.Contains(t, r.stdout, "inngest-style n=2")
	assert.NotContains(t, r.stdout, "batch-api")
	assert.Len(t, documents(t, dir), 2)

	dir = t.TempDir()
	r = runInProcess(t, "matrix", "--target", ts.URL+"/v1", "--sizes", "2", "--results-dir", dir, "--allow-saturated",
		"--profiles", "high-parallelism,batch-api")
	assert.Equal(t, exitError, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "leaves out")
	assert.Contains(t, r.stderr, "the target serves no Batch API: leave out --mode batch-api, or the batch-api profile")
}
