package provisioning

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/internal/promcheck"
)

var update = flag.Bool("update", false, "rewrite the committed rules file from the code")

func TestCommittedRulesAreGenerated(t *testing.T) {
	if *update {
		require.NoError(t, WriteRules("."))
	}
	want, err := RulesYAML()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.FromSlash(RulesFile))
	require.NoError(t, err, "run go tool mage dashboards")
	assert.Equal(t, string(want), string(got), "%s differs from the code: run go tool mage dashboards", RulesFile)
}

// fileRules is the provisioning schema of alert rules, strictly: an
// unknown field fails the decoding.
type fileRules struct {
	APIVersion int `yaml:"apiVersion"`
	Groups     []struct {
		OrgID    int    `yaml:"orgId"`
		Name     string `yaml:"name"`
		Folder   string `yaml:"folder"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			UID          string            `yaml:"uid"`
			Title        string            `yaml:"title"`
			Condition    string            `yaml:"condition"`
			For          string            `yaml:"for"`
			NoDataState  string            `yaml:"noDataState"`
			ExecErrState string            `yaml:"execErrState"`
			IsPaused     bool              `yaml:"isPaused"`
			Labels       map[string]string `yaml:"labels"`
			Annotations  map[string]string `yaml:"annotations"`
			Data         []struct {
				RefID             string         `yaml:"refId"`
				QueryType         string         `yaml:"queryType"`
				DatasourceUID     string         `yaml:"datasourceUid"`
				RelativeTimeRange map[string]int `yaml:"relativeTimeRange"`
				Model             map[string]any `yaml:"model"`
			} `yaml:"data"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) fileRules {
	t.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(RulesFile))
	require.NoError(t, err)
	var f fileRules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&f), "%s does not fit the provisioning schema", RulesFile)
	return f
}

func TestRulesFileFitsTheSchema(t *testing.T) {
	t.Parallel()
	f := readRules(t)
	assert.Equal(t, 1, f.APIVersion)
	uids := map[string]bool{}
	titles := []string{}
	for _, g := range f.Groups {
		assert.Equal(t, 1, g.OrgID)
		assert.Equal(t, Folder, g.Folder)
		_, err := model.ParseDuration(g.Interval)
		assert.NoError(t, err, "group %s interval", g.Name)
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Title
			titles = append(titles, r.Title)
			assert.NotEmpty(t, r.UID, where)
			assert.LessOrEqual(t, len(r.UID), 40, "%s: Grafana's uids are at most 40 characters", where)
			assert.False(t, uids[r.UID], "%s: uid %s twice", where, r.UID)
			uids[r.UID] = true
			_, err := model.ParseDuration(r.For)
			assert.NoError(t, err, "%s: for", where)
			assert.Contains(t, []string{"OK", "NoData", "Alerting", "KeepLast"}, r.NoDataState, where)
			assert.Contains(t, []string{"OK", "Error", "Alerting", "KeepLast"}, r.ExecErrState, where)
			assert.NotEmpty(t, r.Annotations["summary"], "%s: summary", where)
			assert.NotEmpty(t, r.Annotations["runbook"], "%s: runbook line", where)
			assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], where)
			for k, v := range r.Labels {
				assert.NotContains(t, k+v, "$", "%s: Grafana expands environment variables in labels", where)
			}
			refs := map[string]bool{}
			for _, d := range r.Data {
				assert.NotEmpty(t, d.RefID, where)
				assert.Equal(t, d.RefID, d.Model["refId"], "%s: the model's refId", where)
				refs[d.RefID] = true
				assert.Contains(t, []string{dashboards.PrometheusUID, dashboards.BencherUID, "__expr__"}, d.DatasourceUID, where)
				assert.Contains(t, d.RelativeTimeRange, "from", where)
				if d.DatasourceUID == "__expr__" {
					if e, ok := d.Model["expression"].(string); ok && !strings.Contains(e, "$") {
						assert.True(t, refs[e], "%s: step %s uses %s before it is defined", where, d.RefID, e)
					}
				}
			}
			assert.True(t, refs[r.Condition], "%s: condition %s is not a step", where, r.Condition)
		}
	}
	for _, want := range []string{"GPU temperature high", "GPU memory near full", "GPU XID errors", "GPU lost", "NVML down",
		"Exporter down", "NVML sees no GPUs", "vLLM down", "vLLM aborted or errored requests", "vLLM waiting queue growing",
		"Batch API polling failing", "Benchmark regression"} {
		assert.Contains(t, titles, want)
	}
}

func TestRulesPromQLParsesAndNamesKnownMetrics(t *testing.T) {
	t.Parallel()
	cat, err := promcheck.Load("..")
	require.NoError(t, err)
	queries, err := PromQL()
	require.NoError(t, err)
	assert.Len(t, queries, 11)
	for _, q := range queries {
		assert.NoError(t, cat.Check(q.Expr), "%s: %s", q.Where, q.Expr)
	}
}

// TestNoDataStates pins each rule's noDataState, chosen per rule (the
// reasons are comments in alerts.go): Alerting where no data means the
// thing watched is gone, OK where it means there is nothing to watch.
func TestNoDataStates(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"benchstation-gpu-temperature":      "OK",
		"benchstation-gpu-memory-full":      "OK",
		"benchstation-gpu-xid":              "OK",
		"benchstation-gpu-lost":             "OK",
		"benchstation-nvml-down":            "OK",
		"benchstation-exporter-down":        "Alerting",
		"benchstation-nvml-no-gpus":         "OK",
		"benchstation-vllm-down":            "Alerting",
		"benchstation-vllm-failed-requests": "OK",
		"benchstation-vllm-queue-growing":   "OK",
		"benchstation-batch-poll-failing":   "OK",
		"benchstation-benchmark-regression": "OK",
	}
	got := map[string]string{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			got[r.UID] = r.NoDataState
		}
	}
	assert.Equal(t, want, got)
}
