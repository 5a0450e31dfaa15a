package stacktest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/internal/promtest"
	"github.com/benchstation/benchstation/internal/testkit"
)

// Paths of the Prometheus files, relative to the repository root, and where
// docker-compose.yml mounts the rules in the prometheus container.
const (
	prometheusConfigPath = "provisioning/prometheus/prometheus.yml"
	prometheusRulesDir   = "provisioning/prometheus/rules"
	containerRulesDir    = "/etc/prometheus/rules"
)

// contractJobs are the scrape jobs of the stack's contract with the targets
// (or DNS names) each one names in the containers' network.
var contractJobs = map[string][]string{
	"vllm":                  {"http://vllm:8000/metrics"},
	"benchstation-exporter": {"http://exporter:9849/metrics"},
	"bencher":               {"http://grafana:3000/metrics/plugins/benchstation-bencher-datasource"},
	"prometheus":            {"http://localhost:9090/metrics"},
}

// contractRule is a recording rule of the contract: the metric it rates and
// the labels it keeps.
type contractRule struct {
	metric string
	by     []string
}

// contractRules are the recording rules the dashboards use.
var contractRules = map[string]contractRule{
	"instance_model:vllm_time_to_first_token_seconds_bucket:rate1m": {"vllm:time_to_first_token_seconds_bucket", []string{"job", "instance", "model_name", "le"}},
	"instance_model:vllm_inter_token_latency_seconds_bucket:rate1m": {"vllm:inter_token_latency_seconds_bucket", []string{"job", "instance", "model_name", "le"}},
	"instance_model:vllm_e2e_request_latency_seconds_bucket:rate1m": {"vllm:e2e_request_latency_seconds_bucket", []string{"job", "instance", "model_name", "le"}},
	"instance_model:vllm_request_queue_time_seconds_bucket:rate1m":  {"vllm:request_queue_time_seconds_bucket", []string{"job", "instance", "model_name", "le"}},
	"instance_model:vllm_prompt_tokens:rate1m":                      {"vllm:prompt_tokens_total", []string{"job", "instance", "model_name"}},
	"instance_model:vllm_generation_tokens:rate1m":                  {"vllm:generation_tokens_total", []string{"job", "instance", "model_name"}},
	"instance_model:vllm_request_success:rate1m":                    {"vllm:request_success_total", []string{"job", "instance", "model_name", "finished_reason"}},
}

// repoRoot returns the repository root: the directory above the test's
// working directory that holds go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test's directory")
		dir = parent
	}
}

// ruleFiles returns the repository's Prometheus rule files.
func ruleFiles(t testing.TB, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, prometheusRulesDir, "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no rule files in %s", prometheusRulesDir)
	return files
}

// loadPrometheusConfig reads the repository's prometheus.yml as a generic
// YAML document, every key kept.
func loadPrometheusConfig(t testing.TB, root string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, prometheusConfigPath))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	return cfg
}

// localRuleFiles rewrites cfg's rule_files from the container's mount
// point to the repository's rules directory (globs kept). A rule file
// outside the mount point fails the test: compose would not mount it.
func localRuleFiles(t testing.TB, root string, cfg map[string]any) {
	t.Helper()
	raw, _ := cfg["rule_files"].([]any)
	require.NotEmpty(t, raw, "prometheus.yml has no rule_files")
	out := make([]any, 0, len(raw))
	for _, r := range raw {
		s, _ := r.(string)
		rest, ok := strings.CutPrefix(s, containerRulesDir+"/")
		require.True(t, ok, "rule file %q is not under %s, where compose mounts %s", s, containerRulesDir, prometheusRulesDir)
		out = append(out, filepath.Join(root, prometheusRulesDir, rest))
	}
	cfg["rule_files"] = out
}

