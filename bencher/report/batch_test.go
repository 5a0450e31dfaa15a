package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// batchDoc returns a batch-api run of 40 requests: created 0.1s in, seen
// in_progress 0.3s later and ended 4s after its creation; the server
// reported per-request times, and two requests expired.
func batchDoc(t *testing.T, id string) *results.Document {
	t.Helper()
	created := 100 * time.Millisecond
	res := &bencher.Result{Start: fixedStart, End: fixedStart.Add(4200 * time.Millisecond), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{Target: "http://localhost:8000/v1", API: bencher.APIChat, Model: "benchstation/sim-1b",
			Mode: bencher.ModeBatchAPI, Requests: 40, Timeout: 5 * time.Second, Seed: 1}}
	for i := range 40 {
		r := bencher.Record{Index: i, Attempts: 1, Scheduled: created, Sent: created + time.Duration(i)*80*time.Millisecond,
			InputTokens: 100, OutputTokens: 50 + i, TokenSource: bencher.TokensFromUsage}
		r.End = r.Sent + time.Duration(200+10*i)*time.Millisecond
		if i >= 38 {
			r.InputTokens, r.OutputTokens, r.TokenSource = 0, 0, ""
			r.Error, r.ErrorMessage = bencher.ErrBatchExpired, "batch_expired: This request could not be executed before the completion window expired."
			r.Sent, r.End = created, created+4*time.Second
		}
		res.Records = append(res.Records, r)
	}
	gates, err := gate.Parse("ttft_p95<=200ms,output_throughput>=50", stats.IsValueName)
	require.NoError(t, err)
	toRun, makespan, within, span := 0.3, 4.0, 0.2, 3.82
	return results.New(res, results.Meta{
		ID: id, Profile: "batch-api", Gates: gates, Simulated: true, Host: "bench-host", BencherVersion: "v0.1.0",
		Workload: results.Workload{Source: results.SourceSynthetic, InputTokens: "100", OutputTokens: "50:90", Seed: 1},
		Batch: &results.Batch{ID: "batch_abc", Endpoint: "/v1/chat/completions", InputFileID: "file-in",
			OutputFileID: "file-out", ErrorFileID: "file-err", FinalStatus: "completed", PollIntervalS: 0.5, Polls: 9,
			UploadS: 0.0123, CreatedS: 0.1, ToInProgressS: &toRun, MakespanS: &makespan, MakespanWithinS: &within, ServerSpanS: &span,
			RequestCounts: results.BatchCounts{Total: 40, Completed: 38, Failed: 2}, PerRequestTiming: true},
	})
}

func TestReportBatchGolden(t *testing.T) {
	t.Parallel()
	doc := batchDoc(t, "20261127T101500Z-ba7c40")
	doc.Environment.GoVersion, doc.Environment.OS, doc.Environment.Arch = "go1.26.0", "linux", "amd64"
	for _, f := range []Format{FormatTable, FormatMarkdown, FormatJUnit} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			got := render(t, func(b *bytes.Buffer) error { return Report(b, doc, f) })
			golden(t, "report_batch."+string(f)+".golden", got)
		})
	}
}

func TestReportBatchReadsNA(t *testing.T) {
	t.Parallel()
	table := string(render(t, func(b *bytes.Buffer) error { return Report(b, batchDoc(t, "b1"), FormatTable) }))
	for _, metric := range []string{"TTFT", "TPOT", "ITL"} {
		lines := latencyLines(table, metric)
		require.Len(t, lines, 5, metric)
		for _, l := range lines {
			assert.True(t, strings.HasSuffix(l, " "+NA), "%s: %q", metric, l)
		}
	}
	assert.Contains(t, table, "Makespan, created to ended (s):          4.000")
	assert.Contains(t, table, "Time to in_progress (s):                 0.300")
	assert.Contains(t, table, "Completed/failed/expired/cancelled:      38 / 2 / 2 / 0")
	assert.Contains(t, table, "Request throughput (req/s):              9.50", "38 completed over the 4s makespan")
	assert.Contains(t, table, "FAIL ttft_p95<=200ms: not measured in this mode")
}

func TestMatrixBatchRow(t *testing.T) {
	t.Parallel()
	online := fixtureDoc(t, "20261127T101500Z-000001", 40, 8, 1)
	online.Config.Run.Requests = 40
	batch := batchDoc(t, "20261127T101500Z-000002")
	hs := []*results.Header{&online.Header, &batch.Header}
	rows := MatrixRows(hs)
	require.Len(t, rows, 2)
	b := rows[1]
	assert.Equal(t, "batch-api", b.Profile)
	assert.Equal(t, "batch job", b.Load)
	assert.Nil(t, b.TTFTP50)
	assert.Nil(t, b.TTFTP95)
	require.NotNil(t, b.MakespanS)
	assert.Equal(t, 4.0, *b.MakespanS)
	assert.Equal(t, 4.0, *b.DurationS)
	assert.InDelta(t, 9.5, *b.RequestThroughput, 1e-9)
	require.NotNil(t, b.Ratio)
	assert.Nil(t, b.Ratio.TTFTP50, "no ratio of an absent TTFT")
	assert.NotNil(t, b.Ratio.RequestThroughput)
	assert.Nil(t, rows[0].MakespanS)

	table := string(render(t, func(w *bytes.Buffer) error { return Matrix(w, hs, FormatTable) }))
	var batchLine string
	for l := range strings.Lines(table) {
		if strings.HasPrefix(l, "batch-api") {
			batchLine = l
		}
	}
	assert.Regexp(t, `^batch-api \[SIM\]\s+batch job\s+40\s+4\.00\s+9\.50\s+\S+\s+n/a\s+n/a\s+[0-9.]+\s+[0-9.]+\s+95\.00%`, batchLine)

	var js []map[string]any
	require.NoError(t, json.Unmarshal(render(t, func(w *bytes.Buffer) error { return Matrix(w, hs, FormatJSON) }), &js))
	assert.Nil(t, js[1]["ttft_p50_ms"])
	assert.Equal(t, 4.0, js[1]["makespan_s"])
}

func TestCompareOnlineWithBatch(t *testing.T) {
	t.Parallel()
	online := fixtureDoc(t, "20261127T101500Z-000001", 40, 8, 1)
	batch := batchDoc(t, "20261127T101500Z-000002")
	c := CompareHeaders(&online.Header, &batch.Header, []Threshold{{Name: "ttft_p95", Limit: 0.1, Text: "ttft_p95=+10%"}})
	assert.Contains(t, strings.Join(c.Warnings, "\n"), "one Batch API job (no TTFT, ITL or TPOT)")
	var ttft *Row
	for i := range c.Rows {
		if c.Rows[i].Name == "ttft_p95" {
			ttft = &c.Rows[i]
		}
	}
	require.NotNil(t, ttft)
	assert.NotNil(t, ttft.Base)
	assert.Nil(t, ttft.New, "absent, not 0")
	assert.Equal(t, VerdictMissing, ttft.Verdict)
	assert.True(t, c.Regressed, "a threshold on a value the new run cannot have is not a pass")
}
