package stacktest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/promtest"
	"github.com/benchstation/benchstation/internal/testkit"
)

// Limits of the end-to-end test's phases.
const (
	e2eStackTimeout = 45 * time.Second // from the processes' start until the stack is ready
	e2eDataTimeout  = 10 * time.Second // more time for an expression that returned no data
)

// localTarget is where the end-to-end test scrapes a job of the
// repository's prometheus.yml: a loopback address and, where it differs
// from the job's, the metrics path.
type localTarget struct {
	addr string
	path string
	// more are further addresses of the same job (a second GPU host).
	more []string
}

// TestStackEndToEnd is the stack's end-to-end check. It builds the exporter
// and the bencher, and starts on loopback ports: the vLLM simulator
// (`bencher sim`, job "vllm"), two exporters under job
// "benchstation-exporter" (startSimStack): one simulating a DGX H100 (8
// GPUs) and polling the Batch API of a second simulator that runs one
// batch, the other a DGX A100 (8 GPUs), a short `bencher run` against the simulator
// serving live metrics (job "bencher"), and the real Prometheus with the
// repository's prometheus.yml and rules, its targets moved to those ports
// and its intervals cut to 1 s (job "prometheus" is itself). Once every
// target is up, the bencher run has been scraped and every recording rule
// has been evaluated twice with data, it evaluates every PromQL expression
// of the dashboards and alert rules (stackExprs) through Prometheus's HTTP
// API: each must succeed and, unless event-only, return data. Then each
// per-GPU panel query must return series for every GPU of both hosts,
// each naming its host and GPU under its own legend (checkPerGPUSeries),
// and each query of the old workstation (oldQueries) must return data in
// its old units (checkOldQueries). Last, once the batch has completed on
// its simulator, Prometheus must show the exporter's series of it with the
// simulator's status, model and counts, and have seen it in progress with
// its completed requests rising (checkStackBatch).
//
// It logs two figures, "figure: e2e wall time" and "figure: head series".
func TestStackEndToEnd(t *testing.T) {
	t.Parallel()
	start := time.Now()
	t.Cleanup(func() { // runs last, after every process is stopped
		t.Logf("figure: e2e wall time %.1fs (whole test: builds, start-up, queries and shutdown)", time.Since(start).Seconds())
	})
	promBinary(t) // skips before the builds where there is no Prometheus
	root := repoRoot(t)
	dir := t.TempDir()

	// A job without a stand-in fails before the builds.
	loopbackConfig(t, root, map[string]localTarget{"vllm": {}, "benchstation-exporter": {}, "bencher": {}, "prometheus": {}})

	// Built as the packages' own binary tests build them, to share the
	// build cache: the bencher with -race under -race, the exporter without.
	bins := buildBinaries(t, root, dir, map[string][]string{
		"bencher":  raceFlag("./bencher/cmd/bencher"),
		"exporter": {"./exporter/cmd/benchstation-exporter"},
	})
	built := time.Now()

	// Two GPU hosts of different models, under one job: every per-GPU
	// panel must keep their GPUs apart.
	bencherAddr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	stack := startSimStack(t, root, dir, bins, localTarget{addr: bencherAddr, path: "/metrics"}, e2eHosts...)
	prom := stack.prom
	run := startProcess(t, "bencher run", bins["bencher"], "run", "--target", "http://"+stack.simAddr+"/v1",
		"--name", "stack-e2e", "--duration", "8s", "--concurrency", "4", "--input-tokens", "128", "--output-tokens", "32",
		"--metrics-listen", bencherAddr, "--metrics-linger", "3m", "--results-dir", filepath.Join(dir, "results"),
		"--progress", "never")
	// While it lingers the bencher sleeps through SIGINT; its document is
	// written by then, so it is killed soon after.
	run.grace = time.Second
	waitHTTP(t, "http://"+bencherAddr+"/metrics", 20*time.Second, run)

	waitStackReady(t, prom, stack.targets)
	ready := time.Now()

	exprs := stackExprs(t)
	failures := evaluate(t, prom, exprs)
	evaluated := time.Now()
	if len(failures) > 0 {
		t.Errorf("%d of %d expressions failed:\n%s", len(failures), len(exprs), strings.Join(failures, "\n"))
	}
	checkPerGPUSeries(t, prom, exprs, len(e2eHosts))
	checkOldQueries(t, prom)
	checkStackBatch(t, prom, stack.batch)

	logSeriesFigures(t, prom)
	t.Logf("figure: e2e phases: builds %.1fs, stack ready %.1fs later, %d expressions evaluated in %.1fs",
		built.Sub(start).Seconds(), ready.Sub(built).Seconds(), len(exprs), evaluated.Sub(ready).Seconds())
}

