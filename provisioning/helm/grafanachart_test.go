package helm

import (
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// grafanaChartEnv names a directory holding the Grafana Helm chart
// (grafana-community/helm-charts, charts/grafana) for
// TestGrafanaChartRendersTheValues. The chart is not a Go module and this
// machine's CI reaches no chart repository, so the test runs only where
// the chart was fetched: README, "On Kubernetes".
const grafanaChartEnv = "BENCHSTATION_GRAFANA_CHART"

// TestGrafanaChartRendersTheValues renders the real Grafana chart with
// grafana-values.yaml, as helm install would, and checks the Grafana pod
// it makes: the plugin's init container copies into the volume mounted at
// the plugin's directory, the unsigned plugin is allowed in grafana.ini,
// the API key variable comes from the Secret, the data source is
// provisioned with the dashboards' uid, and the dashboard sidecar watches
// the label and folder annotation of the benchstation chart's ConfigMaps.
func TestGrafanaChartRendersTheValues(t *testing.T) {
	dir := os.Getenv(grafanaChartEnv)
	if dir == "" {
		t.Skipf("%s is not set: the Grafana chart is not here (grafana-values.yaml is still decoded strictly by TestGrafanaValuesInstallThePlugin)", grafanaChartEnv)
	}
	t.Parallel()
	ch, err := loader.Load(dir)
	require.NoError(t, err, "%s=%s", grafanaChartEnv, dir)
	t.Logf("the Grafana chart %s %s (Grafana %s)", ch.Metadata.Name, ch.Metadata.Version, ch.Metadata.AppVersion)
	raw, err := os.ReadFile("grafana-values.yaml")
	require.NoError(t, err)
	var vals map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &vals))
	files, err := renderChart(ch, vals, common.ReleaseOptions{Name: "grafana", Namespace: "monitoring", Revision: 1,
		IsInstall: true})
	require.NoError(t, err, "the chart's schema accepts the values, and it renders")
	objs := map[string]object{}
	for _, o := range split(t, files) {
		objs[o.Kind+"/"+o.Name] = o
	}
	decode := func(key string) any {
		t.Helper()
		o, ok := objs[key]
		require.True(t, ok, "the chart rendered no %s; it rendered %v", key, slices.Sorted(maps.Keys(objs)))
		v, err := decodeStrict(o)
		require.NoError(t, err)
		return v
	}

	pod := decode("Deployment/grafana").(*appsv1.Deployment).Spec.Template.Spec
	var grafana *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "grafana" {
			grafana = &pod.Containers[i]
		}
	}
	require.NotNil(t, grafana, "the Grafana container")

	// The plugin: copied by the init container into a volume that the
	// Grafana container mounts as <plugins path>/<plugin id>.
	i := slices.IndexFunc(pod.InitContainers, func(c corev1.Container) bool { return c.Name == "benchstation-bencher-plugin" })
	require.GreaterOrEqual(t, i, 0, "the plugin's init container")
	ic := pod.InitContainers[i]
	require.Len(t, ic.VolumeMounts, 1)
	vol := ic.VolumeMounts[0].Name
	v := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == vol })
	require.GreaterOrEqual(t, v, 0, "the volume %s exists", vol)
	assert.NotNil(t, pod.Volumes[v].EmptyDir, "an emptyDir")
	m := slices.IndexFunc(grafana.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == vol })
	require.GreaterOrEqual(t, m, 0, "Grafana mounts %s", vol)
	assert.Equal(t, "/var/lib/grafana/plugins/"+plugin.PluginID, grafana.VolumeMounts[m].MountPath)
	pluginsPath := envOf(grafana, "GF_PATHS_PLUGINS")
	require.NotNil(t, pluginsPath, "the chart sets Grafana's plugins path")
	assert.Equal(t, "/var/lib/grafana/plugins", pluginsPath.Value)

	// The API key variable, from the Secret; never a value in the pod.
	key := envOf(grafana, "VLLM_API_KEY")
	require.NotNil(t, key, "VLLM_API_KEY in the Grafana container")
	assert.Empty(t, key.Value)
	require.NotNil(t, key.ValueFrom)
	require.NotNil(t, key.ValueFrom.SecretKeyRef)
	assert.Equal(t, "benchstation-vllm", key.ValueFrom.SecretKeyRef.Name)

	// grafana.ini allows the unsigned plugin.
	cm := decode("ConfigMap/grafana").(*corev1.ConfigMap)
	assert.Regexp(t, `(?m)^\[plugins\]\nallow_loading_unsigned_plugins = `+plugin.PluginID+`$`, cm.Data["grafana.ini"])
	// The data source, provisioned with the uid the dashboards name.
	var ds struct {
		Datasources []struct {
			UID, Type string
			JSONData  map[string]any    `json:"jsonData"`
			Secure    map[string]string `json:"secureJsonData"`
		} `json:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["benchstation-datasources.yaml"]), &ds), "the data sources file")
	require.Len(t, ds.Datasources, 1)
	assert.Equal(t, dashboards.BencherUID, ds.Datasources[0].UID)
	assert.Equal(t, plugin.PluginID, ds.Datasources[0].Type)
	assert.Equal(t, "$VLLM_API_KEY", ds.Datasources[0].Secure["apiKey"])

	// The dashboard sidecar finds the benchstation chart's ConfigMaps.
	ours := get[*corev1.ConfigMap](t, decodeAll(t, render(t, nil)), "ConfigMap/bs-benchstation-dashboard-gpu-vllm")
	s := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == "grafana-sc-dashboard" })
	require.GreaterOrEqual(t, s, 0, "the dashboard sidecar")
	sc := &pod.Containers[s]
	label, value := envOf(sc, "LABEL"), envOf(sc, "LABEL_VALUE")
	require.NotNil(t, label)
	require.NotNil(t, value)
	assert.Equal(t, value.Value, ours.Labels[label.Value], "the sidecar's label selects the dashboards' ConfigMaps")
	folder := envOf(sc, "FOLDER_ANNOTATION")
	require.NotNil(t, folder)
	assert.Contains(t, ours.Annotations, folder.Value)
	assert.Equal(t, "ALL", envOf(sc, "NAMESPACE").Value, "across namespaces: the chart's release may be elsewhere")
}

// envOf returns the container's variable name, or nil.
func envOf(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}
