package helm

import (
	"os"
	"path/filepath"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/provisioning"
)

// ruleGroups returns the groups of the PrometheusRule named name.
func ruleGroups(t *testing.T, objs map[string]any, name string) []monitoringv1.RuleGroup {
	t.Helper()
	return get[*monitoringv1.PrometheusRule](t, objs, "PrometheusRule/bs-benchstation-"+name).Spec.Groups
}

func parse(t *testing.T, expr string) parser.Expr {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	require.NoError(t, err, expr)
	return e
}

// TestAlertRulesAreTheGrafanaRules checks each alert of the chart's
// PrometheusRule against the Grafana rule of the same source: the same
// query compared with the same threshold, the same for and labels, and an
// absent() branch exactly where Grafana alerts on no data.
func TestAlertRulesAreTheGrafanaRules(t *testing.T) {
	t.Parallel()
	alerts := map[string]monitoringv1.Rule{}
	for _, g := range ruleGroups(t, decodeAll(t, render(t, nil)), "alerts") {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s holds a recording rule", g.Name)
			alerts[r.Alert] = r
		}
	}
	rules, err := provisioning.Rules()
	require.NoError(t, err)
	translated := 0
	for _, r := range rules {
		src, ok, err := provisioning.ParseGrafanaRule(r)
		require.NoError(t, err)
		if !ok {
			continue // the bencher plugin's rules stay in Grafana
		}
		translated++
		var got *monitoringv1.Rule
		for _, a := range alerts {
			if a.Annotations["summary"] == provisioning.PromAnnotation(r.Annotations["summary"]) {
				got = &a
			}
		}
		require.NotNil(t, got, "no Prometheus alert for Grafana rule %s", src.UID)
		t.Run(src.UID, func(t *testing.T) {
			e := parse(t, got.Expr.String())
			cmp := e
			if r.NoDataState == "Alerting" {
				or, ok := e.(*parser.BinaryExpr)
				require.True(t, ok && or.Op == parser.LOR, "no data Alerting: want `cmp or on () absent(query)`, got %s", e)
				call, ok := or.RHS.(*parser.Call)
				require.True(t, ok && call.Func.Name == "absent", "right of or: want absent(query), got %s", or.RHS)
				assert.Equal(t, parse(t, src.Query).String(), call.Args[0].String())
				require.NotNil(t, or.VectorMatching)
				assert.True(t, or.VectorMatching.On)
				assert.Empty(t, or.VectorMatching.MatchingLabels)
				cmp = or.LHS
			}
			bin, ok := cmp.(*parser.BinaryExpr)
			require.True(t, ok, "want query %s threshold, got %s", src.Op, cmp)
			assert.Equal(t, src.Op, bin.Op.String())
			assert.False(t, bin.ReturnBool, "a filter, not a bool comparison")
			lhs, ok := bin.LHS.(*parser.ParenExpr)
			require.True(t, ok)
			assert.Equal(t, parse(t, src.Query).String(), lhs.Expr.String(), "the Grafana rule's query")
			th, ok := bin.RHS.(*parser.NumberLiteral)
			require.True(t, ok)
			assert.Equal(t, src.Threshold, th.Val)

			wantFor := r.For
			if wantFor == "0s" {
				assert.Nil(t, got.For)
			} else {
				require.NotNil(t, got.For)
				assert.Equal(t, wantFor, string(*got.For))
			}
			assert.Equal(t, r.Labels, got.Labels)
			assert.NotContains(t, got.Annotations["summary"], "$values")
			assert.NotEmpty(t, got.Annotations["description"])
		})
	}
	assert.Equal(t, translated, len(alerts), "one Prometheus alert per Grafana PromQL rule")
	assert.Equal(t, 11, translated)
}

// TestNoDataAlertingRulesFireOnNoData evaluates the no-data branch: with
// no series at all, absent() of each Alerting rule's query gives one
// element, so the rule fires as Grafana's does.
func TestNoDataAlertingRulesFireOnNoData(t *testing.T) {
	t.Parallel()
	groups, err := provisioning.PromGroups()
	require.NoError(t, err)
	var n int
	for _, g := range groups {
		for _, r := range g.Rules {
			e := parse(t, r.Expr)
			if or, ok := e.(*parser.BinaryExpr); ok && or.Op == parser.LOR {
				if call, ok := or.RHS.(*parser.Call); ok && call.Func.Name == "absent" {
					n++
					assert.Contains(t, r.How, "no data Alerting", r.Alert)
				}
			}
		}
	}
	assert.Equal(t, 2, n, "Exporter down and vLLM down")
}

// TestRuleFilesLoadInPrometheus loads each rule file of the chart with
// Prometheus's own rule-file parser (strict: unknown fields, bad PromQL
// and bad annotation templates fail).
func TestRuleFilesLoadInPrometheus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(ChartDir, "files", "rules", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
		require.Empty(t, errs, f)
		require.NotEmpty(t, groups.Groups, f)
	}
}

// TestRecordingRulesAreProvisioningsRules checks that the chart's
// recording rules are those of provisioning/prometheus/rules, which the
// dashboards read, and parse.
func TestRecordingRulesAreProvisioningsRules(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, map[string]any{"prometheusRule": map[string]any{"compat": true}}))
	for part, file := range map[string]string{"recording": "vllm.yml", "compat": "compat.yml"} {
		var want struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Record string `yaml:"record"`
					Expr   string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		raw, err := os.ReadFile(filepath.Join(root, "provisioning", "prometheus", "rules", file))
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(raw, &want))
		got := ruleGroups(t, objs, part)
		require.Len(t, got, len(want.Groups), part)
		for i, g := range want.Groups {
			assert.Equal(t, g.Name, got[i].Name)
			require.Len(t, got[i].Rules, len(g.Rules))
			for j, r := range g.Rules {
				assert.Equal(t, r.Record, got[i].Rules[j].Record)
				assert.Equal(t, r.Expr, got[i].Rules[j].Expr.String())
				parse(t, got[i].Rules[j].Expr.String())
			}
		}
	}
	off := decodeAll(t, render(t, map[string]any{"prometheusRule": map[string]any{"recording": false}}))
	assert.NotContains(t, off, "PrometheusRule/bs-benchstation-recording")
	assert.NotContains(t, off, "PrometheusRule/bs-benchstation-compat", "compat is off by default")
	assert.Contains(t, off, "PrometheusRule/bs-benchstation-alerts")
}

// TestPrometheusRuleLabelsForTheOperator: the ruleSelector's labels.
func TestPrometheusRuleLabelsForTheOperator(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, map[string]any{"prometheusRule": map[string]any{"additionalLabels": map[string]any{"release": "monitoring"}}}))
	pr := get[*monitoringv1.PrometheusRule](t, objs, "PrometheusRule/bs-benchstation-alerts")
	assert.Equal(t, "monitoring", pr.Labels["release"])
	assert.Equal(t, "rules", pr.Labels["app.kubernetes.io/component"])
}
