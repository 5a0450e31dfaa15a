package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// allFailedDoc returns a run whose every request failed with a 500.
func allFailedDoc(t *testing.T) *results.Document {
	t.Helper()
	doc := fixtureDoc(t, "20261127T101500Z-fa11ed", 20, 4, 1)
	recs := fixtureRecords(20, 4, 1, lcg(7))
	for i := range recs {
		r := &recs[i]
		r.Error, r.HTTPStatus, r.ErrorMessage = bencher.ErrHTTPStatus, 500, "Internal server error"
		r.FirstToken, r.ChunkTimes, r.OutputTokens, r.End = 0, nil, 0, r.Sent+2_000_000
	}
	gates, err := gate.Parse("ttft_p95<=500ms", stats.IsValueName)
	require.NoError(t, err)
	res := &bencher.Result{Start: fixedStart, End: fixedStart.Add(recs[19].End), StopReason: bencher.StopCompleted,
		Config: doc.Config.Run, Records: recs}
	return results.New(res, results.Meta{ID: doc.ID, Profile: "high-parallelism", Gates: gates, Simulated: true})
}

// noStreamDoc returns a run whose requests succeeded without streaming:
// no TTFT, ITL or TPOT samples.
func noStreamDoc(t *testing.T) *results.Document {
	t.Helper()
	recs := fixtureRecords(20, 4, 1, lcg(9))
	for i := range recs {
		recs[i].FirstToken, recs[i].ChunkTimes = 0, nil
	}
	doc := fixtureDoc(t, "20261127T101500Z-0457e4", 20, 4, 1)
	res := &bencher.Result{Start: fixedStart, End: fixedStart.Add(recs[19].End), StopReason: bencher.StopCompleted,
		Config: doc.Config.Run, Records: recs}
	res.Config.Stream = false
	gates, err := gate.Parse("ttft_p95<=1ms", stats.IsValueName)
	require.NoError(t, err)
	return results.New(res, results.Meta{ID: doc.ID, Profile: "p", Gates: gates})
}

// latencyLines returns the lines of a table report that hold a latency.
func latencyLines(table, metric string) []string {
	var out []string
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, " "+metric+" (ms):") {
			out = append(out, l)
		}
	}
	return out
}

// TestNoSamplesReadNA: statistics without samples read n/a in every
// report, never 0.00, and the gate on them fails with "no samples".
func TestNoSamplesReadNA(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]*results.Document{"all failed": allFailedDoc(t), "no stream": noStreamDoc(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, 0, doc.Summary.TTFT.Count)
			table := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
			lines := latencyLines(table, "TTFT")
			require.Len(t, lines, 5, table)
			for _, l := range lines {
				assert.True(t, strings.HasSuffix(l, " n/a"), "%q", l)
			}
			assert.Contains(t, table, "FAIL ttft_p") // the gate
			assert.Contains(t, table, "no samples")
			md := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatMarkdown) }))
			assert.Contains(t, md, "| TTFT | n/a | n/a | n/a | n/a | n/a |")
			assert.Contains(t, md, "n/a (no samples)")
			mx := string(render(t, func(b *bytes.Buffer) error { return Matrix(b, []*results.Header{&doc.Header}, FormatTable) }))
			assert.Contains(t, mx, "n/a")
			var rows []MatrixRow
			require.NoError(t, json.Unmarshal(render(t, func(b *bytes.Buffer) error {
				return Matrix(b, []*results.Header{&doc.Header}, FormatJSON)
			}), &rows))
			assert.Nil(t, rows[0].TTFTP95, "absent in JSON, not 0")
			sw := SweepRows([]*results.Header{&doc.Header})
			assert.Nil(t, sw[0].TTFTP50)
		})
	}
}

// TestNothingMeasuredReadsNA: a run that measured no request has no
// success rate or throughput: n/a, not 0.00.
func TestNothingMeasuredReadsNA(t *testing.T) {
	t.Parallel()
	doc := fixtureDoc(t, "20261127T101500Z-000000", 20, 4, 1)
	res := &bencher.Result{Start: fixedStart, End: fixedStart, StopReason: bencher.StopCompleted, Config: doc.Config.Run}
	doc = results.New(res, results.Meta{ID: doc.ID, Profile: "p"})
	table := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
	for _, label := range []string{"Success rate (%):", "Request throughput (req/s):", "Output token throughput (tok/s):",
		"Achieved concurrency (mean):", "Arrival rate, scheduled (req/s):"} {
		assert.Regexp(t, `(?m)^`+regexpQuote(label)+` +n/a$`, table)
	}
	assert.NotContains(t, table, "0.00")
}

func regexpQuote(s string) string {
	r := strings.NewReplacer("(", `\(`, ")", `\)`, "/", `/`, "%", "%", ".", `\.`)
	return r.Replace(s)
}

