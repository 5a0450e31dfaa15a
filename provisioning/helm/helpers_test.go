package helm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// root is the repository's root, from this package.
const root = "../.."

// release is the release every test renders.
var release = common.ReleaseOptions{Name: "bs", Namespace: "monitoring", Revision: 1, IsInstall: true}

// loadChart loads the chart as helm install would.
func loadChart(t testing.TB) *chartv2.Chart {
	t.Helper()
	ch, err := loader.Load(ChartDir)
	require.NoError(t, err)
	return ch
}

// renderErr renders the chart with vals over its values.yaml, validating
// them against values.schema.json as helm does.
func renderErr(t testing.TB, vals map[string]any) (map[string]string, error) {
	t.Helper()
	return renderChart(loadChart(t), vals, release)
}

// renderChart renders any chart ch as helm install would for rel.
func renderChart(ch *chartv2.Chart, vals map[string]any, rel common.ReleaseOptions) (map[string]string, error) {
	rv, err := util.ToRenderValues(ch, vals, rel, nil)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// object is one rendered Kubernetes object: the template it came from,
// its kind and name, and its YAML.
type object struct {
	Template, Kind, Name string
	YAML                 []byte
}

// render renders the chart and splits it into objects; it fails the test
// when rendering does, or when an object has no kind or name.
func render(t testing.TB, vals map[string]any) []object {
	t.Helper()
	files, err := renderErr(t, vals)
	require.NoError(t, err)
	return split(t, files)
}

// split splits rendered templates into objects; it fails the test when
// an object has no kind or name.
func split(t testing.TB, files map[string]string) []object {
	t.Helper()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []object
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		docs := releaseutil.SplitManifests(files[name])
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			// As helm keeps it: a block scalar's last line break is the
			// document's (a dashboard's final newline).
			doc := docs[k]
			if strings.TrimSpace(doc) == "" || onlyComments(doc) {
				continue
			}
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), "%s:\n%s", name, doc)
			require.NotEmpty(t, meta.Kind, "%s: an object without a kind:\n%s", name, doc)
			require.NotEmpty(t, meta.Metadata.Name, "%s: a %s without a name", name, meta.Kind)
			out = append(out, object{Template: name, Kind: meta.Kind, Name: meta.Metadata.Name, YAML: []byte(doc)})
		}
	}
	return out
}

func onlyComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// typed returns a new value of the Go type of kind: the Kubernetes API's
// own types, and the Prometheus Operator's.
func typed(kind string) (any, error) {
	switch kind {
	case "DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "Deployment":
		return &appsv1.Deployment{}, nil
	case "Service":
		return &corev1.Service{}, nil
	case "ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "Secret":
		return &corev1.Secret{}, nil
	case "PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "Job":
		return &batchv1.Job{}, nil
	case "ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, nil
	case "PrometheusRule":
		return &monitoringv1.PrometheusRule{}, nil
	}
	return nil, fmt.Errorf("kind %s has no Go type in this test: add it", kind)
}

// decodeStrict decodes o into its Go type; an unknown field fails.
func decodeStrict(o object) (any, error) {
	v, err := typed(o.Kind)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON(o.YAML)
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): %w", o.Kind, o.Name, o.Template, err)
	}
	// As the API server decodes: field names case-sensitive, unknown and
	// duplicate fields refused (encoding/json, under sigs.k8s.io/yaml's
	// UnmarshalStrict, would take clusterIp for clusterIP).
	strict, err := sigsjson.UnmarshalStrict(j, v)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): %w", o.Kind, o.Name, o.Template, err)
	}
	return v, nil
}

// decodeAll decodes every object strictly, failing the test on the first
// that does not decode.
func decodeAll(t testing.TB, objs []object) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, o := range objs {
		v, err := decodeStrict(o)
		require.NoError(t, err)
		key := o.Kind + "/" + o.Name
		require.NotContains(t, out, key, "two objects named %s", key)
		out[key] = v
	}
	return out
}

// get returns the object kind/name of objs as its Go type T.
func get[T any](t testing.TB, objs map[string]any, key string) T {
	t.Helper()
	v, ok := objs[key]
	require.True(t, ok, "no %s among %v", key, keys(objs))
	got, ok := v.(T)
	require.True(t, ok, "%s is a %T", key, v)
	return got
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// allOn are values that switch every part on, with batch endpoints whose
// keys come as a file and as a variable.
func allOn() map[string]any {
	return map[string]any{
		"exporter": map[string]any{
			"processes": map[string]any{"hostPID": true},
			"batch": map[string]any{"endpoints": []any{
				map[string]any{"name": "openai", "url": "https://api.openai.com",
					"apiKey": map[string]any{"existingSecret": "openai-batch", "key": "api-key"}},
				map[string]any{"name": "vllm-batch", "url": "http://vllm-batch.serving:8000/v1",
					"apiKey": map[string]any{"existingSecret": "vllm-batch", "key": "token", "mountAs": "env"}},
				map[string]any{"name": "open", "url": "http://batch.lab:8000"},
			}},
		},
		"vllm": map[string]any{"serviceMonitor": map[string]any{"enabled": true,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "vllm"}}, "namespaces": []any{"serving"}}},
		"prometheusRule": map[string]any{"compat": true},
		"bencher": map[string]any{"enabled": true, "shards": 4, "startAt": "2026-12-02T18:00:00Z",
			"apiKey": map[string]any{"existingSecret": "vllm-key"}},
	}
}

// readJSON reads a JSON file into v.
func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	require.NoError(t, dec.Decode(v), path)
}

// mustJSON converts YAML to JSON.
func mustJSON(t testing.TB, y []byte) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	require.NoError(t, err)
	return j
}
