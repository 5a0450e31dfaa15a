package plugin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

func TestLoadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		jsonData string
		secure   map[string]string
		want     plugin.Settings
	}{
		{
			name:     "minimal",
			jsonData: `{"resultsDir": "/var/lib/benchstation/results/"}`,
			want:     plugin.Settings{ResultsDir: "/var/lib/benchstation/results", MaxConcurrentRuns: 1},
		},
		{
			name: "full",
			jsonData: `{"defaultTarget": "http://vllm:8000/v1/", "allowedHosts": ["VLLM", "gpu2:8000", "[::1]:9000"],
				"resultsDir": "/results", "prometheusUrl": "https://prom.example:9090", "maxConcurrentRuns": 4}`,
			secure: map[string]string{"apiKey": testAPIKey},
			want: plugin.Settings{
				DefaultTarget: "http://vllm:8000/v1", AllowedHosts: []string{"vllm", "gpu2:8000", "[::1]:9000"},
				ResultsDir: "/results", PrometheusURL: "https://prom.example:9090", MaxConcurrentRuns: 4,
				APIKey: plugin.NewSecret(testAPIKey),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte(tt.jsonData), DecryptedSecureJSONData: tt.secure})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.APIKey.Value(), got.APIKey.Value())
		})
	}
}

func TestLoadSettingsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		jsonData string
		secure   map[string]string
		want     string
	}{
		{"empty", ``, nil, "invalid settings: resultsDir: required (the absolute path of the directory that holds the run documents)"},
		{"relative results directory", `{"resultsDir": "results"}`, nil, `invalid settings: resultsDir: must be an absolute path, got "results"`},
		{"unknown field", `{"resultsDir": "/r", "resultDir": "/r"}`, nil, `invalid settings: jsonData: unknown field "resultDir"`},
		{"wrong type", `{"resultsDir": "/r", "maxConcurrentRuns": "4"}`, nil, "invalid settings: maxConcurrentRuns: must be an integer, not a JSON string"},
		{"list of the wrong type", `{"resultsDir": "/r", "allowedHosts": "vllm"}`, nil, "invalid settings: allowedHosts: must be a list of strings, not a JSON string"},
		{"not an object", `[1]`, nil, "invalid settings: jsonData: not a valid JSON object: json: cannot unmarshal array into Go value of type plugin.JSONData"},
		{"trailing data", `{"resultsDir": "/r"} {}`, nil, "invalid settings: jsonData: not a valid JSON object: unexpected data after the object"},
		{"too many runs", `{"resultsDir": "/r", "maxConcurrentRuns": 17}`, nil, "invalid settings: maxConcurrentRuns: must be between 1 and 16, got 17"},
		{"target scheme", `{"resultsDir": "/r", "defaultTarget": "vllm:8000"}`, nil, "invalid settings: defaultTarget: must start with http:// or https://"},
		{"target without host", `{"resultsDir": "/r", "defaultTarget": "http:///v1"}`, nil, "invalid settings: defaultTarget: has no host"},
		{"target with credentials", `{"resultsDir": "/r", "defaultTarget": "http://me:` + testAPIKey + `@vllm/v1"}`, nil, "invalid settings: defaultTarget: must not contain credentials (put the API key in the API key field)"},
		{"target with a query", `{"resultsDir": "/r", "defaultTarget": "http://vllm/v1?key=x"}`, nil, "invalid settings: defaultTarget: must not have a query or fragment"},
		{"target not allowed", `{"resultsDir": "/r", "defaultTarget": "http://vllm:8000/v1", "allowedHosts": ["gpu2"]}`, nil, `invalid settings: defaultTarget: host "vllm:8000" is not in allowedHosts`},
		{"bad host", `{"resultsDir": "/r", "allowedHosts": ["gpu2", "http://vllm"]}`, nil, `invalid settings: allowedHosts[1]: "http://vllm" is not a host (want host or host:port, without scheme or path)`},
		{"prometheus URL", `{"resultsDir": "/r", "prometheusUrl": "prometheus:9090"}`, nil, "invalid settings: prometheusUrl: must start with http:// or https://"},
		{"unknown secure field", `{"resultsDir": "/r"}`, map[string]string{"password": testAPIKey}, `invalid settings: secureJsonData: unknown field "password"`},
		{"API key with a line break", `{"resultsDir": "/r"}`, map[string]string{"apiKey": testAPIKey + "\n"}, "invalid settings: apiKey: must not contain spaces or line breaks"},
		{
			"every problem at once", `{"resultsDir": "r", "maxConcurrentRuns": 0, "defaultTarget": "ftp://x"}`, nil,
			`invalid settings: defaultTarget: must start with http:// or https://; resultsDir: must be an absolute path, got "r"; maxConcurrentRuns: must be between 1 and 16, got 0`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte(tt.jsonData), DecryptedSecureJSONData: tt.secure})
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			var se *plugin.SettingsError
			assert.ErrorAs(t, err, &se)
			assert.NotContains(t, err.Error(), testAPIKey)
		})
	}
}

func TestAllowsTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings plugin.Settings
		target   string
		want     bool
	}{
		{"host on any port", plugin.Settings{AllowedHosts: []string{"vllm"}}, "http://VLLM:8000/v1", true},
		{"host and port", plugin.Settings{AllowedHosts: []string{"vllm:8000"}}, "http://vllm:8000/v1", true},
		{"other port", plugin.Settings{AllowedHosts: []string{"vllm:8000"}}, "http://vllm:9000/v1", false},
		{"other host", plugin.Settings{AllowedHosts: []string{"vllm"}}, "http://evil/v1", false},
		{"IPv6", plugin.Settings{AllowedHosts: []string{"[::1]"}}, "http://[::1]:8000/v1", true},
		{"default target's host", plugin.Settings{DefaultTarget: "http://vllm:8000/v1"}, "http://vllm:8000/other", true},
		{"not the default target's host", plugin.Settings{DefaultTarget: "http://vllm:8000/v1"}, "http://vllm:8001/v1", false},
		{"nothing configured", plugin.Settings{}, "http://vllm:8000/v1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.target)
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.settings.AllowsTarget(u))
		})
	}
}

func TestSecretIsRedacted(t *testing.T) {
	t.Parallel()
	s := plugin.Settings{ResultsDir: "/r", APIKey: plugin.NewSecret(testAPIKey)}
	var out bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		fmt.Fprintf(&out, format+"\n", s)
		fmt.Fprintf(&out, format+"\n", s.APIKey)
		fmt.Fprintf(&out, format+"\n", &s)
	}
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	out.Write(raw)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("settings", "settings", s, "key", s.APIKey)
	slog.New(slog.NewTextHandler(&out, nil)).Info("settings", "settings", s, "key", s.APIKey)
	assert.NotContains(t, out.String(), testAPIKey)
	assert.Contains(t, out.String(), "[REDACTED]")
	assert.Equal(t, testAPIKey, s.APIKey.Value())
	assert.Empty(t, plugin.Secret{}.String())
}
