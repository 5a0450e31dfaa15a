package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// withValue returns a copy of h whose summary value name is v (for the few
// names the tests set; nil removes goodput).
func withValue(t *testing.T, h results.Header, name string, v *float64) *results.Header {
	t.Helper()
	s := &h.Summary
	s.ErrorsByClass = map[bencher.ErrorClass]int{}
	switch name {
	case "ttft_p95":
		s.TTFT.P95 = *v
	case "output_throughput":
		s.OutputThroughput = *v
	case "requests":
		s.Requests = int(*v)
	case "errors_timeout":
		s.ErrorsByClass[bencher.ErrTimeout] = int(*v)
	case "goodput":
		s.Goodput = nil
		if v != nil {
			s.Goodput = &stats.Goodput{RequestGoodput: *v}
		}
	default:
		t.Fatalf("withValue: %s", name)
	}
	return &h
}

func TestCompareVerdicts(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-000001", 50, 4, 1).Header
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		threshold string
		base, new *float64
		want      Verdict
		reason    string
	}{
		{"ttft_p95=+10%", f(100), f(111), VerdictFail, "ttft_p95 grew by 11.00% (threshold +10%)"},
		{"ttft_p95=+10%", f(100), f(110), VerdictPass, ""},
		{"ttft_p95=+10%", f(100), f(50), VerdictPass, ""},
		{"ttft_p95=10%", f(100), f(111), VerdictFail, "ttft_p95 grew by 11.00% (threshold 10%)"},
		{"ttft_p95=10%", f(100), f(80), VerdictPass, ""},
		{"ttft_p95=-10%", f(100), f(80), VerdictFail, "ttft_p95 dropped by 20.00% (threshold -10%)"},
		{"output_throughput=-5%", f(100), f(94), VerdictFail, "output_throughput dropped by 6.00% (threshold -5%)"},
		{"output_throughput=-5%", f(100), f(96), VerdictPass, ""},
		{"output_throughput=-5%", f(100), f(300), VerdictPass, ""},
		{"output_throughput=5%", f(100), f(94), VerdictFail, "output_throughput dropped by 6.00% (threshold 5%)"},
		{"output_throughput=5%", f(100), f(120), VerdictPass, ""},
		{"output_throughput=+5%", f(100), f(106), VerdictFail, "output_throughput grew by 6.00% (threshold +5%)"},
		{"requests=10%", f(100), f(89), VerdictFail, "requests dropped by 11.00% (threshold 10%)"},
		{"requests=10%", f(100), f(111), VerdictFail, "requests grew by 11.00% (threshold 10%)"},
		{"requests=10%", f(100), f(105), VerdictPass, ""},
		{"errors_timeout=+10%", f(0), f(3), VerdictFail, "errors_timeout grew from 0 (threshold +10%)"},
		{"errors_timeout=+10%", f(0), f(0), VerdictPass, ""},
		{"goodput=-5%", f(10), nil, VerdictMissing, "goodput: the new run has no samples for it (threshold -5%)"},
		{"goodput=-5%", nil, f(10), VerdictMissing, "goodput: the base run has no samples for it (threshold -5%)"},
	}
	for _, tt := range tests {
		th, err := ParseThresholds(tt.threshold)
		require.NoError(t, err)
		name := th[0].Name
		c := CompareHeaders(withValue(t, base, name, tt.base), withValue(t, base, name, tt.new), th)
		var row *Row
		for i := range c.Rows {
			if c.Rows[i].Name == name {
				row = &c.Rows[i]
			}
		}
		require.NotNil(t, row, tt.threshold)
		assert.Equal(t, tt.want, row.Verdict, "%s: %v → %v", tt.threshold, tt.base, tt.new)
		assert.Equal(t, tt.want != VerdictPass, c.Regressed, tt.threshold)
		if tt.reason != "" {
			assert.Equal(t, []string{tt.reason}, c.Reasons)
		} else {
			assert.Empty(t, c.Reasons)
		}
	}
}

func TestCompareSameRunPasses(t *testing.T) {
	t.Parallel()
	doc := fixtureDoc(t, "20261127T101500Z-000001", 100, 8, 1)
	c := Compare(doc, doc, DefaultThresholds())
	assert.False(t, c.Regressed)
	assert.Equal(t, []string{"both runs were SIMULATED"}, c.Warnings)
	for _, r := range c.Rows {
		if r.Threshold != nil {
			assert.Equal(t, VerdictPass, r.Verdict, r.Name)
		}
		assert.Equal(t, "same", r.Change, r.Name)
	}
}

func TestCompareNewRunNotCompleted(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-000001", 100, 8, 1)
	cur := fixtureDoc(t, "20261127T101500Z-000002", 100, 8, 1)
	cur.Status, cur.Error = results.StatusFailed, "stopped early: the error rate passed the limit of 0.5"
	base.Status, base.Error = results.StatusInterrupted, "the run was cancelled before its end"
	c := Compare(base, cur, nil)
	assert.True(t, c.Regressed)
	assert.Equal(t, []string{"the new run failed: stopped early: the error rate passed the limit of 0.5"}, c.Reasons)
	assert.Contains(t, c.Warnings, "the base run was interrupted")
}

