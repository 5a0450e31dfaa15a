package provisioning

import (
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPromRulesCoverEveryPromQLRule: every Grafana rule on Prometheus has
// its Prometheus form, named in CamelCase; the bencher plugin's does not.
func TestPromRulesCoverEveryPromQLRule(t *testing.T) {
	t.Parallel()
	groups, err := PromGroups()
	require.NoError(t, err)
	var names []string
	for _, g := range groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	queries, err := PromQL()
	require.NoError(t, err)
	assert.Len(t, names, len(queries))
	assert.Contains(t, names, "BenchstationGPUTemperatureHigh")
	assert.Contains(t, names, "BenchstationVLLMDown")
	assert.NotContains(t, names, "BenchstationBenchmarkRegression")
}

// TestParseGrafanaRuleRefusesOtherShapes: a PromQL rule that is not
// query, last value, threshold cannot be translated as it is, and the
// error names it rather than emitting a wrong rule.
func TestParseGrafanaRuleRefusesOtherShapes(t *testing.T) {
	t.Parallel()
	build := func(b *alerting.RuleBuilder) alerting.Rule {
		r, err := b.RuleGroup("g").FolderUID(FolderUID).OrgID(1).Build()
		require.NoError(t, err)
		return r
	}
	good := build(promRule("u", "Fine", warning, "1m", "up", gt(0), "s", "r"))
	g, ok, err := ParseGrafanaRule(good)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, GrafanaRule{UID: "u", Title: "Fine", Query: "up", Op: ">", Threshold: 0}, g)

	// B the mean of A rather than its last value.
	mean := build(promRule("u", "Mean of it", warning, "1m", "up", gt(0), "s", "r"))
	require.Equal(t, "B", *mean.Data[1].RefId)
	mean.Data[1].Model = expr.Expr{TypeReduce: &expr.TypeReduce{Expression: "A", Reducer: expr.TypeReduceReducerMean}}
	_, _, err = ParseGrafanaRule(mean)
	assert.EqualError(t, err, `alert rule "Mean of it": B is not the last value of A: cannot translate it to a Prometheus rule`)

	// A fourth step.
	four := build(promRule("u", "Four steps", warning, "1m", "up", gt(0), "s", "r"))
	four.Data = append(four.Data, four.Data[1])
	_, _, err = ParseGrafanaRule(four)
	assert.EqualError(t, err, `alert rule "Four steps": not a query, a reduction and a threshold (A, B, C): cannot translate it to a Prometheus rule`)

	_, ok, err = ParseGrafanaRule(build(benchmarkRegression()))
	assert.NoError(t, err)
	assert.False(t, ok, "the bencher plugin's rule has no Prometheus form")
}

// TestPromAnnotationsReadValue: Grafana's $values.B.Value is Prometheus's
// $value; a rule whose text reads another step is refused.
func TestPromAnnotationsReadValue(t *testing.T) {
	t.Parallel()
	r, err := promRule("u", "T", warning, "1m", "up", lt(1), "at {{ $values.B.Value }}", "r").
		RuleGroup("g").FolderUID(FolderUID).OrgID(1).Build()
	require.NoError(t, err)
	src, _, err := ParseGrafanaRule(r)
	require.NoError(t, err)
	pr, err := promRuleOf(r, src)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"summary": "at {{ $value }}", "description": "r"}, pr.Annotations)
	assert.Equal(t, "(up) < 1", pr.Expr)
	assert.Equal(t, "1m", pr.For)

	r.Annotations["summary"] = "{{ $values.C.Value }}"
	_, err = promRuleOf(r, src)
	assert.ErrorContains(t, err, "reads a Grafana step other than B")
}
