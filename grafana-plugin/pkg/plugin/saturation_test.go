package plugin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// TestSaturatedRunShown: a run whose client was saturated says so in the
// runs table (client_saturated) and with a warning on its run view, as the
// CLI's reports do; other runs do not.
func TestSaturatedRunShown(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	path := filepath.Join(dir, runA1+".json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	doc["client"] = map[string]any{"saturated": true, "reasons": []string{"sched_latency", "cpu_wait"}}
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	ds := newDatasource(t, dir, plugintest.NewLogger())
	resp := runQueries(t, ds,
		dataQuery(t, "runs", plugin.QueryTypeRuns, nil, allTime()),
		dataQuery(t, "sat", plugin.QueryTypeRun, map[string]any{"runId": runA1}, allTime()),
		dataQuery(t, "fine", plugin.QueryTypeRun, map[string]any{"runId": runA2}, allTime()))

	runs := resp.Responses["runs"]
	require.NoError(t, runs.Error)
	ids, _ := runs.Frames[0].FieldByName("id")
	sat, _ := runs.Frames[0].FieldByName("client_saturated")
	require.NotNil(t, sat)
	seen := 0
	for i := range ids.Len() {
		if ids.At(i).(string) == runA1 {
			assert.True(t, sat.At(i).(bool))
			seen++
		} else {
			assert.False(t, sat.At(i).(bool), "run %s", ids.At(i))
		}
	}
	assert.Equal(t, 1, seen)

	warned := func(r string) bool {
		got := resp.Responses[r]
		require.NoError(t, got.Error)
		require.NotEmpty(t, got.Frames)
		if got.Frames[0].Meta == nil {
			return false
		}
		for _, n := range got.Frames[0].Meta.Notices {
			if n.Severity == data.NoticeSeverityWarning && strings.Contains(n.Text, "saturated (sched_latency, cpu_wait)") {
				return true
			}
		}
		return false
	}
	assert.True(t, warned("sat"), "the saturated run's view warns")
	assert.False(t, warned("fine"), "a run whose client kept up does not")
}