// TestJUnitAllFailedIsAFailure: a run whose requests all failed is a
// failing test case (failures >= 1), with the reason as its message.
func TestJUnitAllFailedIsAFailure(t *testing.T) {
	t.Parallel()
	doc := allFailedDoc(t)
	var root JUnitSuites
	require.NoError(t, xml.Unmarshal(render(t, func(b *bytes.Buffer) error { return JUnit(b, &doc.Header) }), &root))
	assert.Equal(t, 2, root.Failures, "the run and its gate")
	c := root.Suites[0].Cases[0]
	require.NotNil(t, c.Failure)
	assert.Contains(t, c.Failure.Message, "no request succeeded")
	assert.Contains(t, root.Suites[0].Cases[1].Failure.Message, "no samples")
}

// TestJUnitComparisonRegressions: every regression of a comparison is a
// failing test case with the reason as its message.
func TestJUnitComparisonRegressions(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-ba5e00", 100, 4, 1)
	cur := fixtureDoc(t, "20261127T101500Z-5104e0", 100, 4, 2)
	c := Compare(base, cur, DefaultThresholds())
	require.True(t, c.Regressed)
	var root JUnitSuites
	require.NoError(t, xml.Unmarshal(render(t, func(b *bytes.Buffer) error { return JUnitComparison(b, c) }), &root))
	assert.Equal(t, len(c.Reasons), root.Failures)
	var msgs []string
	for _, tc := range root.Suites[0].Cases {
		if tc.Failure != nil {
			msgs = append(msgs, tc.Failure.Message)
		}
	}
	assert.ElementsMatch(t, c.Reasons, msgs)
}

// TestCompareUnitsAndWorkloadWarnings: compare shows each value's unit and
// warns when the two workloads differ.
func TestCompareUnitsAndWorkloadWarnings(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-ba5e01", 50, 4, 1)
	cur := fixtureDoc(t, "20261127T101500Z-5104e1", 50, 4, 1)
	cur.Config.Run.API = bencher.APICompletions
	cur.Config.Workload.OutputTokens = "256"
	cur.Profile = "inngest-style"
	c := Compare(base, cur, nil)
	joined := strings.Join(c.Warnings, "\n")
	assert.Contains(t, joined, `the workloads differ: API "chat" and "completions"`)
	assert.Contains(t, joined, `the workloads differ: output tokens "32:128" and "256"`)
	assert.Contains(t, joined, `the workloads differ: profile "high-parallelism" and "inngest-style"`)
	units := map[string]string{}
	for _, r := range c.Rows {
		units[r.Name] = r.Unit
	}
	assert.Equal(t, map[string]string{"ttft_p95": "ms", "output_throughput": "tok/s", "request_throughput": "req/s",
		"success_rate": "%", "duration_s": "s", "requests": ""},
		map[string]string{"ttft_p95": units["ttft_p95"], "output_throughput": units["output_throughput"],
			"request_throughput": units["request_throughput"], "success_rate": units["success_rate"],
			"duration_s": units["duration_s"], "requests": units["requests"]})
	var b bytes.Buffer
	require.NoError(t, c.Write(&b, FormatTable))
	assert.Contains(t, b.String(), "ttft_p95 (ms)")
	assert.Contains(t, b.String(), "! the workloads differ: API")
}

// TestCompareNoSamplesIsARegression: a threshold on a value without
// samples in the new run fails with "no samples", shown n/a.
func TestCompareNoSamplesIsARegression(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-ba5e02", 20, 4, 1)
	cur := noStreamDoc(t)
	ts, err := ParseThresholds("ttft_p95=+10%")
	require.NoError(t, err)
	c := Compare(base, cur, ts)
	require.True(t, c.Regressed)
	assert.Contains(t, strings.Join(c.Reasons, "\n"), "ttft_p95: the new run has no samples for it")
	var b bytes.Buffer
	require.NoError(t, c.Write(&b, FormatTable))
	assert.Regexp(t, `ttft_p95 \(ms\) +[0-9.]+ +n/a`, b.String())
}

// TestNotSentShown: requests never sent are shown apart from the failures,
// in the run's report and in the matrix.
func TestNotSentShown(t *testing.T) {
	t.Parallel()
	recs := fixtureRecords(20, 4, 1, lcg(11))
	for i := 15; i < 20; i++ {
		recs[i] = bencher.Record{Index: i, ID: recs[i].ID, Scheduled: recs[i].Scheduled, Error: bencher.ErrNotSent}
	}
	doc := fixtureDoc(t, "20261127T101500Z-b0b0b0", 20, 4, 1)
	res := &bencher.Result{Start: fixedStart, End: fixedStart.Add(recs[14].End), StopReason: bencher.StopInterrupted,
		Config: doc.Config.Run, Records: recs}
	doc = results.NewPartial(res, results.Meta{ID: doc.ID, Profile: "p"}, context.Canceled)
	require.Equal(t, 5, doc.Summary.NotSent)
	table := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
	assert.Regexp(t, `(?m)^Not sent \(outside the success rate\): +5$`, table)
	mx := string(render(t, func(b *bytes.Buffer) error { return Matrix(b, []*results.Header{&doc.Header}, FormatTable) }))
	assert.Contains(t, mx, "(5 not sent)")
}
