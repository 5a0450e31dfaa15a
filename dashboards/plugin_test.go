package dashboards

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
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
				out[deref(d.Title)+" / "+deref(p.Title)+" / "+q.RefID] = q
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

// fixturePlugin is the plugin over the fixture's runs, the variables as
// Grafana replaces them ($baseline the first run, $run the second), and a
// time range holding every run.
func fixturePlugin(t *testing.T) (*plugin.Datasource, *strings.Replacer, backend.TimeRange) {
	t.Helper()
	dir := t.TempDir()
	plugintest.WriteFixture(t, dir)
	runs := plugintest.Runs() // the first two are recorded with outputs
	// The fixture's first two runs are of 20 requests, as a matrix's size.
	vars := strings.NewReplacer("$baseline", runs[0].ID, "$run", runs[1].ID, "$name", "",
		"$size", strconv.Itoa(runs[0].Requests))
	raw, err := json.Marshal(map[string]any{"resultsDir": dir})
	require.NoError(t, err)
	ds := plugin.New(backend.DataSourceInstanceSettings{UID: BencherUID, Type: plugin.PluginID, JSONData: raw,
		Updated: time.Unix(1, 0)}, plugin.WithLogger(plugintest.NewLogger()))
	t.Cleanup(ds.Dispose)
	return ds, vars, backend.TimeRange{From: plugintest.Start().Add(-time.Hour), To: plugintest.Start().Add(10 * 24 * time.Hour)}
}

// answer sends one bencher query to the plugin.
func answer(t *testing.T, ds *plugin.Datasource, vars *strings.Replacer, tr backend.TimeRange, q BencherQuery) backend.DataResponse {
	t.Helper()
	model, err := json.Marshal(q)
	require.NoError(t, err)
	model = []byte(vars.Replace(string(model)))
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
			DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: BencherUID}},
		Queries: []backend.DataQuery{{RefID: q.RefID, QueryType: q.QueryType, JSON: model, TimeRange: tr,
			Interval: time.Minute, MaxDataPoints: 1000}},
	})
	require.NoError(t, err)
	return resp.Responses[q.RefID]
}

// Data links name fields of their panel's frames (${__data.fields.NAME}):
// the runs table's links to a run's own time range need start_ms and
// end_ms in the runs frame.
func TestDataLinksNameFieldsOfTheirFrames(t *testing.T) {
	t.Parallel()
	ds, vars, tr := fixturePlugin(t)
	ref := regexp.MustCompile(`\$\{__data\.fields\.([A-Za-z0-9_]+)\}`)
	n := 0
	for _, f := range built(t) {
		for _, p := range panels(f.Dashboard) {
			if p.FieldConfig == nil || len(p.FieldConfig.Defaults.Links) == 0 {
				continue
			}
			for _, target := range p.Targets {
				q, ok := target.(BencherQuery)
				if !ok {
					continue
				}
				r := answer(t, ds, vars, tr, q)
				require.NoError(t, r.Error, deref(p.Title))
				names := map[string]bool{}
				for _, fr := range r.Frames {
					for _, field := range fr.Fields {
						names[field.Name] = true
					}
				}
				for _, l := range p.FieldConfig.Defaults.Links {
					for _, m := range ref.FindAllStringSubmatch(deref(l.Url), -1) {
						n++
						assert.True(t, names[m[1]], "%s / %s: link %q names field %s, which the frame lacks (%v)",
							f.Name, deref(p.Title), l.Title, m[1], names)
					}
				}
			}
		}
	}
	assert.GreaterOrEqual(t, n, 5, "the runs table's links were checked")
}

// TestBencherQueriesAreAnswered sends every bencher query of the
// dashboards, with the variables as Grafana replaces them, to the plugin
// over the fixture's runs: each must be answered with data.
func TestBencherQueriesAreAnswered(t *testing.T) {
	t.Parallel()
	ds, vars, tr := fixturePlugin(t)
	n := 0
	for _, f := range built(t) {
		for where, q := range bencherQueries(f.Dashboard) {
			n++
			r := answer(t, ds, vars, tr, q)
			plugintest.CheckFrames(t, &backend.QueryDataResponse{Responses: backend.Responses{q.RefID: r}})
			if assert.NoError(t, r.Error, where) {
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

// The histogram panels' query is answered with one frame (xMin, xMax and a
// count per run), the only shape Grafana's histogram reads pre-bucketed;
// each CDF query with one frame of latency and fraction, which the
// panel's manual series match by frame index and field name.
func TestDistributionPanelsGetTheFramesTheyDraw(t *testing.T) {
	t.Parallel()
	ds, vars, tr := fixturePlugin(t)
	d := builtFile(t, "benchmarks.json")
	for _, title := range []string{"TTFT distribution", "Inter-token latency distribution"} {
		p := panelNamed(t, d, title)
		require.Len(t, p.Targets, 1)
		r := answer(t, ds, vars, tr, p.Targets[0].(BencherQuery))
		require.NoError(t, r.Error, title)
		require.Len(t, r.Frames, 1, "%s: one frame, or the histogram panel finds no histogram", title)
		var names []string
		for _, f := range r.Frames[0].Fields {
			names = append(names, f.Name)
		}
		assert.Len(t, names, 4, "%s: xMin, xMax and a count per run: %v", title, names)
		assert.Subset(t, names, []string{"xMin", "xMax"}, title)
	}
	p := panelNamed(t, d, "End-to-end latency CDF")
	for _, target := range p.Targets {
		q := target.(BencherQuery)
		r := answer(t, ds, vars, tr, q)
		require.NoError(t, r.Error, q.RefID)
		require.Len(t, r.Frames, 1, "%s: one frame per query, matched by frame index", q.RefID)
		for _, name := range []string{"latency", "fraction"} {
			f, _ := r.Frames[0].FieldByName(name)
			if assert.NotNil(t, f, "%s: no field %s", q.RefID, name) {
				n, _ := r.Frames[0].RowLen()
				assert.Positive(t, n, q.RefID)
			}
		}
	}
}
