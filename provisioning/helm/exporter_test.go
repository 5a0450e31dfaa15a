package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/benchstation/benchstation/exporter/batch"
)

const (
	daemonSet    = "DaemonSet/bs-benchstation-exporter"
	exporterName = "bs-benchstation-exporter"
)

// exporterContainer returns the DaemonSet's exporter container.
func exporterContainer(t *testing.T, ds *appsv1.DaemonSet) corev1.Container {
	t.Helper()
	require.Len(t, ds.Spec.Template.Spec.Containers, 1)
	c := ds.Spec.Template.Spec.Containers[0]
	require.Equal(t, "exporter", c.Name)
	return c
}

// TestExporterDaemonSetRunsOnGPUNodes checks where and how the exporter
// runs by default: GPU nodes (and their taint), the NVIDIA runtime class,
// the host's /proc read-only for process names, not root, no host PID
// namespace, probes on /healthz, the image at the chart's appVersion.
func TestExporterDaemonSetRunsOnGPUNodes(t *testing.T) {
	t.Parallel()
	ds := get[*appsv1.DaemonSet](t, decodeAll(t, render(t, nil)), daemonSet)
	spec := ds.Spec.Template.Spec
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true"}, spec.NodeSelector)
	assert.Contains(t, spec.Tolerations, corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	require.NotNil(t, spec.RuntimeClassName)
	assert.Equal(t, "nvidia", *spec.RuntimeClassName)
	assert.False(t, spec.HostPID)

	c := exporterContainer(t, ds)
	assert.Equal(t, "benchstation/exporter:"+loadChart(t).Metadata.AppVersion, c.Image)
	assert.Contains(t, c.Args, "--path.procfs=/host/proc")
	assert.Contains(t, c.Args, "--web.listen-address=:9849")
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "host-proc", MountPath: "/host/proc", ReadOnly: true})
	var proc *corev1.Volume
	for i, v := range spec.Volumes {
		if v.Name == "host-proc" {
			proc = &spec.Volumes[i]
		}
	}
	require.NotNil(t, proc)
	require.NotNil(t, proc.HostPath)
	assert.Equal(t, "/proc", proc.HostPath.Path)

	require.NotNil(t, spec.SecurityContext.RunAsNonRoot)
	assert.True(t, *spec.SecurityContext.RunAsNonRoot)
	assert.EqualValues(t, 65532, *spec.SecurityContext.RunAsUser)
	require.NotNil(t, c.SecurityContext)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.Empty(t, c.SecurityContext.Capabilities.Add)
	assert.NotEmpty(t, c.Resources.Requests)
	assert.NotEmpty(t, c.Resources.Limits)

	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNil(t, p, name)
		require.NotNil(t, p.HTTPGet, name)
		assert.Equal(t, "/healthz", p.HTTPGet.Path, name)
		assert.Equal(t, "metrics", p.HTTPGet.Port.String(), name)
	}
	require.Len(t, c.Ports, 1)
	assert.EqualValues(t, 9849, c.Ports[0].ContainerPort)
	assert.Empty(t, c.EnvFrom)
}

// TestExporterProcessOptions: hostPID on request; hidepid hosts get the
// mount's group, or root with CAP_SYS_PTRACE and nothing else.
func TestExporterProcessOptions(t *testing.T) {
	t.Parallel()
	proc := func(v map[string]any) *appsv1.DaemonSet {
		return get[*appsv1.DaemonSet](t, decodeAll(t, render(t, map[string]any{"exporter": map[string]any{"processes": v}})), daemonSet)
	}
	assert.True(t, proc(map[string]any{"hostPID": true}).Spec.Template.Spec.HostPID)

	grouped := proc(map[string]any{"procGroup": 1500})
	assert.Equal(t, []int64{1500}, grouped.Spec.Template.Spec.SecurityContext.SupplementalGroups)
	assert.True(t, *grouped.Spec.Template.Spec.SecurityContext.RunAsNonRoot)

	root := proc(map[string]any{"runAsRoot": true})
	assert.EqualValues(t, 0, *root.Spec.Template.Spec.SecurityContext.RunAsUser)
	c := exporterContainer(t, root)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.Equal(t, []corev1.Capability{"SYS_PTRACE"}, c.SecurityContext.Capabilities.Add)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
}

