package provisioning

import (
	"context"
	"encoding/json"
	"testing"
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
