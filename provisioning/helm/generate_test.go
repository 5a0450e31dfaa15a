package helm

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the chart's generated files from the repository")

// TestCommittedChartFilesAreGenerated fails when a file the chart holds a
// copy of (dashboards, rules) or generates from Go (the Prometheus alert
// rules) has changed without the chart: go tool mage dashboards.
func TestCommittedChartFilesAreGenerated(t *testing.T) {
	if *update {
		require.NoError(t, Write(root, ChartDir))
	}
	want, err := Generated(root)
	require.NoError(t, err)
	for p, raw := range want {
		got, err := os.ReadFile(filepath.Join(ChartDir, filepath.FromSlash(p)))
		if assert.NoError(t, err, "run go tool mage dashboards") {
			assert.Equal(t, string(raw), string(got), "%s differs from its source: run go tool mage dashboards", p)
		}
	}
	stale, err := Stale(ChartDir, want)
	require.NoError(t, err)
	assert.Empty(t, stale, "files of the chart that nothing generates any more: run go tool mage dashboards")
}

// TestGeneratedCoversEveryDashboardAndRuleFile pins what the generator
// copies: every dashboard, and every rule file of provisioning/prometheus.
func TestGeneratedCoversEveryDashboardAndRuleFile(t *testing.T) {
	t.Parallel()
	files, err := Generated(root)
	require.NoError(t, err)
	boards, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, boards)
	for _, b := range boards {
		assert.Contains(t, files, "files/dashboards/"+filepath.Base(b))
	}
	rules, err := filepath.Glob(filepath.Join(root, "provisioning", "prometheus", "rules", "*.yml"))
	require.NoError(t, err)
	for _, r := range rules {
		assert.Contains(t, ruleCopies, filepath.Base(r), "rule file %s is not copied into the chart", r)
	}
	assert.Contains(t, files, "files/rules/alerts.yaml")
}