// TestExporterServiceAndServiceMonitor checks the headless Service and the
// ServiceMonitor: honorLabels (the batch collector's endpoint label), the
// interval and the labels the operator selects on, job and instance as
// the dashboards and rules expect them.
func TestExporterServiceAndServiceMonitor(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, map[string]any{"exporter": map[string]any{"serviceMonitor": map[string]any{
		"interval": "30s", "additionalLabels": map[string]any{"release": "prom", "team": "gpu"}}}}))
	svc := get[*corev1.Service](t, objs, "Service/"+exporterName)
	assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, "metrics", svc.Spec.Ports[0].Name)
	ds := get[*appsv1.DaemonSet](t, objs, daemonSet)
	for k, v := range svc.Spec.Selector {
		assert.Equal(t, v, ds.Spec.Template.Labels[k], "the Service selects the exporter's pods by %s", k)
	}

	sm := get[*monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor/"+exporterName)
	assert.Equal(t, "prom", sm.Labels["release"])
	assert.Equal(t, "gpu", sm.Labels["team"])
	for k, v := range sm.Spec.Selector.MatchLabels {
		assert.Equal(t, v, svc.Labels[k], "the ServiceMonitor selects the Service by %s", k)
	}
	require.Len(t, sm.Spec.Endpoints, 1)
	ep := sm.Spec.Endpoints[0]
	assert.True(t, ep.HonorLabels, "honorLabels keeps the batch collector's endpoint label")
	assert.Equal(t, monitoringv1.Duration("30s"), ep.Interval)
	assert.Equal(t, "metrics", ep.Port)
	assert.Equal(t, []string{"monitoring"}, sm.Spec.NamespaceSelector.MatchNames)
	var job, instance bool
	for _, r := range ep.RelabelConfigs {
		if r.TargetLabel == "job" && r.Replacement != nil && *r.Replacement == "benchstation-exporter" {
			job = true
		}
		if r.TargetLabel == "instance" && len(r.SourceLabels) == 1 && r.SourceLabels[0] == "__meta_kubernetes_pod_node_name" {
			instance = true
		}
	}
	assert.True(t, job, "job=\"benchstation-exporter\", which the rules and dashboards select")
	assert.True(t, instance, "instance is the node's name")

	off := decodeAll(t, render(t, map[string]any{"exporter": map[string]any{"serviceMonitor": map[string]any{"enabled": false}}}))
	assert.NotContains(t, off, "ServiceMonitor/"+exporterName)
	assert.Contains(t, off, daemonSet)
}

// TestExporterBatchEndpoints renders batch endpoints whose keys come from
// Secrets, as a file and as a variable, and loads the rendered config file
// with the exporter's own loader, the keys where the pod would have them.
func TestExporterBatchEndpoints(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, allOn()))
	ds := get[*appsv1.DaemonSet](t, objs, daemonSet)
	c := exporterContainer(t, ds)
	assert.Contains(t, c.Args, "--batch.config-file=/etc/benchstation/batch/endpoints.yaml")
	cm := get[*corev1.ConfigMap](t, objs, "ConfigMap/"+exporterName+"-batch")
	file := cm.Data["endpoints.yaml"]
	require.NotEmpty(t, file)

	// The exporter's file format, strictly.
	var cfg struct {
		Endpoints []struct {
			Name       string `yaml:"name"`
			URL        string `yaml:"url"`
			APIKeyFile string `yaml:"api_key_file"`
			APIKeyEnv  string `yaml:"api_key_env"`
		} `yaml:"endpoints"`
	}
	dec := yaml.NewDecoder(strings.NewReader(file))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	require.Len(t, cfg.Endpoints, 3)

	// Where the pod has each key: a Secret's item mounted at the file's
	// directory, or a variable from a Secret.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	secretFiles := map[string]string{} // path in the pod -> secret/key
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		require.Len(t, v.Secret.Items, 1)
		secretFiles[filepath.Join(mounts[v.Name], v.Secret.Items[0].Path)] = v.Secret.SecretName + "/" + v.Secret.Items[0].Key
	}
	secretEnv := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretEnv[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	assert.Equal(t, "openai-batch/api-key", secretFiles[cfg.Endpoints[0].APIKeyFile])
	assert.Equal(t, "vllm-batch/token", secretEnv[cfg.Endpoints[1].APIKeyEnv])
	assert.Empty(t, cfg.Endpoints[2].APIKeyFile+cfg.Endpoints[2].APIKeyEnv)

	// The exporter's loader, with the key file where the pod has it
	// (under a temporary directory) and the variable set.
	dir := t.TempDir()
	keyFile := filepath.Join(dir, filepath.FromSlash(cfg.Endpoints[0].APIKeyFile))
	require.NoError(t, os.MkdirAll(filepath.Dir(keyFile), 0o755))
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-file-key\n"), 0o600))
	rewritten := strings.ReplaceAll(file, cfg.Endpoints[0].APIKeyFile, keyFile)
	path := filepath.Join(dir, "endpoints.yaml")
	require.NoError(t, os.WriteFile(path, []byte(rewritten), 0o644))
	eps, err := batch.LoadConfigFile(path, func(k string) string {
		if k == cfg.Endpoints[1].APIKeyEnv {
			return "sk-env-key"
		}
		return ""
	})
	require.NoError(t, err)
	require.Len(t, eps, 3)
	assert.Equal(t, "openai", eps[0].Name)
	assert.Equal(t, "sk-file-key", eps[0].APIKey.Value())
	assert.Equal(t, "sk-env-key", eps[1].APIKey.Value())
	assert.False(t, eps[2].APIKey.IsSet())

	// The key files are readable by the exporter's group only.
	assert.EqualValues(t, 65532, *ds.Spec.Template.Spec.SecurityContext.FSGroup)
}
