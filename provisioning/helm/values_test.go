package helm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// TestSchemaRefusesBadValues: helm checks values against
// values.schema.json before rendering, and the templates check what a
// schema cannot say without quoting a value; each bad value is refused
// with a message that names it, and that never quotes a key.
func TestSchemaRefusesBadValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		vals map[string]any
		want []string
	}{
		{"no shards", map[string]any{"bencher": map[string]any{"shards": 0}},
			[]string{"/bencher/shards", "minimum"}},
		{"run name not a DNS label", map[string]any{"bencher": map[string]any{"run": "Run_1"}},
			[]string{"/bencher/run", "does not match pattern"}},
		{"start not RFC 3339", map[string]any{"bencher": map[string]any{"startAt": "tomorrow 9am"}},
			[]string{"/bencher/startAt"}},
		{"a key in values", map[string]any{"exporter": map[string]any{"batch": map[string]any{"endpoints": []any{
			map[string]any{"name": "openai", "url": "https://api.openai.com", "apiKey": map[string]any{"value": "sk-123"}}}}}},
			[]string{"/exporter/batch/endpoints/0/apiKey", "additional properties 'value' not allowed"}},
		{"credentials in a URL", map[string]any{"exporter": map[string]any{"batch": map[string]any{"endpoints": []any{
			map[string]any{"name": "x", "url": "https://user:sk-123@api.example.com"}}}}},
			[]string{"exporter.batch.endpoints[0].url: user information is not allowed"}},
		{"a key in a URL's query", map[string]any{"exporter": map[string]any{"batch": map[string]any{"endpoints": []any{
			map[string]any{"name": "x", "url": "https://api.example.com/v1?key=sk-123"}}}}},
			[]string{"exporter.batch.endpoints[0].url: a query or fragment is not allowed"}},
		{"not http", map[string]any{"exporter": map[string]any{"batch": map[string]any{"endpoints": []any{
			map[string]any{"name": "x", "url": "ftp://sk-123.example.com"}}}}},
			[]string{"exporter.batch.endpoints[0].url: the scheme must be http or https"}},
		{"a typo", map[string]any{"exporter": map[string]any{"nodeselector": map[string]any{}}},
			[]string{"/exporter", "additional properties 'nodeselector' not allowed"}},
		{"a bad duration", map[string]any{"exporter": map[string]any{"serviceMonitor": map[string]any{"interval": "15"}}},
			[]string{"/exporter/serviceMonitor/interval"}},
		{"a flag that is not one", map[string]any{"exporter": map[string]any{"extraArgs": []any{"collector.process"}}},
			[]string{"/exporter/extraArgs/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderErr(t, c.vals)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "sk-123", "the error quotes no key")
		})
	}
}

// keyish matches the names of values that would hold a credential.
var keyish = regexp.MustCompile(`(?i)(api[_-]?key|token|password|secret)`)

// credentialLike matches strings that look like keys: OpenAI's, a bearer
// header, a JWT.
var credentialLike = regexp.MustCompile(`(?i)\bsk-[a-z0-9_-]{8,}|bearer\s+\S{8,}|eyJ[a-zA-Z0-9_-]{10,}\.`)

// keyProblems walks a YAML document: every value under a credential-like
// name is a reference (a Secret's name and key, a $VARIABLE, empty), and
// no string looks like a key. It returns what is wrong, by path.
func keyProblems(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := path + "." + k
			if s, ok := x.(string); ok && keyish.MatchString(k) && k != "existingSecret" && !envRef.MatchString(s) && s != "" {
				out = append(out, fmt.Sprintf("%s = %q: a credential belongs in a Secret, referenced by name", p, s))
			}
			out = append(out, keyProblems(p, x)...)
		}
	case []any:
		for i, x := range v {
			out = append(out, keyProblems(fmt.Sprintf("%s[%d]", path, i), x)...)
		}
	case string:
		if credentialLike.MatchString(v) {
			out = append(out, path+" looks like a key")
		}
	}
	return out
}

// envRef is a $NAME or ${NAME} reference, which Grafana's provisioning
// replaces with the variable.
var envRef = regexp.MustCompile(`^\$\{?[A-Z_][A-Z0-9_]*\}?$`)

// TestNoValuesFileHoldsAKey: the chart's values and the Grafana chart's
// values name Secrets; none holds a key.
func TestNoValuesFileHoldsAKey(t *testing.T) {
	t.Parallel()
	for _, f := range []string{filepath.Join(ChartDir, "values.yaml"), "grafana-values.yaml"} {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc any
		require.NoError(t, yaml.Unmarshal(raw, &doc), f)
		assert.Empty(t, keyProblems(f, doc))
	}
	// The check can fail.
	assert.Len(t, keyProblems("x", map[string]any{"apiKey": "hunter2", "headers": []any{"Bearer abcdefghijkl"}}), 2)
	assert.Empty(t, keyProblems("x", map[string]any{"apiKey": "$VLLM_API_KEY", "existingSecret": "s", "key": "api-key"}))
}

