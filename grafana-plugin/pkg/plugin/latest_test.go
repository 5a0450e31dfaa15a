package plugin_test

import (
	"context"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// The fixture's runs start a day apart, so "latest" is the last of
// plugintest.Runs and "previous" the one before it.
func TestLatestAndPreviousRuns(t *testing.T) {
	t.Parallel()
	runs := plugintest.Runs()
	latest, previous := runs[len(runs)-1].ID, runs[len(runs)-2].ID
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	resp := runQueries(t, ds,
		dataQuery(t, "C", plugin.QueryTypeCompare, map[string]any{"runIds": []string{plugin.RunPrevious, plugin.RunLatest}}, allTime()),
		dataQuery(t, "R", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunLatest}, allTime()),
	)
	require.NoError(t, resp.Responses["C"].Error)
	fields := resp.Responses["C"].Frames[0].Fields
	assert.Equal(t, previous, fields[2].Name, "the baseline column is the previous run")
	assert.Equal(t, latest, fields[3].Name)
	require.NoError(t, resp.Responses["R"].Error)
	assert.Equal(t, latest, resp.Responses["R"].Frames[0].Name)

	live, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
			DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bench-uid"}},
		Queries: []backend.DataQuery{dataQuery(t, "L", plugin.QueryTypeLive, map[string]any{"runId": plugin.RunLatest}, allTime())},
	})
	require.NoError(t, err)
	require.NoError(t, live.Responses["L"].Error)
	assert.Equal(t, "ds/bench-uid/runs/"+latest, live.Responses["L"].Frames[0].Meta.Channel,
		"the panel follows the run itself, not the word")
}

func TestLatestWithoutRuns(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, t.TempDir(), plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "R", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunLatest}, allTime()))
	assert.EqualError(t, resp.Responses["R"].Error,
		`run "latest": there is no run yet (start one with the query editor's Run benchmark, or import one)`)

	one := t.TempDir()
	doc := plugintest.Document(plugintest.Runs()[0], plugintest.Start())
	_, err := results.Write(one, doc)
	require.NoError(t, err)
	ds = newDatasource(t, one, plugintest.NewLogger())
	resp = runQueries(t, ds, dataQuery(t, "C", plugin.QueryTypeCompare,
		map[string]any{"runIds": []string{plugin.RunPrevious, plugin.RunLatest}}, allTime()))
	assert.EqualError(t, resp.Responses["C"].Error, `run "previous": there is only one run so far`)
}
