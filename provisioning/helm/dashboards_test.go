package helm

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/benchstation/benchstation/dashboards"
)

// dashboardConfigMaps returns the dashboards' ConfigMaps by file name.
func dashboardConfigMaps(t *testing.T, vals map[string]any) map[string]*corev1.ConfigMap {
	t.Helper()
	out := map[string]*corev1.ConfigMap{}
	for k, v := range decodeAll(t, render(t, vals)) {
		cm, ok := v.(*corev1.ConfigMap)
		if !ok || !strings.HasPrefix(k, "ConfigMap/bs-benchstation-dashboard-") {
			continue
		}
		require.Len(t, cm.Data, 1, k)
		for name := range cm.Data {
			out[name] = cm
		}
	}
	return out
}

func committedDashboards(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = raw
	}
	return out
}

// TestDashboardConfigMapsHoldTheDashboards: with the compose stack's data
// source uids, each ConfigMap holds its dashboard byte for byte, labelled
// and annotated for the Grafana sidecar.
func TestDashboardConfigMapsHoldTheDashboards(t *testing.T) {
	t.Parallel()
	want := committedDashboards(t)
	got := dashboardConfigMaps(t, map[string]any{"dashboards": map[string]any{"datasourceUids": map[string]any{
		"prometheus": dashboards.PrometheusUID, "loki": dashboards.LokiUID, "bencher": dashboards.BencherUID}}})
	require.Len(t, got, len(want))
	for name, raw := range want {
		cm := got[name]
		require.NotNil(t, cm, "no ConfigMap for %s", name)
		assertSameBytes(t, raw, []byte(cm.Data[name]), name)
		assert.Equal(t, "1", cm.Labels["grafana_dashboard"], name)
		assert.Equal(t, "Benchstation", cm.Annotations["grafana_folder"], name)
		assert.Equal(t, "monitoring", cm.Namespace)
	}
}

// TestDashboardsUseKubePrometheusStacksDatasource: by default the
// Prometheus uid is kube-prometheus-stack's ("prometheus"); the JSON is
// otherwise the committed dashboard's.
func TestDashboardsUseKubePrometheusStacksDatasource(t *testing.T) {
	t.Parallel()
	want := committedDashboards(t)
	got := dashboardConfigMaps(t, nil)
	for name, raw := range want {
		data := got[name].Data[name]
		assert.NotContains(t, data, `"`+dashboards.PrometheusUID+`"`, name)
		assert.Contains(t, data, `"uid": "prometheus"`, name)
		var gotJSON, wantJSON any
		require.NoError(t, json.Unmarshal([]byte(data), &gotJSON))
		require.NoError(t, json.Unmarshal(bytes.ReplaceAll(raw, []byte(`"uid": "`+dashboards.PrometheusUID+`"`), []byte(`"uid": "prometheus"`)), &wantJSON))
		assert.Equal(t, wantJSON, gotJSON, name)
		// Every Prometheus reference was rewritten, none missed by a
		// different spacing.
		assert.Equal(t, strings.Count(string(raw), dashboards.PrometheusUID), strings.Count(data, `"uid": "prometheus"`), name)
	}
}

// TestDashboardsFolderAndLabelFollowValues: another sidecar label, folder
// and namespace.
func TestDashboardsFolderAndLabelFollowValues(t *testing.T) {
	t.Parallel()
	got := dashboardConfigMaps(t, map[string]any{"dashboards": map[string]any{
		"label": "dash", "labelValue": "yes", "folderAnnotation": "k8s-sidecar-target-directory", "folder": "/tmp/dashboards/LLM", "namespace": "grafana"}})
	require.NotEmpty(t, got)
	for name, cm := range got {
		assert.Equal(t, "yes", cm.Labels["dash"], name)
		assert.NotContains(t, cm.Labels, "grafana_dashboard")
		assert.Equal(t, "/tmp/dashboards/LLM", cm.Annotations["k8s-sidecar-target-directory"], name)
		assert.Equal(t, "grafana", cm.Namespace)
	}
}

// assertSameBytes compares two files byte for byte, and tells where they
// part rather than printing them whole.
func assertSameBytes(t *testing.T, want, got []byte, name string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(0, i-40)
	t.Errorf("%s: differs at byte %d of %d (got %d bytes): want %q, got %q", name, i, len(want), len(got),
		want[lo:min(len(want), i+40)], got[lo:min(len(got), i+40)])
}
