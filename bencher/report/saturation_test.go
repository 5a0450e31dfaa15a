package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// saturatedHeader is a completed run whose client was saturated.
func saturatedHeader() *results.Header { return &saturatedDoc().Header }

func saturatedDoc() *results.Document {
	lag, sched := 12.5, 3.25
	return &results.Document{Header: results.Header{
		ID: "20260102T030405Z-abcdef", Status: results.StatusCompleted,
		Environment: results.Environment{StartTime: time.Unix(0, 0), EndTime: time.Unix(10, 0)},
		ClockSource: bencher.ClockKernel,
		Client: &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonReadLag, bencher.ReasonSchedLatency},
			ReadLagP99Ms: &lag, SchedLatencyP99Ms: &sched},
	}}
}

// TestReportsShowSaturation: every report of a run whose client was
// saturated says so, with the figures; compare warns.
func TestReportsShowSaturation(t *testing.T) {
	h := saturatedHeader()
	doc := saturatedDoc()
	for _, f := range []Format{FormatTable, FormatMarkdown} {
		var b bytes.Buffer
		require.NoError(t, Report(&b, doc, f))
		assert.Contains(t, b.String(), "CLIENT SATURATED", f)
		assert.Contains(t, b.String(), "read lag p99 12.50 ms", f)
		assert.Contains(t, b.String(), "read_lag, sched_latency", f)
	}
	var b bytes.Buffer
	require.NoError(t, Report(&b, doc, FormatTable))
	assert.Contains(t, b.String(), "Stream clock:")
	ok := saturatedHeader()
	ok.Client = &bencher.ClientLoad{}
	assert.NotContains(t, warnings(ok, ok), "SATURATED")
	assert.Contains(t, warnings(ok, h)[len(warnings(ok, h))-1], "the new run's client was SATURATED")
}
