package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// TestTableShowsShards: a shard's table says which part it holds; a
// merged run's its shards and their clocks; a merged run whose client was
// saturated has reasons but no figures, and says so without an empty list.
func TestTableShowsShards(t *testing.T) {
	t.Parallel()
	shard := saturatedDoc()
	shard.Shard = &results.ShardInfo{Index: 2, Count: 4, RunID: "20261202T170000Z-abcdef", Concurrency: 12, Requests: 25}
	var b bytes.Buffer
	require.NoError(t, Report(&b, shard, FormatTable))
	assert.Contains(t, b.String(), "Shard:                                   2/4 of run 20261202T170000Z-abcdef: 25 requests, concurrency 12\n")
	shard.Config.Run.Mode = bencher.ModeOpenLoop
	b.Reset()
	require.NoError(t, Report(&b, shard, FormatTable))
	assert.Contains(t, b.String(), "2/4 of run 20261202T170000Z-abcdef: 25 requests, 1/4 of the arrivals, at most 12 in flight\n")

	merged := saturatedDoc()
	merged.Environment.Host = "pod-a,pod-b"
	merged.Client = &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonCPUWait}}
	spread, unc := 1500*time.Microsecond, 4*time.Millisecond
	merged.Merged = &results.Merged{Count: 2, ClockSpread: &spread, ClockSpreadUncertainty: &unc}
	b.Reset()
	require.NoError(t, Report(&b, merged, FormatTable))
	assert.Contains(t, b.String(), "Shards (merged):                         2, on pod-a,pod-b\n")
	assert.Contains(t, b.String(), "Shard clock spread (ms):                 1.50 ± 4.00\n")
	assert.Contains(t, b.String(), "the client was the bottleneck (cpu_wait): its own delays")
}
