package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/testkit"
)

func TestRunFormatJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, fast(dir, "--format", "json", "--api", "chat")...)
	require.Equal(t, exitOK, r.code)
	var h results.Header
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &h), "stdout is one JSON document:\n%s", r.stdout)
	assert.True(t, h.Environment.Simulated)
	assert.Equal(t, 20, h.Summary.Succeeded)
	assert.Equal(t, onlyDocument(t, dir).ID, h.ID)
}

func TestRunMarkdown(t *testing.T) {
	t.Parallel()
	r := runInProcess(t, fast(t.TempDir(), "--format", "markdown")...)
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "|")
	assert.Contains(t, strings.ToUpper(r.stdout), "SIMULATED")
}

func TestSLOGates(t *testing.T) {
	t.Parallel()
	t.Run("breach exits 3 and names the gate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := runInProcess(t, fast(dir, "--slo", "success_rate>=0.5,ttft_p95<=1us")...)
		assert.Equal(t, exitBreach, r.code)
		assert.Contains(t, r.stderr, "SLO gate breached")
		assert.Contains(t, r.stderr, "FAIL ttft_p95<=1us")
		assert.NotContains(t, r.stderr, "success_rate>=0.5:", "a passing gate is not a breach")
		doc := onlyDocument(t, dir)
		require.Len(t, doc.Gates, 2)
	})
	t.Run("pass exits 0", func(t *testing.T) {
		t.Parallel()
		r := runInProcess(t, fast(t.TempDir(), "--slo", "success_rate>=0.99, ttft_p95<=30s", "--request-slo", "ttft<=10s")...)
		assert.Equal(t, exitOK, r.code)
		assert.Contains(t, r.stdout, "Goodput")
	})
}

// TestUsageErrors checks that bad input exits 2 with a message naming the
// problem, before anything runs.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	bad := filepath.Join(data, "prompts.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("{\"prompt\": \"hello\"}\n\n{\"prompt\": 3}\n"), 0o644))
	good := filepath.Join(data, "good.jsonl")
	require.NoError(t, os.WriteFile(good, []byte("{\"prompt\": \"hello\"}\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "a command is needed"},
		{"unknown flag", []string{"run", "--bogus"}, "unknown long flag '--bogus'"},
		{"unknown command", []string{"bench"}, "expected command but got \"bench\""},
		{"malformed slo", []string{"run", "--slo", "ttft_p95<="}, "--slo: invalid gate"},
		{"unknown slo value", []string{"run", "--slo", "tfft_p95<=500ms"}, `unknown value "tfft_p95"`},
		{"malformed request slo", []string{"run", "--request-slo", "ttft_p95<=500ms"}, "--request-slo"},
		{"bad dataset line", []string{"run", "--dataset", bad}, bad + ":3:"},
		{"missing dataset", []string{"run", "--dataset", filepath.Join(data, "none.jsonl")}, "none.jsonl"},
		{"dataset and batch", []string{"run", "--dataset", good, "--batch-file", good}, "exclude each other"},
		{"bad length", []string{"run", "--input-tokens", "9:5"}, "low 9 is above high 5"},
		{"bad header", []string{"run", "--header", "no colon"}, "--header"},
		{"bad label", []string{"run", "--label", "novalue"}, "--label"},
		{"bad sweep", []string{"run", "--sweep", "1,x"}, "--sweep"},
		{"fractional sweep", []string{"run", "--sweep", "1.5"}, "whole number"},
		{"unknown profile", []string{"run", "--profile", "fast"}, "enum value must be one of"},
		{"bad concurrency", []string{"run", "--concurrency=-3"}, "concurrency -3"},
		{"bad target", []string{"run", "--target", "ftp://x/v1"}, "ftp"},
		{"bad max error rate", []string{"run", "--max-error-rate", "2"}, "max error rate"},
		{"bad format", []string{"run", "--format", "xml"}, "--format=xml: enum value must be one of"},
		{"bad number", []string{"run", "--rate", "fast"}, `--rate=fast: strconv.ParseFloat: parsing "fast"`},
		{"bad matrix profiles", []string{"matrix", "--profiles", "x"}, `unknown profile "x"`},
		{"bad matrix sizes", []string{"matrix", "--sizes", "0"}, "--sizes"},
		{"bad threshold", []string{"compare", "--threshold", "ttft_p95=10", good, good}, "--threshold"},
		{"key file missing", []string{"run", "--api-key-file", filepath.Join(data, "nokey")}, "--api-key-file"},
		{"bad prometheus url", []string{"run", "--prometheus-url", "prometheus:9090"}, "--prometheus-url: serverside: invalid Prometheus URL"},
		{"bad prometheus selector", []string{"matrix", "--prometheus-url", "http://p:9090", "--prometheus-gpu-selector", "gpu=0"},
			`--prometheus-gpu-selector: serverside: invalid selector "gpu=0"`},
		{"selector without prometheus", []string{"run", "--prometheus-selector", `job="x"`}, "--prometheus-selector needs --prometheus-url"},
		{"report of no document", []string{"report", good}, "good.jsonl"},
		{"bad batch share", []string{"sim", "--batch-share", "1.5"}, "--batch-share 1.5: the share must be above 0 and at most 1"},
		{"bad batch share of run", []string{"run", "--sim.batch-share", "0"}, "--sim.batch-share 0: the share must be above 0 and at most 1"},
		{"bad batch limit", []string{"sim", "--batch-max-files", "0"}, "--batch-max-files 0: the limit must be at least 1"},
		{"bad batch window", []string{"sim", "--batch-completion-window", "0s"}, "--batch-completion-window 0s: the window must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := tt.args
			if len(args) > 0 && (args[0] == "run" || args[0] == "matrix") {
				args = append(args, "--results-dir", filepath.Join(dir, "results"))
			}
			r := runInProcess(t, args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, tt.want)
			assert.NotContains(t, r.stderr, "SIMULATOR", "nothing ran")
			assert.NoDirExists(t, filepath.Join(dir, "results"), "no document")
		})
	}
}

