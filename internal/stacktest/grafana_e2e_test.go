package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/internal/promtest"
)

// The Grafana end-to-end suite's settings.
const (
	// e2eEnv switches the suite on; `go tool mage e2e` sets it after
	// building the plugin and installing the browser test's packages.
	e2eEnv = "BENCHSTATION_E2E"
	// pluginID is the bencher plugin's id.
	pluginID = "benchstation-bencher-datasource"
	// bencherUID is the provisioned bencher data source's uid.
	bencherUID = "benchstation-bencher"
	// grafanaPassword is the admin password grafana.sh gives Grafana.
	grafanaPassword = "admin-local-test"
	// e2eRunTimeout bounds each benchmark run the suite starts.
	e2eRunTimeout = 2 * time.Minute
	// playwrightTimeout bounds the browser tests.
	playwrightTimeout = 10 * time.Minute
)

// TestGrafanaEndToEnd runs the real Grafana 12.4 of ../shared/tools/grafana
// with the plugin as `go tool mage plugin` built it and the repository's
// provisioning (dashboards, data sources, alert rules, contact point),
// rewritten only for loopback addresses and temporary paths. Beside it: the
// vLLM simulator, the exporter simulating a DGX H100 and polling the Batch
// API of a second simulator running one batch, and a real Prometheus on the repository's prometheus.yml
// (job "bencher" scrapes the plugin through Grafana's
// /metrics/plugins/<id>). It starts two benchmark runs through the plugin's
// resource API (the second with outputs recorded), waits until Prometheus
// has scraped everything, and then runs the browser tests of
// grafana-plugin/e2e (Playwright with @grafana/plugin-e2e, in Debian's
// chromium): every panel of every dashboard draws, and the query editor
// starts a run and shows it live.
//
// E2E_HOLD=10m keeps the stack up that long before the browser tests, to
// look around. It runs only with BENCHSTATION_E2E=1 (`go tool mage e2e`, which .ci/run
// calls); it skips when ../shared/tools/grafana is absent. Screenshots of
// every dashboard are written to $E2E_OUTPUT_DIR (by default
// grafana-plugin/e2e-output): always for the dashboards, and Playwright's
// own on failure.
func TestGrafanaEndToEnd(t *testing.T) {
	if os.Getenv(e2eEnv) == "" {
		t.Skipf("the Grafana end-to-end suite runs with `go tool mage e2e` (it sets %s=1)", e2eEnv)
	}
	root := repoRoot(t)
	grafanaSh := filepath.Join(root, "..", "shared", "tools", "grafana", "grafana.sh")
	if p := os.Getenv("GRAFANA_SH"); p != "" {
		grafanaSh = p
	}
	if _, err := os.Stat(grafanaSh); err != nil {
		t.Skipf("no real Grafana here (%v): the suite needs ../shared/tools/grafana/grafana.sh beside the repository, or GRAFANA_SH", err)
	}
	chromium := e2eTool(t, "CHROMIUM_PATH", "chromium", "install it with `apt-get install -y chromium`")
	playwright := filepath.Join(root, "grafana-plugin", "node_modules", ".bin", "playwright")
	if _, err := os.Stat(playwright); err != nil {
		t.Fatalf("%s is missing: run `npm --prefix grafana-plugin ci` (go tool mage e2e does)", playwright)
	}
	dist := filepath.Join(root, "grafana-plugin", "dist")
	for _, f := range []string{"module.js", "plugin.json", "gpx_bencher_linux_" + runtime.GOARCH} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Fatalf("the plugin is not built (%v): run `go tool mage plugin` (go tool mage e2e does)", err)
		}
	}
	promBinary(t)
	dir := t.TempDir()
	start := time.Now()

	bins := buildBinaries(t, root, dir, map[string][]string{
		"bencher":  {"./bencher/cmd/bencher"},
		"exporter": {"./exporter/cmd/benchstation-exporter"},
	})

	grafanaAddr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	stack := startSimStack(t, root, dir, bins, localTarget{addr: grafanaAddr, path: "/metrics/plugins/" + pluginID}, "dgxh100")
	prom, simAddr, promAddr := stack.prom, stack.simAddr, stack.promAddr

	results := filepath.Join(dir, "results") // a volume in the compose stack: there before Grafana
	require.NoError(t, os.MkdirAll(results, 0o755))
	hook := newAlertHook(t)
	g := startGrafana(t, grafanaSh, root, dir, grafanaAddr, map[string]string{
		"prometheus": "http://" + promAddr,
		"sim":        "http://" + simAddr + "/v1",
		"results":    results,
		"webhook":    hook.URL,
	})
	t.Logf("figure: Grafana ready %.1fs after the suite started", time.Since(start).Seconds())

	health := g.getJSON(t, "/api/datasources/uid/"+bencherUID+"/health")
	require.Equal(t, "OK", health["status"], "the bencher data source's health: %v", health)

	out := os.Getenv("E2E_OUTPUT_DIR")
	if out == "" {
		out = filepath.Join(root, "grafana-plugin", "e2e-output")
	}
	require.NoError(t, os.RemoveAll(out))
	require.NoError(t, os.MkdirAll(out, 0o755))
	pwEnv := map[string]string{
		"GRAFANA_URL":      "http://" + grafanaAddr,
		"GRAFANA_PASSWORD": grafanaPassword,
		"CHROMIUM_PATH":    chromium,
		"E2E_OUTPUT_DIR":   out,
		"E2E_BENCHER_UID":  bencherUID,
		"E2E_EVENT_ONLY":   eventOnlyByUID(t, root),
	}
	// Before any run: the tests tagged @empty.
	pwEnv["E2E_PHASE"] = "empty"
	runPlaywright(t, root, playwright, out, pwEnv)

	// Two runs through the plugin's resource API, as the query editor
	// starts them: the baseline, then one with outputs and labels.
	base := g.startRun(t, map[string]any{"name": "e2e-baseline", "concurrency": 4, "requests": 40,
		"inputTokens": "128", "outputTokens": "32"})
	g.waitRun(t, base)
	withOutputs := g.startRun(t, map[string]any{"name": "e2e-outputs", "concurrency": 4, "requests": 40,
		"inputTokens": "128", "outputTokens": "32", "recordOutputs": true, "labels": map[string]string{"suite": "e2e"}})
	g.waitRun(t, withOutputs)
	checkPluginDocument(t, filepath.Join(results, base+".json"), "http://"+promAddr)
	checkPluginDocument(t, filepath.Join(results, withOutputs+".json"), "http://"+promAddr)

	waitStackReady(t, prom, stack.targets)
	t.Logf("figure: stack ready with two runs %.1fs after the suite started", time.Since(start).Seconds())

	if hold, err := time.ParseDuration(os.Getenv("E2E_HOLD")); err == nil && hold > 0 {
		// For a person to look around before the browser tests run.
		t.Logf("E2E_HOLD: Grafana at http://%s (admin / %s), Prometheus at http://%s, for %s", grafanaAddr, grafanaPassword, promAddr, hold)
		time.Sleep(hold)
	}
	pwEnv["E2E_PHASE"] = "runs"
	runPlaywright(t, root, playwright, out, pwEnv)
	g.checkRules(t)
	g.checkLog(t)
	t.Logf("figure: Grafana e2e wall time %.1fs (builds, start-up, two runs, browser tests)", time.Since(start).Seconds())
}

