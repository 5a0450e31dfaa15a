package stacktest

// Checks of the Grafana provisioning files (data sources, dashboard
// provider, contact point, notification policy) and a secret scan of every
// provisioning file. (The file name's prefix follows who owns which test
// files in this package.)

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// Grafana provisioning files, relative to the repository root.
const (
	datasourcesPath       = "provisioning/grafana/datasources/benchstation.yaml"
	dashboardProviderPath = "provisioning/grafana/dashboards/benchstation.yaml"
	contactPointsPath     = "provisioning/grafana/alerting/contact-points.yaml"
	policiesPath          = "provisioning/grafana/alerting/policies.yaml"
)

// The uids and names the contract fixes.
const (
	prometheusDatasourceUID = "benchstation-prometheus"
	lokiDatasourceUID       = "benchstation-loki"
	bencherDatasourceUID    = "benchstation-bencher"
	webhookContactPoint     = "benchstation-webhook"
	webhookURLVariable      = "ALERT_WEBHOOK_URL"
)

// decodeStrictYAML decodes the one YAML document of the file at path
// (relative to the repository root) into v, refusing fields v lacks.
func decodeStrictYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(v), "%s", path)
	var more any
	require.ErrorIs(t, dec.Decode(&more), io.EOF, "%s: one YAML document only", path)
}

// grafanaDatasources is a data source provisioning file (apiVersion 1),
// with the fields these files use.
type grafanaDatasources struct {
	APIVersion  int                 `yaml:"apiVersion"`
	Datasources []grafanaDatasource `yaml:"datasources"`
}

type grafanaDatasource struct {
	Name           string            `yaml:"name"`
	UID            string            `yaml:"uid"`
	Type           string            `yaml:"type"`
	Access         string            `yaml:"access"`
	URL            string            `yaml:"url"`
	OrgID          int               `yaml:"orgId"`
	IsDefault      bool              `yaml:"isDefault"`
	Editable       bool              `yaml:"editable"`
	JSONData       map[string]any    `yaml:"jsonData"`
	SecureJSONData map[string]string `yaml:"secureJsonData"`
}

// TestProvisionedDatasources checks the data sources: the three of the
// contract with their fixed uids, types and URLs, Prometheus the only
// default, and the bencher plugin's jsonData and secureJsonData accepted by
// the plugin's own settings parser (which refuses unknown keys), with its
// API key both set and unset in the environment.
func TestProvisionedDatasources(t *testing.T) {
	t.Parallel()
	var f grafanaDatasources
	decodeStrictYAML(t, datasourcesPath, &f)
	assert.Equal(t, 1, f.APIVersion)

	byUID := map[string]grafanaDatasource{}
	var defaults []string
	for _, ds := range f.Datasources {
		assert.NotContains(t, byUID, ds.UID, "uid %s given twice", ds.UID)
		byUID[ds.UID] = ds
		if ds.IsDefault {
			defaults = append(defaults, ds.UID)
		}
		assert.NotEmpty(t, ds.Name, "data source %s has a name", ds.UID)
		assert.Equal(t, "proxy", ds.Access, "data source %s: server-side access", ds.UID)
		assert.False(t, ds.Editable, "data source %s: provisioned, not edited in the UI", ds.UID)
	}
	require.ElementsMatch(t, []string{prometheusDatasourceUID, lokiDatasourceUID, bencherDatasourceUID}, slices.Collect(maps.Keys(byUID)))
	assert.Equal(t, []string{prometheusDatasourceUID}, defaults, "Prometheus is the only default data source")

	prom, loki, bench := byUID[prometheusDatasourceUID], byUID[lokiDatasourceUID], byUID[bencherDatasourceUID]
	assert.Equal(t, "prometheus", prom.Type)
	assert.Equal(t, "http://prometheus:9090", prom.URL)
	assert.Empty(t, prom.SecureJSONData)
	assert.Equal(t, "loki", loki.Type)
	assert.Equal(t, "http://loki:3100", loki.URL)
	assert.Empty(t, loki.SecureJSONData)
	assert.Equal(t, plugin.PluginID, bench.Type)

	for _, key := range []string{"", "sk-stand-in-key"} {
		settings, err := loadPluginSettings(bench, key)
		require.NoError(t, err, "the plugin refuses its provisioned settings (API key %q)", key)
		assert.Equal(t, "http://vllm:8000/v1", settings.DefaultTarget)
		assert.Equal(t, []string{"vllm", "label-studio:8080"}, settings.AllowedHosts)
		assert.Equal(t, "http://label-studio:8080", settings.LabelStudioURL, "the compose stack's Label Studio")
		assert.Equal(t, key != "", settings.LabelStudioToken.IsSet())
		assert.Equal(t, "/var/lib/grafana/benchstation-results", settings.ResultsDir)
		assert.Equal(t, prom.URL, settings.PrometheusURL, "the plugin asks the provisioned Prometheus")
		assert.Equal(t, key != "", settings.APIKey.IsSet())
		target, _ := url.Parse(settings.DefaultTarget)
		assert.True(t, settings.AllowsTarget(target), "the default target is allowed")
	}

	// The parser used above does refuse a misspelt key.
	typo := bench
	typo.JSONData = map[string]any{"defaultTargt": "http://vllm:8000/v1", "resultsDir": "/tmp"}
	_, err := loadPluginSettings(typo, "")
	assert.ErrorContains(t, err, "defaultTargt")
}

