package provisioning

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// The regression rule's query goes to the bencher plugin: it must answer
// with numeric series told apart by labels, which Grafana alerting needs.
func TestRegressionRuleQueryIsAnsweredByThePlugin(t *testing.T) {
	t.Parallel()
	rules, err := Rules()
	require.NoError(t, err)
	var model []byte
	for _, r := range rules {
		for _, q := range r.Data {
			if q.DatasourceUid != nil && *q.DatasourceUid == dashboards.BencherUID {
				model, err = json.Marshal(q.Model)
				require.NoError(t, err)
			}
		}
	}
	require.NotNil(t, model, "a rule queries the bencher data source")

	dir := t.TempDir()
	plugintest.WriteFixture(t, dir)
	settings, err := json.Marshal(map[string]any{"resultsDir": dir})
	require.NoError(t, err)
	ds := plugin.New(backend.DataSourceInstanceSettings{UID: dashboards.BencherUID, Type: plugin.PluginID,
		JSONData: settings, Updated: time.Unix(1, 0)}, plugin.WithLogger(plugintest.NewLogger()))
	t.Cleanup(ds.Dispose)
	tr := backend.TimeRange{From: plugintest.Start().Add(-time.Hour), To: plugintest.Start().Add(7 * 24 * time.Hour)}
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID},
		Queries:       []backend.DataQuery{{RefID: "A", QueryType: plugin.QueryTypeTrend, JSON: model, TimeRange: tr}},
	})
	require.NoError(t, err)
	r := resp.Responses["A"]
	require.NoError(t, r.Error)
	profiles := map[string]bool{}
	for _, f := range r.Frames {
		require.Len(t, f.Fields, 2, f.Name)
		assert.Equal(t, data.FieldTypeTime, f.Fields[0].Type())
		assert.True(t, f.Fields[1].Type().Numeric(), "numeric values")
		profiles[f.Fields[1].Labels["profile"]] = true
	}
	assert.True(t, profiles["chat"] && profiles["batch"], "one series per profile: %v", profiles)
}

// The regression alert's summary, as Grafana renders it ($labels and
// $values defined first), names the profile, and says so when a run has
// none instead of leaving a blank ("The latest  benchmark's…").
func TestRegressionSummaryNamesTheProfileOrSaysThereIsNone(t *testing.T) {
	t.Parallel()
	rules, err := Rules()
	require.NoError(t, err)
	var summary string
	for _, r := range rules {
		if deref(r.Uid) == "benchstation-benchmark-regression" {
			summary = r.Annotations["summary"]
		}
	}
	require.NotEmpty(t, summary)
	type value struct{ Value float64 }
	render := func(profile string) string {
		tmpl, err := template.New("summary").Parse("{{- $labels := .Labels -}}{{- $values := .Values -}}" + summary)
		require.NoError(t, err)
		var b strings.Builder
		require.NoError(t, tmpl.Execute(&b, map[string]any{
			"Labels": map[string]string{"profile": profile, "severity": "warning"},
			"Values": map[string]value{"B": {180}, "C": {120}},
		}))
		return b.String()
	}
	named := render("custom-c300-in512-out128")
	assert.Contains(t, named, "custom-c300-in512-out128")
	assert.Contains(t, named, "180 ms against 120 ms")
	none := render("")
	assert.NotContains(t, none, "  ", "a blank where the profile was: %q", none)
	assert.Contains(t, none, "without a profile")
	assert.Contains(t, none, "180 ms against 120 ms")
}