// eventOnlyByUID returns dashboards.EventOnly as JSON keyed by dashboard
// uid, for the browser tests: the panels that may show their noValue text.
func eventOnlyByUID(t *testing.T, root string) string {
	t.Helper()
	byUID := map[string][]string{}
	for file, titles := range dashboards.EventOnly {
		b, err := os.ReadFile(filepath.Join(root, "dashboards", file))
		require.NoError(t, err)
		var d struct {
			UID string `json:"uid"`
		}
		require.NoError(t, json.Unmarshal(b, &d), file)
		byUID[d.UID] = titles
	}
	b, err := json.Marshal(byUID)
	require.NoError(t, err)
	return string(b)
}

// e2eTool finds a program from the environment variable env or PATH; it
// skips the test when it is missing, except in CI, where .ci/run installs
// it and a missing one is a failure.
func e2eTool(t *testing.T, env, name, how string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (%v): %s", name, err, how)
	}
	t.Skipf("%s is not installed: %s", name, how)
	return ""
}

// grafana is a running Grafana server.
type grafana struct {
	base, data, sh string
	client         *http.Client
}

// startGrafana copies the repository's provisioning into dir, rewrites its
// addresses and paths for loopback (addrs: prometheus, sim, results,
// webhook), links the built plugin into a plugins directory and starts
// Grafana with grafana.sh on addr, with anonymous Editors so the browser
// needs no login. It is stopped when the test ends; its log is kept in the
// test's output on failure.
func startGrafana(t *testing.T, sh, root, dir, addr string, addrs map[string]string) *grafana {
	t.Helper()
	prov := filepath.Join(dir, "provisioning")
	require.NoError(t, os.CopyFS(prov, os.DirFS(filepath.Join(root, "provisioning", "grafana"))))
	require.NoError(t, os.MkdirAll(filepath.Join(prov, "plugins"), 0o755))
	rewriteProvisioning(t, root, prov, addrs)

	plugins := filepath.Join(dir, "plugins")
	require.NoError(t, os.MkdirAll(plugins, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(root, "grafana-plugin", "dist"), filepath.Join(plugins, pluginID)))

	g := &grafana{base: "http://" + addr, data: filepath.Join(dir, "grafana"), sh: sh,
		client: &http.Client{Timeout: 30 * time.Second}}
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command("bash", sh, "start", "--port", port, "--plugins", plugins, "--provisioning", prov,
		"--data", g.data, "--anonymous", "Editor")
	cmd.Env = append(os.Environ(), "ALERT_WEBHOOK_URL="+addrs["webhook"], "VLLM_API_KEY=", "GF_LOG_LEVEL=info",
		// Grafana's /avatar proxies Gravatar, which this machine cannot
		// reach: the request hangs and the page's load event never fires.
		"GF_SECURITY_DISABLE_GRAVATAR=true")
	t.Cleanup(func() {
		stop := exec.Command("bash", sh, "stop", "--data", g.data)
		_ = stop.Run()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(g.data, "grafana.log"))
			t.Logf("grafana.log (last 8 KiB):\n%s", tail(string(b), 8192))
		}
	})
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "grafana.sh start:\n%s", b)
	t.Logf("%s", bytes.TrimSpace(b))
	return g
}