// grafanaValues are the keys of the Grafana chart's values that
// grafana-values.yaml uses (grafana-community/helm-charts, charts/grafana/values.yaml),
// decoded strictly: a key the chart does not have, misspelt or misplaced,
// fails.
type grafanaValues struct {
	GrafanaINI struct {
		Plugins struct {
			AllowLoadingUnsignedPlugins string `yaml:"allow_loading_unsigned_plugins"`
		} `yaml:"plugins"`
	} `yaml:"grafana.ini"`
	ExtraInitContainers []struct {
		Name            string   `yaml:"name"`
		Image           string   `yaml:"image"`
		ImagePullPolicy string   `yaml:"imagePullPolicy"`
		Command         []string `yaml:"command"`
		SecurityContext struct {
			RunAsNonRoot             bool  `yaml:"runAsNonRoot"`
			RunAsUser                int64 `yaml:"runAsUser"`
			AllowPrivilegeEscalation bool  `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"extraInitContainers"`
	ExtraEmptyDirMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"extraEmptyDirMounts"`
	EnvValueFrom map[string]struct {
		SecretKeyRef struct {
			Name     string `yaml:"name"`
			Key      string `yaml:"key"`
			Optional bool   `yaml:"optional"`
		} `yaml:"secretKeyRef"`
	} `yaml:"envValueFrom"`
	Datasources map[string]struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name           string            `yaml:"name"`
			UID            string            `yaml:"uid"`
			Type           string            `yaml:"type"`
			Access         string            `yaml:"access"`
			Editable       bool              `yaml:"editable"`
			JSONData       map[string]any    `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	} `yaml:"datasources"`
	Sidecar struct {
		Dashboards struct {
			Enabled          bool   `yaml:"enabled"`
			Label            string `yaml:"label"`
			LabelValue       string `yaml:"labelValue"`
			SearchNamespace  string `yaml:"searchNamespace"`
			FolderAnnotation string `yaml:"folderAnnotation"`
			Provider         struct {
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			} `yaml:"provider"`
		} `yaml:"dashboards"`
	} `yaml:"sidecar"`
}

// TestGrafanaValuesInstallThePlugin decodes grafana-values.yaml strictly
// and checks it against what the plugin needs: its id (plugin.json)
// allowed unsigned, its files copied to a directory of that name under
// the plugins path, the data source of its type with the uid the
// dashboards name, and jsonData the plugin's own settings parser accepts;
// the dashboard sidecar finds the chart's ConfigMaps and their folder.
func TestGrafanaValuesInstallThePlugin(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("grafana-values.yaml")
	require.NoError(t, err)
	var v grafanaValues
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&v))

	var pj struct {
		ID         string `json:"id"`
		Executable string `json:"executable"`
		Type       string `json:"type"`
	}
	readJSON(t, filepath.Join(root, "grafana-plugin", "src", "plugin.json"), &pj)
	require.Equal(t, plugin.PluginID, pj.ID)

	assert.Contains(t, strings.Split(v.GrafanaINI.Plugins.AllowLoadingUnsignedPlugins, ","), pj.ID)

	// The init container copies the image's plugin directory into an
	// emptyDir that Grafana mounts as <plugins path>/<id>.
	require.Len(t, v.ExtraInitContainers, 1)
	ic := v.ExtraInitContainers[0]
	assert.Equal(t, "benchstation/grafana:"+loadChart(t).Metadata.AppVersion, ic.Image, "the image of the same version")
	assert.Contains(t, ic.Command, "/opt/grafana-plugins/"+pj.ID+"/.", "the Dockerfile's grafana image has the plugin there")
	require.Len(t, ic.VolumeMounts, 1)
	dst := ic.Command[len(ic.Command)-1]
	assert.Equal(t, strings.TrimSuffix(dst, "/"), ic.VolumeMounts[0].MountPath)
	assert.True(t, ic.SecurityContext.RunAsNonRoot)
	var pluginMount string
	for _, m := range v.ExtraEmptyDirMounts {
		if m.Name == ic.VolumeMounts[0].Name {
			pluginMount = m.MountPath
		}
	}
	assert.Equal(t, "/var/lib/grafana/plugins/"+pj.ID, pluginMount, "the Grafana chart's plugins path, and the plugin's id")
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	assert.Contains(t, string(dockerfile), "/opt/grafana-plugins/"+pj.ID+"/", "the Dockerfile's grafana target puts the plugin where the init container copies from")

	// The data source.
	var found int
	for _, file := range v.Datasources {
		assert.Equal(t, 1, file.APIVersion)
		for _, ds := range file.Datasources {
			if ds.Type != pj.ID {
				continue
			}
			found++
			assert.Equal(t, dashboards.BencherUID, ds.UID, "the uid the dashboards' bencher panels name")
			jd, err := json.Marshal(ds.JSONData)
			require.NoError(t, err)
			key := ds.SecureJSONData["apiKey"]
			require.True(t, envRef.MatchString(key), "secureJsonData.apiKey is a variable: %q", key)
			name := strings.Trim(key, "${}")
			assert.Contains(t, v.EnvValueFrom, name, "the variable comes from a Secret")
			s, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{UID: ds.UID, Name: ds.Name, Type: ds.Type,
				JSONData: jd, DecryptedSecureJSONData: map[string]string{"apiKey": "from-the-secret"}})
			require.NoError(t, err, "the plugin's settings parser")
			assert.NotEmpty(t, s.ResultsDir)
			var mounted bool
			for _, m := range v.ExtraEmptyDirMounts {
				mounted = mounted || m.MountPath == s.ResultsDir
			}
			assert.True(t, mounted, "resultsDir %s is a mounted volume", s.ResultsDir)
		}
	}
	assert.Equal(t, 1, found, "one data source of type %s", pj.ID)

	// The sidecar reads the chart's dashboard ConfigMaps and their folder.
	sc := v.Sidecar.Dashboards
	assert.True(t, sc.Enabled)
	d := get[*corev1.ConfigMap](t, decodeAll(t, render(t, nil)), "ConfigMap/bs-benchstation-dashboard-gpu-vllm")
	assert.Equal(t, sc.LabelValue, d.Labels[sc.Label])
	assert.Contains(t, d.Annotations, sc.FolderAnnotation)
	assert.True(t, sc.Provider.FoldersFromFilesStructure, "folderAnnotation needs foldersFromFilesStructure")
}
