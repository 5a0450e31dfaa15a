package helm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// TestChartVersionIsTheProjectVersion ties the chart's version and
// appVersion (the images' default tag) to the project's version:
// grafana-plugin/package.json, whose CHANGELOG names it first.
func TestChartVersionIsTheProjectVersion(t *testing.T) {
	t.Parallel()
	var pkg struct {
		Version string `json:"version"`
	}
	readJSON(t, filepath.Join(root, "grafana-plugin", "package.json"), &pkg)
	require.NotEmpty(t, pkg.Version)
	ch := loadChart(t)
	assert.Equal(t, pkg.Version, ch.Metadata.Version, "Chart.yaml version: want package.json's")
	assert.Equal(t, pkg.Version, ch.Metadata.AppVersion, "Chart.yaml appVersion: want package.json's")
	assert.Equal(t, "v2", ch.Metadata.APIVersion)

	log, err := os.ReadFile(filepath.Join(root, "grafana-plugin", "CHANGELOG.md"))
	require.NoError(t, err)
	first := regexp.MustCompile(`(?m)^## (\S+)`).FindSubmatch(log)
	require.NotNil(t, first, "CHANGELOG.md has no release heading")
	assert.Equal(t, pkg.Version, string(first[1]), "CHANGELOG.md's latest release")
}

// TestChartLints runs helm lint (the library's) with the default values
// and with every part on: no error, no warning.
func TestChartLints(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{"defaults": nil, "all on": allOn()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := lint.RunAll(ChartDir, vals, release.Namespace)
			for _, m := range res.Messages {
				assert.Less(t, m.Severity, support.WarningSev, "%s", m)
			}
		})
	}
}

// TestRenderedObjectsDecodeStrictly renders with the default values and
// with every part on: each object decodes, unknown fields refused, into
// its Kubernetes or Prometheus Operator Go type, and carries Kubernetes's
// recommended labels.
func TestRenderedObjectsDecodeStrictly(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		vals map[string]any
		want []string
	}{
		"defaults": {nil, []string{
			"DaemonSet/bs-benchstation-exporter", "Service/bs-benchstation-exporter",
			"ServiceMonitor/bs-benchstation-exporter",
			"PrometheusRule/bs-benchstation-alerts", "PrometheusRule/bs-benchstation-recording",
			"ConfigMap/bs-benchstation-dashboard-gpu-vllm", "ConfigMap/bs-benchstation-dashboard-benchmarks",
			"ConfigMap/bs-benchstation-dashboard-batch-jobs",
		}},
		"all on": {allOn(), []string{
			"DaemonSet/bs-benchstation-exporter", "Service/bs-benchstation-exporter",
			"ConfigMap/bs-benchstation-exporter-batch",
			"ServiceMonitor/bs-benchstation-exporter", "ServiceMonitor/bs-benchstation-vllm",
			"PrometheusRule/bs-benchstation-alerts", "PrometheusRule/bs-benchstation-recording",
			"PrometheusRule/bs-benchstation-compat",
			"ConfigMap/bs-benchstation-dashboard-gpu-vllm", "ConfigMap/bs-benchstation-dashboard-benchmarks",
			"ConfigMap/bs-benchstation-dashboard-batch-jobs",
			"PersistentVolumeClaim/bs-benchstation-bencher-results",
			"Job/bs-benchstation-bencher-run1", "Job/bs-benchstation-bencher-run1-merge",
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, c.vals)
			got := decodeAll(t, objs)
			assert.ElementsMatch(t, c.want, keys(got))
			for _, o := range objs {
				var m struct {
					Metadata struct {
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
				}
				require.NoError(t, json.Unmarshal(mustJSON(t, o.YAML), &m))
				for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
					"app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
					assert.NotEmpty(t, m.Metadata.Labels[l], "%s %s has no label %s", o.Kind, o.Name, l)
				}
			}
		})
	}
}

// TestEachPartSwitchesOff renders with every part off: nothing.
func TestEachPartSwitchesOff(t *testing.T) {
	t.Parallel()
	objs := render(t, map[string]any{
		"exporter":       map[string]any{"enabled": false},
		"prometheusRule": map[string]any{"enabled": false},
		"dashboards":     map[string]any{"enabled": false},
	})
	assert.Empty(t, objs)
}

// TestStrictDecodingCatchesAnUnknownField shows that decodeStrict fails on
// a field the type lacks, so the tests above can fail.
func TestStrictDecodingCatchesAnUnknownField(t *testing.T) {
	t.Parallel()
	_, err := decodeStrict(object{Kind: "Service", Name: "x", YAML: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIp: None\n")})
	assert.ErrorContains(t, err, "clusterIp")
}

// TestNotesTellWhatWasInstalled renders NOTES.txt: what runs where, and
// the warnings that matter.
func TestNotesTellWhatWasInstalled(t *testing.T) {
	t.Parallel()
	files, err := renderErr(t, nil)
	require.NoError(t, err)
	notes := files["benchstation/templates/NOTES.txt"]
	assert.Contains(t, notes, "nvidia.com/gpu.present=true")
	assert.Contains(t, notes, `job="benchstation-exporter"`)
	assert.Contains(t, notes, "exporter.processes.hostPID=true")
	assert.Contains(t, notes, `"vLLM down" fires until`)
	assert.NotContains(t, notes, "Benchmark run")

	files, err = renderErr(t, allOn())
	require.NoError(t, err)
	notes = files["benchstation/templates/NOTES.txt"]
	assert.Contains(t, notes, "Benchmark run run1: 4 shards against http://vllm.serving:8000/v1")
	assert.Contains(t, notes, "job/bs-benchstation-bencher-run1-merge")
	assert.NotContains(t, notes, `"vLLM down" fires until`)
	assert.NotContains(t, notes, "Per-process GPU memory is off")
}

// TestKubeVersion: helm install refuses a cluster older than the chart's
// kubeVersion, 1.29 (backoffLimitPerIndex on by default); the chart lints
// against a current cluster too.
func TestKubeVersion(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	for ver, ok := range map[string]bool{"v1.28.9": false, "v1.29.0": true, "v1.33.1": true, "v1.35.0-eks-1": true} {
		assert.Equal(t, ok, chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, ver), ver)
	}
	kv, err := common.ParseKubeVersion("v1.33.0")
	require.NoError(t, err)
	res := lint.RunAll(ChartDir, allOn(), release.Namespace, lint.WithKubeVersion(kv))
	for _, m := range res.Messages {
		assert.Less(t, m.Severity, support.WarningSev, "%s", m)
	}
}