// loadPluginSettings runs a provisioned plugin data source through the
// plugin's settings parser, as Grafana would hand it over: jsonData as
// JSON, secureJsonData with environment variables replaced (every variable
// standing for apiKey).
func loadPluginSettings(ds grafanaDatasource, apiKey string) (plugin.Settings, error) {
	raw, err := json.Marshal(ds.JSONData)
	if err != nil {
		return plugin.Settings{}, err
	}
	secure := map[string]string{}
	for k, v := range ds.SecureJSONData {
		secure[k] = grafanaInterpolate(v, func(string) string { return apiKey })
	}
	return plugin.LoadSettings(backend.DataSourceInstanceSettings{
		UID: ds.UID, Name: ds.Name, Type: ds.Type, JSONData: raw, DecryptedSecureJSONData: secure,
	})
}

// grafanaInterpolate replaces $NAME and ${NAME} in a provisioning value as
// Grafana does ("$$" is a literal "$"), looking names up with env.
func grafanaInterpolate(s string, env func(string) string) string {
	parts := strings.Split(s, "$$")
	for i, p := range parts {
		parts[i] = os.Expand(p, env)
	}
	return strings.Join(parts, "$")
}

// TestProvisionedDashboardProvider checks the dashboard provider: files
// from /var/lib/grafana/dashboards (where compose mounts dashboards/), in
// the Benchstation folder, not saved from the UI.
func TestProvisionedDashboardProvider(t *testing.T) {
	t.Parallel()
	var f struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Type                  string `yaml:"type"`
			Folder                string `yaml:"folder"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeStrictYAML(t, dashboardProviderPath, &f)
	assert.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Providers, 1)
	p := f.Providers[0]
	assert.NotEmpty(t, p.Name)
	assert.Equal(t, 1, p.OrgID)
	assert.Equal(t, "file", p.Type)
	assert.Equal(t, "Benchstation", p.Folder)
	assert.False(t, p.AllowUIUpdates)
	assert.Equal(t, "/var/lib/grafana/dashboards", p.Options.Path)
	assert.False(t, p.Options.FoldersFromFilesStructure)
	assert.Positive(t, p.UpdateIntervalSeconds)
}

// TestProvisionedContactPointAndPolicy checks the alerting files: one
// webhook contact point with the fixed uid whose URL is only a reference
// to $ALERT_WEBHOOK_URL, and a default policy sending everything to it,
// grouped by alert name and folder.
func TestProvisionedContactPointAndPolicy(t *testing.T) {
	t.Parallel()
	var cps struct {
		APIVersion    int `yaml:"apiVersion"`
		ContactPoints []struct {
			OrgID     int    `yaml:"orgId"`
			Name      string `yaml:"name"`
			Receivers []struct {
				UID                   string         `yaml:"uid"`
				Type                  string         `yaml:"type"`
				DisableResolveMessage bool           `yaml:"disableResolveMessage"`
				Settings              map[string]any `yaml:"settings"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
	}
	decodeStrictYAML(t, contactPointsPath, &cps)
	assert.Equal(t, 1, cps.APIVersion)
	require.Len(t, cps.ContactPoints, 1)
	cp := cps.ContactPoints[0]
	assert.Equal(t, 1, cp.OrgID)
	assert.Equal(t, webhookContactPoint, cp.Name)
	require.Len(t, cp.Receivers, 1)
	r := cp.Receivers[0]
	assert.Equal(t, webhookContactPoint, r.UID)
	assert.Equal(t, "webhook", r.Type)
	assert.Contains(t, []any{"$" + webhookURLVariable, "${" + webhookURLVariable + "}"}, r.Settings["url"],
		"the webhook URL comes from the environment, never from the repository")
	for k, v := range r.Settings {
		if k != "url" {
			assert.NotContains(t, v, "$", "settings.%s: only the URL comes from the environment", k)
		}
	}
	got := grafanaInterpolate(r.Settings["url"].(string), func(name string) string {
		if name == webhookURLVariable {
			return "https://hooks.example/benchstation"
		}
		return ""
	})
	assert.Equal(t, "https://hooks.example/benchstation", got)

	var pol struct {
		APIVersion int `yaml:"apiVersion"`
		Policies   []struct {
			OrgID          int      `yaml:"orgId"`
			Receiver       string   `yaml:"receiver"`
			GroupBy        []string `yaml:"group_by"`
			GroupWait      string   `yaml:"group_wait"`
			GroupInterval  string   `yaml:"group_interval"`
			RepeatInterval string   `yaml:"repeat_interval"`
		} `yaml:"policies"`
	}
	decodeStrictYAML(t, policiesPath, &pol)
	assert.Equal(t, 1, pol.APIVersion)
	require.Len(t, pol.Policies, 1)
	p := pol.Policies[0]
	assert.Equal(t, 1, p.OrgID)
	assert.Equal(t, cp.Name, p.Receiver, "the default policy sends to the provisioned contact point (by name)")
	assert.Equal(t, []string{"alertname", "grafana_folder"}, p.GroupBy)
	for name, d := range map[string]string{"group_wait": p.GroupWait, "group_interval": p.GroupInterval, "repeat_interval": p.RepeatInterval} {
		_, err := model.ParseDuration(d)
		assert.NoError(t, err, "%s: %q", name, d)
	}
}

