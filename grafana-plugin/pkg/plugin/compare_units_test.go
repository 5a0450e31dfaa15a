package plugin_test

import (
	"strings"
	"testing"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// TestCompareUnitsReadable: the comparison table's Unit column is read by
// people, so it holds "%", "tok/s", "req/s", "ms" — never Grafana's unit
// ids ("percentunit", "suffix: tok/s", "reqps") — and the values of a "%"
// row are percentages.
func TestCompareUnitsReadable(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeCompare, map[string]any{"runIds": []string{runA1, runA2}}, allTime()))
	got := resp.Responses["A"]
	require.NoError(t, got.Error)
	require.Len(t, got.Frames, 1)
	f := got.Frames[0]
	metric, _ := f.FieldByName("metric")
	unit, _ := f.FieldByName("unit")
	first, _ := f.FieldByName(runA1)
	require.NotNil(t, metric)
	require.NotNil(t, unit)
	require.NotNil(t, first)

	units := map[string]string{}
	for i := range metric.Len() {
		m, u := metric.At(i).(string), unit.At(i).(string)
		units[m] = u
		for _, id := range []string{"percentunit", "suffix:", "reqps"} {
			assert.False(t, strings.Contains(u, id), "metric %s: unit %q is a Grafana unit id", m, u)
		}
		if m == "success_rate" {
			v := first.At(i).(*float64)
			require.NotNil(t, v)
			assert.Greater(t, *v, 1.0, "success_rate is shown in %%, not as a 0–1 ratio")
			assert.LessOrEqual(t, *v, 100.0)
		}
	}
	assert.Equal(t, "%", units["success_rate"])
	assert.Equal(t, "tok/s", units["output_throughput"])
	assert.Equal(t, "req/s", units["request_throughput"])
	assert.Equal(t, "ms", units["ttft_p95"])
	assert.Equal(t, "s", units["duration_s"])
	assert.Equal(t, "", units["requests"])
}