// e2eBatchKey is the key the exporter sends to the Batch API (a test
// value; the simulator accepts any).
const e2eBatchKey = "sk-e2e-test-batch-key"

// loopbackConfig returns the repository's prometheus.yml adapted to the
// test: every job and its settings kept, but its targets and service
// discovery replaced by one static target on loopback (and its metrics
// path where the local stand-in serves another), scrape and evaluation
// intervals of 1 s, and rule_files pointed at the repository's rules. A job
// without a local stand-in, or a stand-in without a job, fails the test,
// so a job added to prometheus.yml cannot be left out silently.
func loopbackConfig(t *testing.T, root string, targets map[string]localTarget) map[string]any {
	t.Helper()
	cfg := loadPrometheusConfig(t, root)
	localRuleFiles(t, root, cfg)
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		cfg["global"] = global
	}
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	if _, ok := global["scrape_timeout"]; ok {
		global["scrape_timeout"] = "1s"
	}
	configs, _ := cfg["scrape_configs"].([]any)
	seen := map[string]bool{}
	for i, c := range configs {
		sc, ok := c.(map[string]any)
		require.True(t, ok, "scrape_configs[%d] is not a mapping", i)
		job, _ := sc["job_name"].(string)
		local, ok := targets[job]
		if !ok {
			t.Errorf("job %q of %s has no local stand-in in TestStackEndToEnd: start one and add it to the test's targets", job, prometheusConfigPath)
			continue
		}
		seen[job] = true
		for k := range sc {
			if k == "static_configs" || strings.HasSuffix(k, "_sd_configs") {
				delete(sc, k)
			}
		}
		addrs := []any{local.addr}
		for _, a := range local.more {
			addrs = append(addrs, a)
		}
		sc["static_configs"] = []any{map[string]any{"targets": addrs}}
		if local.path != "" {
			sc["metrics_path"] = local.path
		}
		for _, k := range []string{"scrape_interval", "scrape_timeout"} {
			if _, ok := sc[k]; ok {
				sc[k] = "1s"
			}
		}
	}
	for job := range targets {
		if !seen[job] {
			t.Errorf("TestStackEndToEnd has a stand-in for job %q, which %s lacks", job, prometheusConfigPath)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return cfg
}

// raceFlag returns the go build arguments of pkg, with -race when the
// tests run with it.
func raceFlag(pkg string) []string {
	if e2eRace {
		return []string{"-race", pkg}
	}
	return []string{pkg}
}

// buildBinaries runs the go builds (name → build arguments, the package
// last, relative to the repository root) concurrently into dir and returns
// the executables' paths by name.
func buildBinaries(t *testing.T, root, dir string, builds map[string][]string) map[string]string {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
		out  = map[string]string{}
	)
	for name, args := range builds {
		bin := filepath.Join(dir, name)
		out[name] = bin
		wg.Go(func() {
			cmd := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
			cmd.Dir = root
			// As the exporter's own tests build it, so that they share the build cache.
			cmd.Env = append(os.Environ(), "CGO_CFLAGS=-O2 -Wno-deprecated-declarations")
			if b, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("go build %s: %v\n%s", strings.Join(args, " "), err, b))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	return out
}

// httpClient is the client of the readiness checks.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// process is a started executable, with its combined output.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *testkit.Buffer
	exited chan struct{}
	// grace is how long the process may take to exit after SIGINT when
	// the test ends, before it is killed.
	grace time.Duration
}

// startProcess starts bin with args. When the test ends the process gets
// SIGINT (SIGKILL p.grace, 10 s by default, later), and its output is logged if the test failed.
func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &testkit.Buffer{}, exited: make(chan struct{}),
		grace: 10 * time.Second}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start(), "starting %s", name)
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.exited:
			case <-time.After(p.grace):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s output (last 4 KiB):\n%s", name, tail(p.out.String(), 4096))
		}
	})
	return p
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// waitHTTP waits until url answers 200, failing at once if p exits.
func waitHTTP(t *testing.T, url string, timeout time.Duration, p *process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited (%s) before %s answered:\n%s", p.name, p.cmd.ProcessState, url, tail(p.out.String(), 4096))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (last error: %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStackReady waits until every target is up (jobs lists each
// target's job, sorted: a job of two targets twice), the bencher run has
// been scraped at least three times, the exporter has polled the Batch API,
// and every recording rule Prometheus loaded has produced at least two
// samples (so, been evaluated at least twice with data).
func waitStackReady(t *testing.T, prom *promtest.Server, jobs []string) {
	t.Helper()
	records := slices.Sorted(maps.Keys(ruleHealth(t, prom)))
	require.NotEmpty(t, records, "Prometheus loaded no rules")
	ctx, cancel := context.WithTimeout(context.Background(), e2eStackTimeout)
	defer cancel()
	conditions := []struct {
		what string
		ok   func() (bool, string)
	}{
		{"every target up", func() (bool, string) {
			got, err := prom.Query(ctx, "up")
			if err != nil {
				return false, err.Error()
			}
			var up []string
			for _, s := range got {
				if s.Value == "1" {
					up = append(up, s.Metric["job"])
				}
			}
			slices.Sort(up)
			return slices.Equal(up, jobs), fmt.Sprintf("jobs up: %v, want %v", up, jobs)
		}},
		{"the bencher run scraped 3 times", atLeast(ctx, prom, `sum_over_time(up{job="bencher"}[1m]) and on () count({job="bencher", __name__=~"bencher_.+"}) > 0`, 3)},
		{"the exporter polled the Batch API", atLeast(ctx, prom, `benchstation_batch_poll_success{job="benchstation-exporter"}`, 1)},
	}
	for _, r := range records {
		conditions = append(conditions, struct {
			what string
			ok   func() (bool, string)
		}{"recording rule " + r + " evaluated twice with data", atLeast(ctx, prom, "count_over_time("+r+"[1m])", 2)})
	}
	for _, c := range conditions {
		for {
			ok, detail := c.ok()
			if ok {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the stack was not ready after %s: %s not met (%s)", e2eStackTimeout, c.what, detail)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// atLeast returns a condition: q returns data, and its smallest value is at
// least want.
func atLeast(ctx context.Context, prom *promtest.Server, q string, want float64) func() (bool, string) {
	return func() (bool, string) {
		got, err := prom.Query(ctx, q)
		if err != nil {
			return false, err.Error()
		}
		if len(got) == 0 {
			return false, q + ": no data"
		}
		for _, s := range got {
			v, err := strconv.ParseFloat(s.Value, 64)
			if err != nil || v < want {
				return false, fmt.Sprintf("%s: %s for %v", q, s.Value, s.Metric)
			}
		}
		return true, ""
	}
}

// evaluate runs every expression through Prometheus's query API and returns
// one line per failure: a query error, or no data from an expression that
// is not event-only (after retrying for e2eDataTimeout, as a series may be
// a scrape or an evaluation late).
func evaluate(t *testing.T, prom *promtest.Server, exprs []Expr) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eDataTimeout+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(e2eDataTimeout)
	pending := slices.Clone(exprs)
	var failures []string
	for len(pending) > 0 {
		var empty []Expr
		for _, e := range pending {
			got, err := prom.Query(ctx, e.Query)
			switch {
			case err != nil:
				failures = append(failures, fmt.Sprintf("  %s: %s\n    error: %v", e.Where, e.Query, err))
			case len(got) == 0 && !e.EventOnly:
				empty = append(empty, e)
			}
		}
		if len(empty) == 0 || time.Now().After(deadline) {
			for _, e := range empty {
				failures = append(failures, fmt.Sprintf("  %s: %s\n    no data (mark it EventOnly if it only has data after an event)", e.Where, e.Query))
			}
			break
		}
		pending = empty
		time.Sleep(500 * time.Millisecond)
	}
	sort.Strings(failures)
	return failures
}

// logSeriesFigures logs Prometheus's series count: the series with a
// current sample, by job, and the TSDB head's count.
func logSeriesFigures(t *testing.T, prom *promtest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	one := func(q string) string {
		got, err := prom.Query(ctx, q)
		if err != nil || len(got) != 1 {
			return fmt.Sprintf("? (%v, %d results)", err, len(got))
		}
		return got[0].Value
	}
	total := one(`count({__name__=~".+"})`)
	head := one(`prometheus_tsdb_head_series{job="prometheus"}`)
	byJob, err := prom.Query(ctx, `count by (job) ({__name__=~".+"})`)
	var parts []string
	if err == nil {
		for _, s := range byJob {
			parts = append(parts, s.Metric["job"]+"="+s.Value)
		}
		slices.Sort(parts)
	}
	scraped := one(`count({job=~"benchstation-exporter|vllm", __name__!~"instance_model:.+"})`)
	recorded := one(`count({__name__=~"instance_model:.+"})`)
	t.Logf("figure: head series %s current series (prometheus_tsdb_head_series %s) for %d simulated 8-GPU hosts (%s; batch jobs on the first), the vLLM simulator, one bencher run and Prometheus itself; by job: %s",
		total, head, len(e2eHosts), strings.Join(e2eHosts, ", "), strings.Join(parts, ", "))
	t.Logf("figure: the simulated 8-GPU hosts and the simulator alone: %s scraped series, plus %s from the vLLM recording rules",
		scraped, recorded)
}