// TestTargetNotOpenAI checks that a target that does not speak the OpenAI
// API fails fast with exit 1 and writes nothing.
func TestTargetNotOpenAI(t *testing.T) {
	t.Parallel()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>Not here</body></html>"))
	}))
	t.Cleanup(html.Close)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Welcome</body></html>"))
	}))
	t.Cleanup(page.Close)
	tests := []struct {
		name, target string
		want         []string
	}{
		{"404 HTML", html.URL + "/v1", []string{"does not answer as an OpenAI-compatible server", "404 Not Found (an HTML page)"}},
		{"200 HTML", page.URL + "/v1", []string{"does not answer as an OpenAI-compatible server", "not an OpenAI model list"}},
		{"no /v1", html.URL, []string{"is /v1 missing"}},
		{"unreachable", "http://" + testkit.RefusingAddr(t) + "/v1", []string{"cannot reach the target", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := runInProcess(t, "run", "--target", tt.target, "--results-dir", dir, "--requests", "5")
			assert.Equal(t, exitError, r.code)
			for _, w := range tt.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.Empty(t, r.stdout, "no result presented")
			assert.Empty(t, documents(t, dir))
		})
	}
}

// TestRunAgainstTarget runs against a simulator behind a key check: the key
// comes from the key file, the headers are sent, the model is detected.
func TestRunAgainstTarget(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.WithZeroDelay(), sim.WithModel("org/m"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-test" || r.Header.Get("X-Team") != "bench" {
			http.Error(w, `{"error":{"message":"bad key"}}`, http.StatusUnauthorized)
			return
		}
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()
	key := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(key, []byte("sk-test\n"), 0o600))
	dir := t.TempDir()
	r := runInProcess(t, "run", "--target", srv.URL+"/v1", "--api-key-file", key, "--header", "X-Team: bench",
		"--requests", "12", "--concurrency", "3", "--output-tokens", "3", "--input-tokens", "8", "--results-dir", dir)
	require.Equal(t, exitOK, r.code)
	doc := onlyDocument(t, dir)
	assert.Equal(t, "org/m", doc.Environment.Model)
	assert.Equal(t, sim.Version, doc.Environment.ServerVersion)
	assert.Equal(t, 12, doc.Summary.Succeeded)
	raw, err := os.ReadFile(documents(t, dir)[0])
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "sk-test", "the key is never written")

	r = runInProcess(t, "run", "--target", srv.URL+"/v1", "--results-dir", t.TempDir())
	assert.Equal(t, exitError, r.code, "without the key")
	assert.Contains(t, r.stderr, "401 Unauthorized: bad key")
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args                 []string
		concurrency, retries int
		profile              string
	}{
		{[]string{"--profile", "high-parallelism"}, 50, 0, "high-parallelism"},
		{[]string{"--profile", "inngest-style"}, 10, 5, "inngest-style"},
		{[]string{"--profile", "inngest-style", "--concurrency", "3", "--retries", "1"}, 3, 1, "inngest-style"},
		// A custom load is stored under a key derived from it, as the plugin stores it.
		{nil, defaultConcurrency, 0, fmt.Sprintf("custom-c%d-in4-out2", defaultConcurrency)},
		{[]string{"--concurrency", "3"}, 3, 0, "custom-c3-in4-out2"},
		{[]string{"--rate", "50", "--concurrency", "2"}, 2, 0, "custom-r50-c2-in4-out2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"run", "--sim.zero-delay", "--requests", "5", "--output-tokens", "2", "--input-tokens", "4",
				"--results-dir", dir}, tt.args...)
			require.Equal(t, exitOK, runInProcess(t, args...).code)
			doc := onlyDocument(t, dir)
			assert.Equal(t, tt.concurrency, doc.Config.Run.Concurrency)
			assert.Equal(t, tt.retries, doc.Config.Run.Retries)
			assert.Equal(t, tt.profile, doc.Profile)
		})
	}
}

