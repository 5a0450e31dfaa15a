package dashboards

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/promcheck"
)

// perHostLabels are the labels that name a series within one host: an
// aggregation that keeps one of them must keep instance too, or the
// series of two hosts add up (GPU 0 of every host becomes one "GPU 0").
var perHostLabels = []string{"gpu", "uuid", "model_name", "engine"}

// TestEveryHostKeepsItsSeries checks every dashboard query: each
// aggregation by a per-GPU or per-server label also keeps instance, and
// each legend that names a GPU or a model names the host as well, as the
// default view shows every host.
func TestEveryHostKeepsItsSeries(t *testing.T) {
	t.Parallel()
	files, err := All()
	require.NoError(t, err)
	for _, f := range files {
		for _, q := range PromQL(f.Dashboard) {
			if q.Variable {
				continue
			}
			expr, err := promcheck.Parse(promcheck.Substitute(q.Expr, "1m"))
			require.NoError(t, err, q.Where)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				agg, ok := n.(*parser.AggregateExpr)
				if !ok || agg.Without {
					return nil
				}
				for _, l := range perHostLabels {
					if slices.Contains(agg.Grouping, l) {
						assert.Contains(t, agg.Grouping, "instance", "%s: %s by (%s) merges the hosts' series",
							q.Where, agg.Op, strings.Join(agg.Grouping, ", "))
						break
					}
				}
				return nil
			})
			for _, l := range []string{"{{gpu}}", "{{model_name}}"} {
				if strings.Contains(q.Legend, l) {
					assert.Contains(t, q.Legend, "{{instance}}", "%s: legend %q does not name the host", q.Where, q.Legend)
				}
			}
		}
	}
}
