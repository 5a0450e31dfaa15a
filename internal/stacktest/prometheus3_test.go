package stacktest

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/dns" // registers dns_sd_configs
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrometheus3LoadsConfig loads prometheus.yml with the configuration
// loader of Prometheus 3 (the module github.com/prometheus/prometheus), the
// major version the compose file runs; promtool and the server in the
// other tests are Debian's 2.42. Strict: an unknown field fails.
func TestPrometheus3LoadsConfig(t *testing.T) {
	t.Parallel()
	cfg, err := promconfig.LoadFile(filepath.Join(repoRoot(t), prometheusConfigPath), false, nil)
	require.NoError(t, err, "Prometheus 3 refuses %s", prometheusConfigPath)
	assert.Equal(t, model.Duration(15*time.Second), cfg.GlobalConfig.ScrapeInterval)
	var jobs []string
	for _, sc := range cfg.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		assert.NotEmpty(t, sc.ServiceDiscoveryConfigs, "job %s has no targets", sc.JobName)
	}
	slices.Sort(jobs)
	assert.Equal(t, []string{"bencher", "benchstation-exporter", "prometheus", "vllm"}, jobs)
}