func TestMatrix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, "matrix", "--sim.zero-delay", "--sizes", "3,6", "--output-tokens", "2", "--input-tokens", "4", "--results-dir", dir)
	require.Equal(t, exitOK, r.code)
	for _, want := range []string{"high-parallelism n=3", "high-parallelism n=6", "inngest-style n=3", "inngest-style n=6",
		"batch-api n=3", "batch-api n=6", "Total time (s)", "E2EL p50 (ms)", "E2EL p95 (ms)", "Success", "[SIM]"} {
		assert.Contains(t, r.stdout, want)
	}
	paths := documents(t, dir)
	require.Len(t, paths, 6, "one document per run")
	matrix := ""
	for _, p := range paths {
		doc := validDocument(t, p)
		assert.Contains(t, []string{"high-parallelism", "inngest-style", "batch-api"}, doc.Profile)
		if matrix == "" {
			matrix = doc.Labels["matrix"]
		}
		assert.Equal(t, matrix, doc.Labels["matrix"], "the runs of a matrix share a label")
	}
	assert.NotEmpty(t, matrix)
}

func TestSweep(t *testing.T) {
	t.Parallel()
	t.Run("concurrency", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := runInProcess(t, fast(dir, "--sweep", "1,2,8")...)
		require.Equal(t, exitOK, r.code)
		assert.Contains(t, r.stdout, "Throughput vs Latency")
		for _, c := range []string{"concurrency 1", "concurrency 2", "concurrency 8"} {
			assert.Contains(t, r.stdout, c)
		}
		assert.Contains(t, r.stdout, "SIMULATED")
		conc := map[int]bool{}
		for _, p := range documents(t, dir) {
			conc[validDocument(t, p).Config.Run.Concurrency] = true
		}
		assert.Equal(t, map[int]bool{1: true, 2: true, 8: true}, conc)
	})
	t.Run("rate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := runInProcess(t, fast(dir, "--rate", "1000", "--sweep", "400,800", "--format", "json")...)
		require.Equal(t, exitOK, r.code)
		var rows []report.SweepRow
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows), r.stdout)
		require.Len(t, rows, 2)
		assert.Equal(t, 400.0, rows[0].Level)
		assert.Equal(t, 800.0, rows[1].Level)
		assert.Len(t, documents(t, dir), 2)
	})
}

// TestCompareAndReport makes a base run and a slower new run, compares
// them (a regression: exit 3) and renders a document again.
func TestCompareAndReport(t *testing.T) {
	t.Parallel()
	baseDir, newDir := t.TempDir(), t.TempDir()
	require.Equal(t, exitOK, runInProcess(t, fast(baseDir)...).code)
	require.Equal(t, exitOK, runInProcess(t, fast(newDir, "--no-sim.zero-delay", "--sim.decode-time", "3ms")...).code)
	base, cur := documents(t, baseDir)[0], documents(t, newDir)[0]

	r := runInProcess(t, "compare", base, cur)
	assert.Equal(t, exitBreach, r.code, "a slower run is a regression")
	assert.Contains(t, r.stderr, "regression")
	assert.Contains(t, r.stdout, "ttft_p95")

	r = runInProcess(t, "compare", base, base, "--format", "json")
	assert.Equal(t, exitOK, r.code, "a run is no regression of itself")
	var c report.Comparison
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
	assert.False(t, c.Regressed)

	r = runInProcess(t, "compare", base, cur, "--threshold", "success_rate=-1%")
	assert.Equal(t, exitOK, r.code, "only the thresholds given count")

	r = runInProcess(t, "report", base)
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Serving Benchmark Result")
	assert.Contains(t, r.stdout, strings.TrimSuffix(filepath.Base(base), results.Ext))
	r = runInProcess(t, "report", "--format", "json", cur)
	require.Equal(t, exitOK, r.code)
	assert.True(t, json.Valid([]byte(r.stdout)))
	r = runInProcess(t, "report", "--format", "junit", base, cur)
	require.Equal(t, exitOK, r.code)
	var suites report.JUnitSuites
	require.NoError(t, xml.Unmarshal([]byte(r.stdout), &suites))
	assert.Len(t, suites.Suites, 2)
}

func TestJUnitFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")
	r := runInProcess(t, fast(filepath.Join(dir, "results"), "--junit", junit, "--slo", "success_rate>=0.9,ttft_p99<=1us")...)
	require.Equal(t, exitBreach, r.code)
	raw, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites report.JUnitSuites
	require.NoError(t, xml.Unmarshal(raw, &suites), "%s", raw)
	require.Len(t, suites.Suites, 1)
	assert.Equal(t, 1, suites.Failures, "the breached gate")
	assert.Equal(t, 3, suites.Tests, "run completed and two gates")
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	r := runInProcess(t, fast(t.TempDir(), "--no-sim.zero-delay", "--sim.decode-time", "5ms", "--requests", "40",
		"--output-tokens", "8", "--progress", "always")...)
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "\r[", "drawn when asked for")
	assert.Contains(t, r.stderr, "req/s")
	assert.Contains(t, r.stderr, "\r\x1b[K", "erased at the end")

	r = runInProcess(t, fast(t.TempDir())...)
	require.Equal(t, exitOK, r.code)
	assert.NotContains(t, r.stderr, "\r", "stderr is not a terminal: no progress line")
	assert.NotContains(t, r.stderr, "\x1b[")
}

func TestWorkloadFiles(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	prompts := filepath.Join(data, "prompts.jsonl")
	require.NoError(t, os.WriteFile(prompts, []byte(`{"prompt":"one two three","max_tokens":3}
{"messages":[{"role":"user","content":"hello there"}]}
`), 0o644))
	batch := filepath.Join(data, "batch.jsonl")
	require.NoError(t, os.WriteFile(batch, []byte(`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}}
{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"yo"}],"max_tokens":2}}
`), 0o644))
	t.Run("dataset", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := runInProcess(t, "run", "--sim.zero-delay", "--api", "chat", "--dataset", prompts, "--output-tokens", "2", "--results-dir", dir)
		require.Equal(t, exitOK, r.code)
		doc := onlyDocument(t, dir)
		assert.Equal(t, results.SourceJSONL, doc.Config.Workload.Source)
		assert.Equal(t, 2, doc.Summary.Succeeded, "the file's length")
	})
	t.Run("batch", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := runInProcess(t, "run", "--sim.zero-delay", "--batch-file", batch, "--requests", "5", "--results-dir", dir)
		require.Equal(t, exitOK, r.code)
		doc := onlyDocument(t, dir)
		assert.Equal(t, results.SourceBatch, doc.Config.Workload.Source)
		assert.Equal(t, "chat", string(doc.Config.Run.API), "from the file's url")
		assert.Equal(t, 5, doc.Summary.Succeeded, "cycled")
	})
	t.Run("batch against --api", func(t *testing.T) {
		t.Parallel()
		r := runInProcess(t, "run", "--api", "completions", "--batch-file", batch, "--results-dir", t.TempDir())
		assert.Equal(t, exitUsage, r.code)
		assert.Contains(t, r.stderr, "chat API")
	})
}

func TestMaxErrorRateFailsRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runInProcess(t, fast(dir, "--sim.fault.server-error", "1", "--max-error-rate", "0.5", "--concurrency", "1", "--requests", "60")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "failed")
	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusFailed, doc.Status)
	assert.Contains(t, r.stdout, "FAILED")
}

func TestNoSuccessIsAnError(t *testing.T) {
	t.Parallel()
	r := runInProcess(t, fast(t.TempDir(), "--sim.fault.server-error", "1")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "no request succeeded")
}

// TestInterruptBetweenRuns cancels a sweep during its first run: the run's
// document is marked interrupted, the later levels do not run, exit 130.
func TestInterruptBetweenRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	code := run(ctx, fast(dir, "--no-sim.zero-delay", "--sim.decode-time", "5ms", "--requests", "5000", "--sweep", "2,4"),
		&stdout, &stderr)
	assert.Equal(t, exitInterrupted, code, stderr.String())
	doc := onlyDocument(t, dir)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Equal(t, 2, doc.Config.Run.Concurrency)
}

func TestDurationRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"run", "--sim.zero-delay", "--duration", "300ms", "--concurrency", "2", "--input-tokens", "8",
		"--output-tokens", "2", "--results-dir", dir}
	r := runInProcess(t, args...)
	require.Equal(t, exitOK, r.code)
	doc := onlyDocument(t, dir)
	assert.Equal(t, bencher.StopDuration, doc.StopReason)
	assert.Greater(t, doc.Summary.Succeeded, 5)
}