// rewriteProvisioning points the copied provisioning at the test's
// processes: Prometheus's URL, the bencher data source's default target,
// allowed hosts, results directory and Prometheus URL, and the dashboard
// provider's path at the repository's dashboards/. Loki cannot run here,
// and this Grafana build lacks Loki's frontend: its URL goes to a closed
// loopback port.
func rewriteProvisioning(t *testing.T, root, prov string, addrs map[string]string) {
	t.Helper()
	replace := func(file string, pairs ...string) {
		t.Helper()
		path := filepath.Join(prov, file)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		s := string(b)
		for i := 0; i < len(pairs); i += 2 {
			require.Contains(t, s, pairs[i], "%s no longer holds %q: update the e2e suite's rewrite", file, pairs[i])
			s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
		}
		require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	}
	replace("datasources/benchstation.yaml",
		"http://prometheus:9090", addrs["prometheus"],
		"http://loki:3100", "http://127.0.0.1:9",
		"http://vllm:8000/v1", addrs["sim"],
		"        - vllm\n", "        - 127.0.0.1\n",
		"/var/lib/grafana/benchstation-results", addrs["results"])
	replace("dashboards/benchstation.yaml", "/var/lib/grafana/dashboards", filepath.Join(root, "dashboards"))
}

// getJSON GETs path as the admin and decodes the JSON answer.
func (g *grafana) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	var v map[string]any
	code, body := g.do(t, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, code, "GET %s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, &v), "GET %s: %s", path, body)
	return v
}

// do sends a request to Grafana as the admin and returns the status and
// body.
func (g *grafana) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.base+path, r)
	require.NoError(t, err)
	req.SetBasicAuth("admin", grafanaPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// startRun starts a run through the plugin's POST /runs and returns its id.
func (g *grafana) startRun(t *testing.T, spec map[string]any) string {
	t.Helper()
	code, body := g.do(t, http.MethodPost, "/api/datasources/uid/"+bencherUID+"/resources/runs", spec)
	require.Equal(t, http.StatusCreated, code, "POST /runs %v: %s", spec, body)
	var started struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &started))
	require.NotEmpty(t, started.ID, "POST /runs answered no id: %s", body)
	return started.ID
}

