package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/xychart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// What Grafana 12.4 draws, as seen in a real server (DESIGN.md, "What
// Grafana 12.4 actually draws"): each test here pins one of those findings.

// builtFile returns the built dashboard of a file name.
func builtFile(t *testing.T, name string) dashboard.Dashboard {
	t.Helper()
	for _, f := range built(t) {
		if f.Name == name {
			return f.Dashboard
		}
	}
	t.Fatalf("no dashboard %s", name)
	return dashboard.Dashboard{}
}

// panelNamed returns the panel of a dashboard with that title.
func panelNamed(t *testing.T, d dashboard.Dashboard, title string) dashboard.Panel {
	t.Helper()
	for _, p := range panels(d) {
		if deref(p.Title) == title {
			return p
		}
	}
	t.Fatalf("%s has no panel %q", deref(d.Title), title)
	return dashboard.Panel{}
}

// model returns a bencher target's JSON fields.
func model(t *testing.T, target any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(target)
	require.NoError(t, err)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// Without pluginVersion Grafana migrates a panel's options as if an old
// Grafana saved them: the xy chart's manual series lose their matchers.
func TestEveryPanelHasPluginVersion(t *testing.T) {
	t.Parallel()
	for _, f := range built(t) {
		for _, p := range panels(f.Dashboard) {
			assert.Equal(t, GrafanaVersion, deref(p.PluginVersion), "%s / %s: pluginVersion", f.Name, deref(p.Title))
		}
		raw, err := Marshal(f.Dashboard)
		require.NoError(t, err)
		var doc struct {
			Panels []map[string]any `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(raw, &doc))
		for _, p := range doc.Panels {
			if p["type"] != "row" {
				assert.Equal(t, "12.4.0", p["pluginVersion"], "%s / %v: pluginVersion in the JSON", f.Name, p["title"])
			}
		}
	}
}

// The histogram panel reads pre-bucketed data only from a single frame:
// one query of both runs, which the plugin answers with one frame.
func TestHistogramsAreOneQueryOfBothRuns(t *testing.T) {
	t.Parallel()
	d := builtFile(t, "benchmarks.json")
	n := 0
	for _, p := range panels(d) {
		if p.Type != "histogram" {
			continue
		}
		n++
		require.Len(t, p.Targets, 1, "%s: one query", deref(p.Title))
		m := model(t, p.Targets[0])
		assert.Equal(t, plugin.QueryTypeDistribution, m["queryType"])
		assert.Equal(t, "histogram", m["kind"])
		assert.Equal(t, []any{"$run", "$baseline"}, m["runIds"], "%s: the run and the baseline in one query", deref(p.Title))
	}
	assert.Equal(t, 2, n, "the TTFT and ITL histograms")
}

// The CDF: two queries (A the run, B the baseline), each one frame of
// latency and fraction, drawn as manual series by frame index; the 0–1
// range is the fraction's only.
func TestLatencyCDFIsTwoQueriesAndTwoManualSeries(t *testing.T) {
	t.Parallel()
	p := panelNamed(t, builtFile(t, "benchmarks.json"), "End-to-end latency CDF")
	require.Len(t, p.Targets, 2)
	for i, want := range []struct{ ref, run string }{{"A", "$run"}, {"B", "$baseline"}} {
		m := model(t, p.Targets[i])
		assert.Equal(t, want.ref, m["refId"])
		assert.Equal(t, want.run, m["runId"])
		assert.Equal(t, "cdf", m["kind"])
		assert.NotContains(t, m, "runIds", "one run per query: one frame per query")
	}
	require.NotNil(t, p.FieldConfig)
	assert.Nil(t, p.FieldConfig.Defaults.Min, "min on the defaults clamps the latency axis too")
	assert.Nil(t, p.FieldConfig.Defaults.Max, "max on the defaults clamps the latency axis too")
	var fraction, latency []dashboard.DynamicConfigValue
	for _, o := range p.FieldConfig.Overrides {
		switch optString(o.Matcher.Options) {
		case "fraction":
			fraction = o.Properties
		case "latency":
			latency = o.Properties
		}
	}
	assert.Contains(t, fraction, dashboard.DynamicConfigValue{Id: "min", Value: 0})
	assert.Contains(t, fraction, dashboard.DynamicConfigValue{Id: "max", Value: 1})
	assert.Contains(t, latency, dashboard.DynamicConfigValue{Id: "unit", Value: "ms"})

	opts, ok := p.Options.(*xychart.Options)
	require.True(t, ok, "xychart options, got %T", p.Options)
	assert.Equal(t, xychart.SeriesMappingManual, opts.Mapping)
	require.Len(t, opts.Series, 2)
	for i, s := range opts.Series {
		require.NotNil(t, s.Frame, "series %d: no frame matcher", i)
		assert.JSONEq(t, fmt.Sprintf(`{"id": "byIndex", "options": %d}`, i), asJSON(t, s.Frame.Matcher))
		assert.JSONEq(t, `{"id": "byName", "options": "latency"}`, asJSON(t, s.X.Matcher))
		assert.JSONEq(t, `{"id": "byName", "options": "fraction"}`, asJSON(t, s.Y.Matcher))
	}
}

// Grafana 12.4 draws a manual xy series only when it names its frame, x
// and y (xychart v2's prepSeries skips the others).
func TestManualXYSeriesNameFrameXAndY(t *testing.T) {
	t.Parallel()
	n := 0
	for _, f := range built(t) {
		for _, p := range panels(f.Dashboard) {
			opts, ok := p.Options.(*xychart.Options)
			if !ok || opts.Mapping != xychart.SeriesMappingManual {
				continue
			}
			require.NotEmpty(t, opts.Series, "%s: manual without series", deref(p.Title))
			for i, s := range opts.Series {
				n++
				where := deref(p.Title)
				if assert.NotNil(t, s.Frame, "%s series %d: frame", where, i) {
					assert.Equal(t, "byIndex", s.Frame.Matcher.Id, where)
					var m struct{ Options int }
					require.NoError(t, json.Unmarshal([]byte(asJSON(t, s.Frame.Matcher)), &m))
					assert.Less(t, m.Options, len(p.Targets), "%s: frame %d of %d queries' frames", where, m.Options, len(p.Targets))
				}
				if assert.NotNil(t, s.X, "%s series %d: x", where, i) {
					assert.NotEmpty(t, s.X.Matcher.Id, where)
				}
				if assert.NotNil(t, s.Y, "%s series %d: y", where, i) {
					assert.NotEmpty(t, s.Y.Matcher.Id, where)
				}
			}
		}
	}
	assert.GreaterOrEqual(t, n, 4, "the sweep's two series and the CDF's two")
}

// Grafana 12.4's stat panel showed only the first of two series ("GPUs
// up" without "found", "Power draw" without "limit"): every stat is one
// query whose PromQL reduces to a single series.
func TestStatsAreOneReducedSeries(t *testing.T) {
	t.Parallel()
	for _, f := range built(t) {
		for _, p := range panels(f.Dashboard) {
			if p.Type != "stat" {
				continue
			}
			where := f.Name + " / " + deref(p.Title)
			if !assert.Len(t, p.Targets, 1, "%s: one query, one value", where) {
				continue
			}
			if q, ok := p.Targets[0].(prometheus.Dataquery); ok {
				assert.Regexp(t, `^(count|sum|max|min|avg)\(`, q.Expr, "%s: not reduced to one series", where)
			}
			if o, ok := p.Options.(*stat.Options); ok {
				assert.False(t, o.ReduceOptions.Values != nil && *o.ReduceOptions.Values, "%s: one value, reduced", where)
			}
		}
	}
}

// The batch Jobs table: a merge joins rows only where every label agrees,
// so each of its queries has the same labels, and there is one row per job.
func TestBatchJobsTableQueriesShareTheirLabels(t *testing.T) {
	t.Parallel()
	p := panelNamed(t, builtFile(t, "batch-jobs.json"), "Jobs")
	require.GreaterOrEqual(t, len(p.Targets), 4)
	shape := regexp.MustCompile(`(?s)^max by \(endpoint, batch_id\) \(benchstation_batch_job_\w+\{[^}]*\}\)\s+` +
		`\* on \(endpoint, batch_id\) group_left \(status, api_endpoint, model\)\s+` +
		`max by \(endpoint, batch_id, status, api_endpoint, model\) \(benchstation_batch_job_info\{[^}]*\}\)( \* 1000)?$`)
	for _, target := range p.Targets {
		q, ok := target.(prometheus.Dataquery)
		require.True(t, ok)
		assert.Regexp(t, shape, q.Expr, "%s: its labels must be endpoint, batch_id, status, api_endpoint and model", deref(q.RefId))
		assert.True(t, q.Format != nil && *q.Format == "table" && q.Instant != nil && *q.Instant, "%s: an instant table", deref(q.RefId))
	}
	var ids []string
	for _, tr := range p.Transformations {
		ids = append(ids, tr.Id)
	}
	assert.Equal(t, []string{"merge", "organize"}, ids)
}

// Without --batch.endpoint the batch dashboard is empty: every panel says
// why instead of "No data".
func TestBatchPanelsSayWhyTheyAreEmpty(t *testing.T) {
	t.Parallel()
	for _, p := range panels(builtFile(t, "batch-jobs.json")) {
		where := deref(p.Title)
		if p.FieldConfig != nil && p.FieldConfig.Defaults.NoValue != nil {
			continue
		}
		// else the panel always has data, and says it itself
		require.Len(t, p.Targets, 1, where)
		q := p.Targets[0].(prometheus.Dataquery)
		assert.Contains(t, q.Expr, "or vector(0)", "%s: no noValue text and may be empty", where)
		assert.Contains(t, deref(p.Description), "--batch.endpoint", where)
	}
	p := panelNamed(t, builtFile(t, "batch-jobs.json"), "Jobs")
	assert.Contains(t, deref(p.FieldConfig.Defaults.NoValue), "--batch.endpoint")
	assert.Contains(t, deref(p.FieldConfig.Defaults.NoValue), "BATCH_ENDPOINT")
}

// Event-only panels (a series appears only with an event) say so when
// empty; any panel whose query keeps only "> 0" is one of them.
func TestEventOnlyPanelsHaveANoValueText(t *testing.T) {
	t.Parallel()
	files := built(t)
	for name, titles := range EventOnly {
		found := false
		for _, f := range files {
			if f.Name != name {
				continue
			}
			found = true
			for _, title := range titles {
				p := panelNamed(t, f.Dashboard, title)
				require.NotNil(t, p.FieldConfig, title)
				assert.NotEmpty(t, deref(p.FieldConfig.Defaults.NoValue), "%s: no noValue text", title)
				assert.NotEqual(t, "No data", deref(p.FieldConfig.Defaults.NoValue), title)
			}
		}
		assert.True(t, found, "EventOnly names %s, which is no dashboard", name)
	}
	for _, f := range files {
		for _, p := range panels(f.Dashboard) {
			for _, target := range p.Targets {
				if q, ok := target.(prometheus.Dataquery); ok && strings.HasSuffix(strings.TrimSpace(q.Expr), "> 0") {
					assert.Contains(t, EventOnly[f.Name], deref(p.Title), "%s / %s keeps only events: list it in EventOnly", f.Name, deref(p.Title))
				}
			}
		}
	}
	assert.ElementsMatch(t, []string{"Throttle reasons", "XID errors"}, EventOnly["gpu-vllm.json"])
}

// The runs table links each run to its own time range with the frame's
// start_ms and end_ms, which it does not show.
func TestRunsTableLinksToEachRunsTimeRange(t *testing.T) {
	t.Parallel()
	p := panelNamed(t, builtFile(t, "benchmarks.json"), "Runs")
	var urls []string
	for _, l := range p.FieldConfig.Defaults.Links {
		urls = append(urls, deref(l.Url))
	}
	assert.True(t, slices.ContainsFunc(urls, func(u string) bool {
		return strings.Contains(u, "from=${__data.fields.start_ms}&to=${__data.fields.end_ms}") &&
			strings.Contains(u, "var-run=${__data.fields.id}")
	}), "no link to the run's own time range: %v", urls)
	assert.True(t, slices.ContainsFunc(urls, func(u string) bool { return strings.Contains(u, "var-baseline=${__data.fields.id}") }),
		"the 'Use as baseline' link is gone: %v", urls)
	hidden := map[string]bool{}
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.Id == "custom.hideFrom.viz" && prop.Value == true {
				hidden[optString(o.Matcher.Options)] = true
			}
		}
	}
	assert.True(t, hidden["start_ms"] && hidden["end_ms"], "start_ms and end_ms are shown: %v", hidden)
}

// optString is a matcher's options as a string.
func optString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case *string:
		return deref(v)
	}
	return ""
}

// asJSON is v as JSON.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// The histograms' counts are requests: only the bucket bounds are in ms
// (a panel unit of ms labelled the count axis "50 ms").
func TestHistogramCountsAreNotMilliseconds(t *testing.T) {
	t.Parallel()
	for _, title := range []string{"TTFT distribution", "Inter-token latency distribution"} {
		p := panelNamed(t, builtFile(t, "benchmarks.json"), title)
		assert.NotEqual(t, "ms", deref(p.FieldConfig.Defaults.Unit), title)
	}
}
