package stacktest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/promtest"
)

// e2eHosts are the GPU hosts of the end-to-end test: two exporters of
// different simulated models (8 GPUs each), scraped under one job.
var e2eHosts = []string{"dgxh100", "dgxa100"}

// oldQueries are the PromQL queries of the workstation this stack
// replaces, exactly as it ran them. The compatibility recording rules
// (provisioning/prometheus/rules/compat.yml) give them data; the README's
// "Coming from the old workstation" table maps each to its new form.
var oldQueries = []string{
	`nvidia_gpu_duty_cycle`,
	`nvidia_gpu_power_usage_milliwatts`,
	`rate(vllm:prefix_cache_hit_total[5m]) / (rate(vllm:prefix_cache_hit_total[5m]) + rate(vllm:prefix_cache_miss_total[5m]))`,
}

// oldLogQueries are the old workstation's Loki queries; the Alloy
// configuration gives their streams the job labels (TestComposeAlloyConfig).
var oldLogQueries = []string{`{job="vllm-server"}`, `{job="vllm-benchmarks"}`}

// legendVar is a {{label}} of a legend format.
var legendVar = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// checkPerGPUSeries checks each per-GPU dashboard query (its legend names
// {{gpu}}) against the hosts Prometheus scraped: every series names its
// host and GPU, the query has a series for every GPU of every host (a
// process panel: for GPUs of known hosts only), and no two series share a
// legend.
func checkPerGPUSeries(t *testing.T, prom *promtest.Server, exprs []Expr, hosts int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := prom.Query(ctx, `nvidia_gpu_info`)
	if err != nil {
		t.Fatalf("nvidia_gpu_info: %v", err)
	}
	gpus := map[string]bool{}
	instances := map[string]bool{}
	for _, s := range info {
		gpus[s.Metric["instance"]+" GPU "+s.Metric["gpu"]] = true
		instances[s.Metric["instance"]] = true
	}
	if len(instances) != hosts || len(gpus) != 8*hosts {
		t.Fatalf("nvidia_gpu_info: %d GPUs on %d hosts, want 8 on each of %d", len(gpus), len(instances), hosts)
	}
	want := slices.Sorted(func(yield func(string) bool) {
		for g := range gpus {
			if !yield(g) {
				return
			}
		}
	})
	checked := 0
	for _, e := range exprs {
		if e.EventOnly || !strings.Contains(e.Legend, "{{gpu}}") {
			continue
		}
		checked++
		var problem string
		for deadline := time.Now().Add(e2eDataTimeout); ; time.Sleep(500 * time.Millisecond) {
			problem = perGPUProblem(ctx, prom, e, want)
			if problem == "" || time.Now().After(deadline) {
				break
			}
		}
		if problem != "" {
			t.Errorf("%s: %s\n  %s", e.Where, problem, e.Query)
		}
	}
	if checked < 10 {
		t.Errorf("only %d per-GPU queries checked: the dashboards' legends no longer name {{gpu}}?", checked)
	}
}

// perGPUProblem says what is wrong with one per-GPU query's series, or "".
func perGPUProblem(ctx context.Context, prom *promtest.Server, e Expr, want []string) string {
	got, err := prom.Query(ctx, e.Query)
	if err != nil {
		return err.Error()
	}
	legends := map[string]int{}
	seen := map[string]bool{}
	for _, s := range got {
		if s.Metric["instance"] == "" || s.Metric["gpu"] == "" {
			return fmt.Sprintf("a series without its host or GPU: %v", s.Metric)
		}
		g := s.Metric["instance"] + " GPU " + s.Metric["gpu"]
		if !slices.Contains(want, g) {
			return fmt.Sprintf("a series of an unknown GPU: %v", s.Metric)
		}
		seen[g] = true
		legends[legendVar.ReplaceAllStringFunc(e.Legend, func(v string) string {
			return s.Metric[legendVar.FindStringSubmatch(v)[1]]
		})]++
	}
	var shared []string
	for l, n := range legends {
		if n > 1 {
			shared = append(shared, fmt.Sprintf("%q ×%d", l, n))
		}
	}
	sort.Strings(shared)
	switch {
	case len(shared) > 0:
		return fmt.Sprintf("%d series share legends: %s", len(got), strings.Join(shared, ", "))
	case strings.Contains(e.Query, "nvidia_gpu_process_"):
		return "" // only the GPUs that run a process have series
	case len(seen) != len(want):
		return fmt.Sprintf("series for %d GPUs, want one or more for each of the %d GPUs of every host", len(seen), len(want))
	}
	return ""
}

// checkOldQueries evaluates each of the old workstation's queries: each
// returns data, in the old units.
func checkOldQueries(t *testing.T, prom *promtest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ranges := map[string][2]float64{
		oldQueries[0]: {0, 100},    // percent
		oldQueries[1]: {1000, 2e6}, // milliwatts: a simulated GPU draws watts, not milliwatts
		oldQueries[2]: {0, 1},      // a ratio (NaN where no token was looked up)
	}
	for _, q := range oldQueries {
		var got []promtest.Sample
		var err error
		for deadline := time.Now().Add(e2eDataTimeout); ; time.Sleep(500 * time.Millisecond) {
			got, err = prom.Query(ctx, q)
			if (err == nil && len(got) > 0) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || len(got) == 0 {
			t.Errorf("old query %s: no data (%v)", q, err)
			continue
		}
		r := ranges[q]
		for _, s := range got {
			v, err := strconv.ParseFloat(s.Value, 64)
			if err != nil || (!math.IsNaN(v) && (v < r[0] || v > r[1])) {
				t.Errorf("old query %s: %s for %v, want %g to %g", q, s.Value, s.Metric, r[0], r[1])
			}
		}
	}
}

// TestReadmeMapsEveryOldQuery checks the README's "Coming from the old
// workstation" table: a row for each old query, PromQL and Loki.
func TestReadmeMapsEveryOldQuery(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n### Coming from the old workstation\n")
	require.True(t, ok, "README.md has no \"Coming from the old workstation\" section")
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	for _, q := range append(slices.Clone(oldQueries), oldLogQueries...) {
		assert.Contains(t, section, "\n| `"+q+"`", "the table has no row for %s", q)
	}
}
