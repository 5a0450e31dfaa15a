package dashboards

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/promcheck"
)

var update = flag.Bool("update", false, "rewrite the committed dashboards from the code")

func built(t *testing.T) []File {
	t.Helper()
	files, err := All()
	require.NoError(t, err)
	return files
}

// TestCommittedJSONIsGenerated fails when the committed dashboards differ
// from what the code builds; `go tool mage dashboards` (or this test with
// -update) rewrites them.
func TestCommittedJSONIsGenerated(t *testing.T) {
	if *update {
		require.NoError(t, Write("."))
	}
	for _, f := range built(t) {
		want, err := Marshal(f.Dashboard)
		require.NoError(t, err)
		got, err := os.ReadFile(f.Name)
		require.NoError(t, err, "run go tool mage dashboards")
		assert.Equal(t, string(want), string(got), "%s differs from the code: run go tool mage dashboards", f.Name)
	}
	committed, err := filepath.Glob("*.json")
	require.NoError(t, err)
	assert.Len(t, committed, len(built(t)), "a committed dashboard no code generates: %v", committed)
}

func TestEveryPromQLParsesAndNamesKnownMetrics(t *testing.T) {
	t.Parallel()
	cat, err := promcheck.Load("..")
	require.NoError(t, err)
	n := 0
	for _, f := range built(t) {
		for _, q := range PromQL(f.Dashboard) {
			n++
			assert.NoError(t, cat.Check(q.Expr), "%s: %s", q.Where, q.Expr)
		}
	}
	assert.Greater(t, n, 60, "the dashboards' expressions were found")
}

// panels walks every panel, rows' collapsed panels included.
func panels(d dashboard.Dashboard) []dashboard.Panel {
	var out []dashboard.Panel
	for _, p := range d.Panels {
		if p.Panel != nil {
			out = append(out, *p.Panel)
		}
		if p.RowPanel != nil {
			out = append(out, p.RowPanel.Panels...)
		}
	}
	return out
}

func TestPanelsAreComplete(t *testing.T) {
	t.Parallel()
	uids := map[string]bool{}
	for _, f := range built(t) {
		d := f.Dashboard
		require.NotNil(t, d.Uid)
		assert.False(t, uids[*d.Uid], "uid %s used twice", *d.Uid)
		uids[*d.Uid] = true
		for _, p := range panels(d) {
			where := f.Name + " / " + deref(p.Title)
			assert.NotEmpty(t, deref(p.Title), "%s: a panel without a title", f.Name)
			require.NotNil(t, p.GridPos, where)
			assert.LessOrEqual(t, p.GridPos.X+p.GridPos.W, uint32(24), "%s: wider than the grid", where)
			assert.NotEmpty(t, p.Targets, "%s: no query", where)
			refs := map[string]bool{}
			for _, target := range p.Targets {
				raw, err := json.Marshal(target)
				require.NoError(t, err)
				var q struct {
					RefID      string `json:"refId"`
					Datasource struct{ Type, UID string }
				}
				require.NoError(t, json.Unmarshal(raw, &q), where)
				assert.NotEmpty(t, q.RefID, "%s: a target without refId", where)
				assert.False(t, refs[q.RefID], "%s: refId %s twice", where, q.RefID)
				refs[q.RefID] = true
				assert.Contains(t, []string{PrometheusUID, BencherUID, LokiUID}, q.Datasource.UID,
					"%s: a target's data source is not a provisioned one", where)
			}
		}
	}
}

func TestPanelsDoNotOverlap(t *testing.T) {
	t.Parallel()
	for _, f := range built(t) {
		taken := map[[2]uint32]string{}
		for _, p := range f.Dashboard.Panels {
			var pos *dashboard.GridPos
			title := ""
			if p.Panel != nil {
				pos, title = p.Panel.GridPos, deref(p.Panel.Title)
			} else {
				pos, title = p.RowPanel.GridPos, deref(p.RowPanel.Title)
			}
			for x := pos.X; x < pos.X+pos.W; x++ {
				for y := pos.Y; y < pos.Y+pos.H; y++ {
					if other, ok := taken[[2]uint32{x, y}]; ok {
						t.Errorf("%s: %q overlaps %q at %d,%d", f.Name, title, other, x, y)
						return
					}
					taken[[2]uint32{x, y}] = title
				}
			}
		}
	}
}

func TestIssueCoverage(t *testing.T) {
	t.Parallel()
	files := built(t)
	all := map[string]string{}
	for _, f := range files {
		var b strings.Builder
		for _, q := range PromQL(f.Dashboard) {
			b.WriteString(q.Expr + "\n")
		}
		raw, err := Marshal(f.Dashboard)
		require.NoError(t, err)
		all[f.Name] = b.String() + string(raw)
	}
	need := map[string][]string{
		"gpu-vllm.json": {"nvidia_gpu_temperature_celsius", "nvidia_gpu_memory_used_bytes", "nvidia_gpu_memory_total_bytes",
			"nvidia_gpu_power_draw_watts", "nvidia_gpu_power_limit_enforced_watts", "nvidia_gpu_utilization_ratio",
			"nvidia_gpu_clock_hertz", "nvidia_gpu_clock_event_active", "nvidia_gpu_energy_consumed_joules_total",
			"nvidia_gpu_xid_errors_total", "nvidia_gpu_process_memory_used_bytes",
			"vllm_request_success", "finished_reason", "vllm:num_requests_running", "vllm:num_requests_waiting",
			"vllm_time_to_first_token_seconds_bucket", "vllm_inter_token_latency_seconds_bucket",
			"vllm_e2e_request_latency_seconds_bucket", "histogram_quantile(0.5,", "histogram_quantile(0.95,", "histogram_quantile(0.99,",
			"vllm_prompt_tokens", "vllm_generation_tokens", "vllm:kv_cache_usage_perc", "vllm:prefix_cache_hits_total",
			"vllm:num_preemptions_total", "vllm:iteration_tokens_total", `"name": "gpu"`, `"name": "model"`, `"name": "instance"`,
			`"queryType": "annotations"`},
		"benchmarks.json": {`"queryType": "runs"`, `"queryType": "live"`, `"queryType": "compare"`, `"queryType": "distribution"`,
			`"queryType": "outputs"`, `"queryType": "trend"`, `"request_throughput"`, `"type": "xychart"`, "nvidia_gpu_"},
		"batch-jobs.json": {"benchstation_batch_jobs", "benchstation_batch_job_progress_ratio", "benchstation_batch_poll_success"},
	}
	for file, words := range need {
		for _, w := range words {
			assert.Contains(t, all[file], w, "%s lacks %s", file, w)
		}
	}
}