// writeYAML writes v as YAML into dir/name and returns the path.
func writeYAML(t testing.TB, dir, name string, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// promtool returns the promtool executable: a test without it is skipped,
// except in CI, where it fails.
func promtool(t *testing.T) string {
	t.Helper()
	return promtest.Binary(t, "promtool")
}

// TestPrometheusConfigPromtool runs `promtool check config` on the
// repository's prometheus.yml: as it is (the rules glob then matches
// nothing), and with rule_files pointed at the repository's rules, where
// every rule file must be found and checked.
func TestPrometheusConfigPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	root := repoRoot(t)

	out, err := exec.Command(bin, "check", "config", filepath.Join(root, prometheusConfigPath)).CombinedOutput()
	require.NoError(t, err, "promtool check config %s:\n%s", prometheusConfigPath, out)

	cfg := loadPrometheusConfig(t, root)
	localRuleFiles(t, root, cfg)
	path := writeYAML(t, t.TempDir(), "prometheus.yml", cfg)
	out, err = exec.Command(bin, "check", "config", path).CombinedOutput()
	require.NoError(t, err, "promtool check config (rules from the repository):\n%s", out)
	m := regexp.MustCompile(`SUCCESS: (\d+) rule files found`).FindSubmatch(out)
	require.NotNil(t, m, "promtool found no rule files:\n%s", out)
	n, _ := strconv.Atoi(string(m[1]))
	assert.Equal(t, len(ruleFiles(t, root)), n, "rule_files must match every file of %s:\n%s", prometheusRulesDir, out)
}

// TestPrometheusRulesPromtool runs `promtool check rules` on every rule file.
func TestPrometheusRulesPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	files := ruleFiles(t, repoRoot(t))
	out, err := exec.Command(bin, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
}

// TestPrometheusRulesParse parses every rule file with Prometheus's own
// rule parser and every expression with its PromQL parser, and checks the
// recording rules against the contract: only recording rules (alerting is
// Grafana's), every contract rule present once, each a sum by the
// contract's labels of a 1m rate of its metric.
func TestPrometheusRulesParse(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	seen := map[string]int{}
	for _, file := range ruleFiles(t, repoRoot(t)) {
		groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation, p, slog.New(slog.DiscardHandler))
		for _, err := range errs {
			t.Errorf("%s: %v", file, err)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				where := fmt.Sprintf("%s: group %s: %s%s", filepath.Base(file), g.Name, r.Record, r.Alert)
				if r.Alert != "" {
					t.Errorf("%s: alerting rule in Prometheus; alerts are Grafana's (provisioning/grafana/alerting)", where)
					continue
				}
				expr, err := p.ParseExpr(r.Expr)
				if !assert.NoError(t, err, where) {
					continue
				}
				seen[r.Record]++
				if want, ok := contractRules[r.Record]; ok {
					checkRecordingExpr(t, where, expr, want)
				}
			}
		}
	}
	for name := range contractRules {
		assert.Equal(t, 1, seen[name], "recording rule %s (in the contract, used by the dashboards) defined once", name)
	}
}

// checkRecordingExpr checks that expr is sum by (want.by) (rate(want.metric[1m])).
func checkRecordingExpr(t *testing.T, where string, expr parser.Expr, want contractRule) {
	t.Helper()
	agg, ok := expr.(*parser.AggregateExpr)
	if !ok || agg.Op != parser.SUM || agg.Without {
		t.Errorf("%s: want sum by (...) (...), got %s", where, expr)
		return
	}
	assert.ElementsMatch(t, want.by, agg.Grouping, "%s: grouping labels", where)
	call, ok := agg.Expr.(*parser.Call)
	if !ok || call.Func.Name != "rate" || len(call.Args) != 1 {
		t.Errorf("%s: want a rate() inside the sum, got %s", where, agg.Expr)
		return
	}
	ms, ok := call.Args[0].(*parser.MatrixSelector)
	if !ok {
		t.Errorf("%s: want rate(metric[1m]), got %s", where, call)
		return
	}
	assert.Equal(t, time.Minute, ms.Range, "%s: rate window", where)
	if vs, ok := ms.VectorSelector.(*parser.VectorSelector); assert.True(t, ok, where) {
		assert.Equal(t, want.metric, vs.Name, "%s: metric", where)
	}
}

// promScrapeConfig is the part of a scrape config the contract fixes.
type promScrapeConfig struct {
	JobName       string `yaml:"job_name"`
	MetricsPath   string `yaml:"metrics_path"`
	StaticConfigs []struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	} `yaml:"static_configs"`
	DNSSDConfigs []struct {
		Names []string `yaml:"names"`
		Type  string   `yaml:"type"`
		Port  int      `yaml:"port"`
	} `yaml:"dns_sd_configs"`
}

