package plugin_test

import (
	"context"
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// update rewrites the golden files: go test ./grafana-plugin/pkg/plugin -update
var update = flag.Bool("update", false, "update the golden files in testdata")

// testAPIKey is recognisable, so that tests can look for it in everything
// the plugin outputs.
const testAPIKey = "sk-benchstation-LEAKCHECK-7f3a9c"

// instanceSettings returns instance settings with the given jsonData and
// secure data.
func instanceSettings(t testing.TB, jsonData any, secure map[string]string) backend.DataSourceInstanceSettings {
	t.Helper()
	raw, err := json.Marshal(jsonData)
	require.NoError(t, err)
	return backend.DataSourceInstanceSettings{
		UID: "bench-uid", Name: "Bench", Type: plugin.PluginID,
		JSONData: raw, DecryptedSecureJSONData: secure, Updated: time.Unix(1, 0),
	}
}

// newDatasource returns an instance over dir (no target, no Prometheus)
// that logs to logger.
func newDatasource(t *testing.T, dir string, logger plugintest.Logger) *plugin.Datasource {
	t.Helper()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": dir}, nil), plugin.WithLogger(logger))
	_, err := ds.Settings()
	require.NoError(t, err)
	t.Cleanup(ds.Dispose)
	return ds
}

// fixtureDir returns a results directory holding the fixture runs.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	plugintest.WriteFixture(t, dir)
	return dir
}

// allTime is a time range that holds every fixture run.
func allTime() backend.TimeRange {
	return backend.TimeRange{From: plugintest.Start().Add(-time.Hour), To: plugintest.Start().Add(10 * 24 * time.Hour)}
}

// dataQuery returns a query of the given type and JSON model (the query
// type is added to the model, as Grafana sends it).
func dataQuery(t testing.TB, refID, queryType string, model map[string]any, tr backend.TimeRange) backend.DataQuery {
	t.Helper()
	m := map[string]any{"refId": refID, "queryType": queryType, "datasource": map[string]any{"uid": "bench-uid"}}
	for k, v := range model {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	return backend.DataQuery{RefID: refID, QueryType: queryType, TimeRange: tr, JSON: raw,
		Interval: time.Minute, MaxDataPoints: 1000}
}

// runQueries runs queries on ds and checks every frame of the response.
func runQueries(t testing.TB, ds backend.QueryDataHandler, queries ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID},
		Queries:       queries,
	})
	require.NoError(t, err, "QueryData must not fail as a whole")
	plugintest.CheckFrames(t, resp)
	require.Len(t, resp.Responses, len(queries))
	return resp
}
