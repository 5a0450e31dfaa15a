package dashboards

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// bencherQueries lists the bencher queries of a dashboard, annotations
// included.
func bencherQueries(d dashboard.Dashboard) map[string]BencherQuery {
	out := map[string]BencherQuery{}
	for _, p := range panels(d) {
		for _, t := range p.Targets {
			if q, ok := t.(BencherQuery); ok {
				out[deref(d.Title)+" / "+deref(p.Title)] = q
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Target != nil {
			raw, _ := json.Marshal(a.Target)
			var q struct{ QueryType string }
			if json.Unmarshal(raw, &q) == nil && q.QueryType != "" {
				out[deref(d.Title)+" / annotation "+a.Name] = BencherQuery{RefID: "Anno", QueryType: q.QueryType,
					Model: json.RawMessage(raw)}
			}
		}
	}
	return out
}

// TestBencherQueriesAreAnswered sends every bencher query of the
// dashboards, with the variables as Grafana replaces them, to the plugin
// over the fixture's runs: each must be answered with data.
func TestBencherQueriesAreAnswered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugintest.WriteFixture(t, dir)
	runs := plugintest.Runs() // the first two are recorded with outputs
	vars := strings.NewReplacer("$baseline", runs[0].ID, "$run", runs[1].ID, "$name", "")
	raw, err := json.Marshal(map[string]any{"resultsDir": dir})
	require.NoError(t, err)
	ds := plugin.New(backend.DataSourceInstanceSettings{UID: BencherUID, Type: plugin.PluginID, JSONData: raw,
		Updated: time.Unix(1, 0)}, plugin.WithLogger(plugintest.NewLogger()))
	t.Cleanup(ds.Dispose)
	tr := backend.TimeRange{From: plugintest.Start().Add(-time.Hour), To: plugintest.Start().Add(10 * 24 * time.Hour)}

	n := 0
	for _, f := range built(t) {
		for where, q := range bencherQueries(f.Dashboard) {
			n++
			model, err := json.Marshal(q)
			require.NoError(t, err)
			model = []byte(vars.Replace(string(model)))
			resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
				PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
					DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: BencherUID}},
				Queries: []backend.DataQuery{{RefID: q.RefID, QueryType: q.QueryType, JSON: model, TimeRange: tr,
					Interval: time.Minute, MaxDataPoints: 1000}},
			})
			require.NoError(t, err, where)
			plugintest.CheckFrames(t, resp)
			r := resp.Responses[q.RefID]
			if assert.NoError(t, r.Error, "%s: %s", where, model) {
				rows := 0
				for _, fr := range r.Frames {
					n, _ := fr.RowLen()
					rows += n
				}
				assert.Positive(t, rows, "%s: no data", where)
			}
		}
	}
	assert.GreaterOrEqual(t, n, 12, "every bencher panel was sent")
}