var (
	// secretKey matches keys whose values are credentials.
	secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|api_?key|token|credentials)$`)
	// envReference matches a value that only names an environment variable
	// (or Grafana's $__env{} and $__file{} expanders).
	envReference = regexp.MustCompile(`^(\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$__(env|file)\{[^}]+\})$`)
	// keyLike matches strings shaped like API keys and tokens.
	keyLike = regexp.MustCompile(`\b(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|glsa_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b`)
)

// TestProvisioningHasNoSecrets walks every YAML file under provisioning/:
// a credential key (password, token, apiKey, …) may only hold an
// environment reference or nothing, no URL may carry credentials or a
// token in its query, and no value may look like an API key.
func TestProvisioningHasNoSecrets(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	var files int
	err := filepath.WalkDir(filepath.Join(root, "provisioning"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yml") && !strings.HasSuffix(path, ".yaml")) {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if isHelmTemplate(path) {
			// Go templates, not YAML until rendered (the chart's tests
			// render them): no key-shaped text in them.
			if m := keyLike.Find(b); m != nil {
				t.Errorf("%s: a value shaped like an API key (%d bytes)", rel, len(m))
			}
			return nil
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s: %v", rel, err)
				break
			}
			for _, p := range scanSecrets(&doc, "") {
				t.Errorf("%s: %s", rel, p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, files, 6, "the provisioning files were found")
}

// isHelmTemplate reports whether path is in the templates directory of a
// Helm chart (beside its Chart.yaml).
func isHelmTemplate(path string) bool {
	for dir := filepath.Dir(path); filepath.Base(dir) != "provisioning" && dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if filepath.Base(dir) == "templates" {
			_, err := os.Stat(filepath.Join(filepath.Dir(dir), "Chart.yaml"))
			return err == nil
		}
	}
	return false
}

// scanSecrets returns the problems of a YAML node whose mapping key is key.
func scanSecrets(n *yaml.Node, key string) []string {
	var out []string
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, scanSecrets(c, key)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, scanSecrets(n.Content[i+1], n.Content[i].Value)...)
		}
	case yaml.ScalarNode:
		v := n.Value
		if secretKey.MatchString(key) && v != "" && !envReference.MatchString(v) {
			out = append(out, "line "+strconv.Itoa(n.Line)+": "+key+" holds a literal value; take it from the environment ($NAME)")
		}
		if keyLike.MatchString(v) {
			out = append(out, "line "+strconv.Itoa(n.Line)+": "+key+" holds something shaped like an API key")
		}
		for _, word := range strings.Fields(v) {
			if !strings.Contains(word, "://") {
				continue
			}
			u, err := url.Parse(strings.Trim(word, `"'(),`))
			if err != nil {
				continue
			}
			if u.User != nil {
				out = append(out, "line "+strconv.Itoa(n.Line)+": "+key+": URL with credentials")
			}
			for q := range u.Query() {
				if secretKey.MatchString(q) || strings.EqualFold(q, "key") {
					out = append(out, "line "+strconv.Itoa(n.Line)+": "+key+": URL with a "+q+" parameter")
				}
			}
		}
	}
	return out
}
