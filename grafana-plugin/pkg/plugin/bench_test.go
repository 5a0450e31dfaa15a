package plugin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// BenchmarkRunsQuery measures a runs query over 1,000 runs once the index
// holds their headers (the figure asks for under 100 ms; the
// records' number does not matter, since only headers are read).
func BenchmarkRunsQuery(b *testing.B) {
	dir := b.TempDir()
	runs := plugintest.Runs()
	for i := range 1000 {
		r := runs[i%len(runs)]
		r.ID = fmt.Sprintf("%s-%04d", r.ID, i)
		if _, err := results.Write(dir, plugintest.Document(r, plugintest.Start().Add(time.Duration(i)*time.Hour))); err != nil {
			b.Fatal(err)
		}
	}
	ds := plugin.New(instanceSettings(b, map[string]any{"resultsDir": dir}, nil), plugin.WithLogger(plugintest.NewLogger()))
	q := dataQuery(b, "A", plugin.QueryTypeRuns, map[string]any{"profile": "chat"}, allTime())
	runQueries(b, ds, q) // fills the index
	for b.Loop() {
		runQueries(b, ds, q)
	}
}