// waitRun waits until the run has finished, and requires it completed.
func (g *grafana) waitRun(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(e2eRunTimeout)
	for {
		v := g.getJSON(t, "/api/datasources/uid/"+bencherUID+"/resources/runs/"+id)
		status, _ := v["status"].(string)
		switch {
		case status == "completed":
			return
		case status != "running" && status != "":
			t.Fatalf("run %s ended %q: %v", id, status, v)
		case time.Now().After(deadline):
			t.Fatalf("run %s still %q after %s", id, status, e2eRunTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkPluginDocument checks what the plugin stored of a run against the
// simulator given by URL: detected as simulated with its server version
// (as the CLI detects it), the server side read from the data source's
// Prometheus, a custom load's profile key, and the stamped version of the
// build (go tool mage plugin), not "devel".
func checkPluginDocument(t *testing.T, path, prometheus string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc struct {
		Profile     string `json:"profile"`
		Environment struct {
			Simulated      bool   `json:"simulated"`
			ServerVersion  string `json:"server_version"`
			BencherVersion string `json:"bencher_version"`
		} `json:"environment"`
		ServerSide *struct {
			Source string `json:"source"`
		} `json:"server_side"`
	}
	require.NoError(t, json.Unmarshal(b, &doc), path)
	name := filepath.Base(path)
	require.True(t, doc.Environment.Simulated, "%s: a run against bencher sim is simulated", name)
	require.NotEmpty(t, doc.Environment.ServerVersion, "%s: server_version", name)
	require.NotEqual(t, "devel", doc.Environment.BencherVersion, "%s: bencher_version (go tool mage plugin stamps it)", name)
	require.Equal(t, "custom-c4-in128-out32", doc.Profile, "%s: a custom load's profile key", name)
	require.NotNil(t, doc.ServerSide, "%s: server_side from the data source's prometheusUrl", name)
	require.Equal(t, prometheus, doc.ServerSide.Source, name)
}

// checkRules fails the test when a provisioned alert rule has not been
// evaluated, or its last evaluation failed (health "error"): the rules run
// on the repository's queries against this stack, the regression rule on
// the plugin's trend.
func (g *grafana) checkRules(t *testing.T) {
	t.Helper()
	v := g.getJSON(t, "/api/prometheus/grafana/api/v1/rules")
	data, _ := v["data"].(map[string]any)
	groups, _ := data["groups"].([]any)
	n := 0
	for _, gr := range groups {
		rules, _ := gr.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			n++
			health, _ := rule["health"].(string)
			if health == "error" || rule["lastEvaluation"] == nil || strings.HasPrefix(fmt.Sprint(rule["lastEvaluation"]), "0001-") {
				t.Errorf("alert rule %q: health %q, last evaluation %v, error %v", rule["name"], health, rule["lastEvaluation"], rule["lastError"])
			}
		}
	}
	require.NotZero(t, n, "Grafana loaded no alert rule")
	t.Logf("%d alert rules evaluated without error", n)
}

// checkLog fails the test on plugin errors in Grafana's log: a panic, or
// the plugin failing to load or start.
func (g *grafana) checkLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(g.data, "grafana.log"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		low := strings.ToLower(line)
		if strings.Contains(low, "panic") && strings.Contains(low, "plugin") ||
			strings.Contains(line, "Could not load plugin") || strings.Contains(line, "Plugin process exited") ||
			strings.Contains(line, "provisioning") && strings.Contains(low, "level=error") {
			t.Errorf("grafana.log: %s", line)
		}
	}
}

// alertHook is the webhook contact point's receiver.
type alertHook struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

// newAlertHook starts a receiver that counts the notifications it gets.
func newAlertHook(t *testing.T) *alertHook {
	h := &alertHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// calls returns how many notifications the receiver got.
func (h *alertHook) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// runPlaywright runs the browser tests of grafana-plugin/e2e with env
// added to the environment (E2E_PHASE selects the tests: "empty" those
// tagged @empty, "runs" the others), and marks the test failed when they
// fail, going on with the next phase; their report goes to the test log.
func runPlaywright(t *testing.T, root, playwright, out string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), playwrightTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, playwright, "test", "--config", "e2e/playwright.config.ts")
	cmd.Dir = filepath.Join(root, "grafana-plugin")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	t.Logf("playwright:\n%s", buf.String())
	if err != nil {
		t.Errorf("the browser tests (%s) failed (%v); screenshots and traces are in %s", env["E2E_PHASE"], err, out)
	}
}