func TestCompareGolden(t *testing.T) {
	t.Parallel()
	base := fixtureDoc(t, "20261127T101500Z-000001", 200, 8, 1)
	cur := fixtureDoc(t, "20261128T101500Z-000002", 200, 8, 1.15)
	cur.Environment.Simulated = false
	cur.Environment.Target = "http://gpu-box:8000/v1"
	c := Compare(base, cur, DefaultThresholds())
	require.True(t, c.Regressed)
	for _, f := range []Format{FormatTable, FormatMarkdown, FormatJSON} {
		got := render(t, func(b *bytes.Buffer) error { return c.Write(b, f) })
		golden(t, "compare."+string(f)+".golden", got)
	}
	var back Comparison
	require.NoError(t, json.Unmarshal(render(t, func(b *bytes.Buffer) error { return c.Write(b, FormatJSON) }), &back))
	assert.True(t, back.Regressed)
	require.ErrorIs(t, c.Write(&bytes.Buffer{}, FormatJUnit), ErrFormat)
}

func TestParseThresholds(t *testing.T) {
	t.Parallel()
	got, err := ParseThresholds(" ttft_p95 = +10% , output_throughput=-5%,e2el_p99=20.5%")
	require.NoError(t, err)
	assert.Equal(t, []Threshold{
		{Name: "ttft_p95", Sign: 1, Limit: 0.10, Text: "ttft_p95 = +10%"},
		{Name: "output_throughput", Sign: -1, Limit: 0.05, Text: "output_throughput=-5%"},
		{Name: "e2el_p99", Sign: 0, Limit: 0.205, Text: "e2el_p99=20.5%"},
	}, got)
	assert.Equal(t, "e2el_p99=20.5%", got[2].String())

	errs := map[string]string{
		"":                        "invalid threshold: empty, want e.g. 'ttft_p95=+10%,output_throughput=-5%'",
		" , ":                     "invalid threshold: empty, want e.g. 'ttft_p95=+10%,output_throughput=-5%'",
		"ttft_p95":                `invalid threshold "ttft_p95": want NAME=+N%, NAME=-N% or NAME=N%`,
		"=+10%":                   `invalid threshold "=+10%": want NAME=+N%, NAME=-N% or NAME=N%`,
		"ttfx_p95=+10%":           `invalid threshold "ttfx_p95=+10%": unknown value "ttfx_p95"`,
		"ttft_p95=+10":            `invalid threshold "ttft_p95=+10": want a percentage such as +10%`,
		"ttft_p95=+ten%":          `invalid threshold "ttft_p95=+ten%": bad percentage "ten%"`,
		"ttft_p95=+-10%":          `invalid threshold "ttft_p95=+-10%": bad percentage "-10%"`,
		"ttft_p95=inf%":           `invalid threshold "ttft_p95=inf%": bad percentage "inf%"`,
		"ttft_p95=%":              `invalid threshold "ttft_p95=%": bad percentage "%"`,
		"a=1%,ttft_p95=1%":        `invalid threshold "a=1%": unknown value "a"`,
		"tpot_p95=1%,tpot_p95=2%": `invalid threshold "tpot_p95=2%": tpot_p95 is given twice`,
	}
	for in, want := range errs {
		_, err := ParseThresholds(in)
		require.EqualError(t, err, want, in)
		require.ErrorIs(t, err, ErrThreshold)
	}
}

func TestDefaultThresholds(t *testing.T) {
	t.Parallel()
	var texts []string
	for _, th := range DefaultThresholds() {
		texts = append(texts, th.Text)
		reparsed, err := ParseThresholds(th.Text)
		require.NoError(t, err)
		assert.Equal(t, th, reparsed[0])
	}
	assert.Equal(t, []string{"ttft_p50=+10%", "ttft_p95=+10%", "tpot_p50=+10%", "tpot_p95=+10%",
		"itl_p50=+10%", "itl_p95=+10%", "e2el_p50=+10%", "e2el_p95=+10%",
		"request_throughput=-5%", "output_throughput=-5%", "success_rate=-1%"}, texts)
}

func TestBetter(t *testing.T) {
	t.Parallel()
	tests := map[string]Direction{
		"ttft_p95": LowerIsBetter, "itl_mean": LowerIsBetter, "e2el_p99.9": LowerIsBetter,
		"queue_delay_max": LowerIsBetter, "error_rate": LowerIsBetter, "errors_timeout": LowerIsBetter,
		"http_status_503": LowerIsBetter, "duration_s": LowerIsBetter, "retries": LowerIsBetter,
		"output_throughput": HigherIsBetter, "request_throughput": HigherIsBetter, "success_rate": HigherIsBetter,
		"goodput": HigherIsBetter, "slo_attainment": HigherIsBetter,
		"ttft_count": Neutral, "requests": Neutral, "input_tokens": Neutral, "concurrency": Neutral, "nonsense": Neutral,
	}
	for name, want := range tests {
		assert.Equal(t, want, Better(name), name)
	}
}