// TestPrometheusConfigContract reads prometheus.yml and checks what the
// contract fixes: 15 s scrape and evaluation intervals, the rules glob,
// and the four jobs with their targets (bencher also by DNS).
func TestPrometheusConfigContract(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), prometheusConfigPath))
	require.NoError(t, err)
	var cfg struct {
		Global struct {
			ScrapeInterval     string `yaml:"scrape_interval"`
			EvaluationInterval string `yaml:"evaluation_interval"`
		} `yaml:"global"`
		RuleFiles     []string           `yaml:"rule_files"`
		ScrapeConfigs []promScrapeConfig `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	assert.Equal(t, "15s", cfg.Global.ScrapeInterval)
	assert.Equal(t, "15s", cfg.Global.EvaluationInterval)
	assert.Equal(t, []string{containerRulesDir + "/*.yml"}, cfg.RuleFiles)
	var jobs []string
	for _, sc := range cfg.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		if sc.JobName == "bencher" {
			require.Len(t, sc.DNSSDConfigs, 1, "bencher CLI runs are found by DNS")
			d := sc.DNSSDConfigs[0]
			assert.Equal(t, []string{"bencher"}, d.Names)
			assert.Equal(t, "A", d.Type)
			assert.Equal(t, 9850, d.Port)
		}
	}
	assert.ElementsMatch(t, slices.Sorted(maps.Keys(contractJobs)), jobs, "job names are part of the contract")
	assert.NotContains(t, string(b), "@", "no credentials in scrape URLs")
}

// TestPrometheusLoadsRepositoryConfig starts the real Prometheus with the
// repository's prometheus.yml (only rule_files pointed at the repository)
// and checks what it made of it: the scrape URL of every target (the
// plugin's metrics path on Grafana included), the bencher job's DNS
// discovery of a name that does not resolve here not getting in the way,
// and every recording rule loaded and healthy.
func TestPrometheusLoadsRepositoryConfig(t *testing.T) {
	t.Parallel()
	bin := promtest.Binary(t, "prometheus")
	root := repoRoot(t)
	dir := t.TempDir()
	cfg := loadPrometheusConfig(t, root)
	localRuleFiles(t, root, cfg)
	prom := startPrometheus(t, bin, writeYAML(t, dir, "prometheus.yml", cfg), dir)

	want := map[string][]string{}
	for job, urls := range contractJobs {
		want[job] = slices.Clone(urls)
	}
	var got map[string][]string
	// Prometheus hands discovered targets to the scrape manager every 5 s.
	ok := assert.Eventually(t, func() bool {
		got = activeTargets(t, prom)
		return len(got) == len(want)
	}, 20*time.Second, 200*time.Millisecond)
	if ok {
		assert.Equal(t, want, got)
	}

	rules := ruleHealth(t, prom)
	for name := range contractRules {
		assert.Contains(t, rules, name)
	}
	for name, health := range rules {
		assert.NotEqual(t, "err", health, "rule %s", name)
	}
}

// startPrometheus runs Prometheus with the configuration file cfg, keeping
// its data and log in dir, on a free loopback port, and stops it when the
// test ends (its log is printed if the test failed). addr, if given, is the
// address to listen on.
func startPrometheus(t *testing.T, bin, cfg, dir string, addr ...string) *promtest.Server {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	if len(addr) > 0 {
		listen = addr[0]
	}
	p := startProcess(t, "prometheus", bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	s := &promtest.Server{URL: "http://" + listen}
	waitHTTP(t, s.URL+"/-/ready", 30*time.Second, p)
	return s
}

// activeTargets returns the scrape URLs of Prometheus's active targets by job.
func activeTargets(t *testing.T, prom *promtest.Server) map[string][]string {
	t.Helper()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
				Health    string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	getJSON(t, prom.URL+"/api/v1/targets", &body)
	out := map[string][]string{}
	for _, tg := range body.Data.ActiveTargets {
		out[tg.Labels["job"]] = append(out[tg.Labels["job"]], tg.ScrapeURL)
	}
	for job := range out {
		slices.Sort(out[job])
	}
	return out
}

// ruleHealth returns the health of every rule Prometheus loaded, by name.
func ruleHealth(t *testing.T, prom *promtest.Server) map[string]string {
	t.Helper()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
					Error  string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, prom.URL+"/api/v1/rules", &body)
	out := map[string]string{}
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r.Health
			if r.Error != "" {
				t.Logf("rule %s: %s", r.Name, r.Error)
			}
		}
	}
	return out
}

// getJSON decodes the JSON answer of a GET into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(testkit.Get(t, url), v), "GET %s", url)
}
