package promcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = "../.."

func TestFixtureCopyMatchesShared(t *testing.T) {
	t.Parallel()
	shared := filepath.Join(root, "..", "shared", "fixtures", "vllm-metrics.txt")
	want, err := os.ReadFile(shared)
	if os.IsNotExist(err) {
		t.Skipf("%s is absent here; the copy cannot be compared", shared)
	}
	require.NoError(t, err)
	got, err := os.ReadFile(VLLMFixture(root))
	require.NoError(t, err)
	_, body, ok := bytes.Cut(got, []byte("TestFixtureCopy keeps it in step.\n"))
	require.True(t, ok, "the copy lost its header")
	assert.Equal(t, string(want), string(body), "%s differs from %s", VLLMFixture(root), shared)
}

func TestLoadKnowsEverySource(t *testing.T) {
	t.Parallel()
	c, err := Load(root)
	require.NoError(t, err)
	for name, src := range map[string]string{
		"nvidia_gpu_temperature_celsius":             SourceExporter,
		"nvidia_gpu_xid_errors_total":                SourceExporter,
		"benchstation_batch_jobs":                    SourceExporter,
		"vllm:num_requests_waiting":                  SourceVLLM,
		"vllm:time_to_first_token_seconds_bucket":    SourceVLLM,
		"vllm:e2e_request_latency_seconds_count":     SourceVLLM,
		"bencher_requests_total":                     SourceBencher,
		"bencher_time_to_first_token_seconds_bucket": SourceBencher,
		"up": SourcePrometheus,
	} {
		assert.Equal(t, src, c[name], name)
	}
	assert.Empty(t, c["vllm:time_to_first_token_seconds"], "a histogram's own name is not a series")
	assert.Empty(t, c["go_goroutines"], "the bencher's Go runtime metrics are not Benchstation's to chart")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	c := Catalog{"nvidia_gpu_temperature_celsius": SourceExporter, "vllm:kv_cache_usage_perc": SourceVLLM,
		"vllm:gpu_cache_usage_perc": SourceVLLM}
	tests := []struct {
		name, expr, err string
	}{
		{"known, with variables", `max by (gpu) (nvidia_gpu_temperature_celsius{instance=~"$instance", gpu=~"${gpu:regex}"}) > $__rate_interval`, ""},
		{"range variable", `max_over_time(vllm:kv_cache_usage_perc[$__rate_interval])`, ""},
		{"unknown", `rate(nvidia_gpu_temperature_celcius[5m])`, "metric nvidia_gpu_temperature_celcius is not in"},
		{"deprecated", `vllm:gpu_cache_usage_perc`, "metric vllm:gpu_cache_usage_perc is a deprecated vLLM name"},
		{"syntax", `sum(nvidia_gpu_temperature_celsius`, "does not parse"},
		{"no name", `{gpu="0"}`, "a selector has no metric name"},
		{"name matcher", `{__name__="nvidia_gpu_temperature_celsius"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(tt.expr)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestSubstitute(t *testing.T) {
	t.Parallel()
	got := Substitute(`rate(x{a=~"$a", b=~"${b}", c=~"${c:pipe}", d=~"[[d]]"}[$__rate_interval]) / $__range`, "1m")
	assert.Equal(t, `rate(x{a=~".*", b=~".*", c=~".*", d=~".*"}[1m]) / 1m`, got)
}
