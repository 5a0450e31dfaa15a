package stats

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

func TestSummaryValue(t *testing.T) {
	t.Parallel()
	records := append(schedule(),
		failed(2500, 2500, 2600, bencher.ErrHTTPStatus, 503),
		failed(2500, 2500, 2600, bencher.ErrHTTPStatus, 503))
	slos := []SLO{{Metric: MetricTTFT, Max: msd(260)}, {Metric: MetricE2EL, Max: msd(1000)}}
	s := Summarize(records, WithSLOs(slos...), WithPercentiles(99.9), WithRequestedConcurrency(4), WithRequestedRate(2.5))
	tests := []struct {
		name  string
		want  float64
		found bool
	}{
		{"requests", 6, true},
		{"warmup_requests", 1, true},
		{"succeeded", 3, true},
		{"failed", 3, true},
		{"success_rate", 0.5, true},
		{"error_rate", 0.5, true},
		{"attempts", 8, true},
		{"retries", 2, true},
		{"input_tokens", 30, true},
		{"output_tokens", 9, true},
		{"duration_s", 2, true},
		{"request_throughput", 1.5, true},
		{"output_throughput", 4.5, true},
		{"total_token_throughput", 19.5, true},
		{"goodput", 1, true},
		{"good_requests", 2, true},
		{"slo_attainment", 2.0 / 6, true},
		{"request_rate", 5.0 / 1.5, true},
		{"requested_request_rate", 2.5, true},
		{"concurrency", 3500.0 / 2000, true},
		{"max_concurrency", 4, true},
		{"requested_concurrency", 4, true},
		{"errors_timeout", 1, true},
		{"errors_http_status", 2, true},
		{"errors_connection", 0, true},
		{"errors_bogus", 0, false},
		{"http_status_503", 2, true},
		{"http_status_500", 0, true},
		{"http_status_5x", 0, false},
		{"ttft_p50", 250, true},
		{"ttft_median", 250, true},
		{"ttft_min", 100, true},
		{"ttft_max", 300, true},
		{"ttft_count", 3, true},
		{"server_ttft_max", 300, true},
		{"queue_delay_max", 200, true},
		{"itl_p99.9", 748.25, true},
		{"itl_p99.5", 0, false},
		{"tpot_min", 300, true},
		{"e2el_p95", 1000, true},
		{"failed_e2el_max", 300, true},
		{"ttft", 0, false},
		{"latency_p50", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, found := s.Value(tt.name)
			require.Equal(t, tt.found, found)
			requireNear(t, tt.want, got)
		})
	}
}

func TestValueNames(t *testing.T) {
	t.Parallel()
	withSLOs := Summarize(schedule(), WithSLOs(SLO{Metric: MetricE2EL, Max: msd(1)}))
	without := Summarize(schedule())
	for _, name := range ValueNames() {
		require.True(t, IsValueName(name), name)
		if strings.HasPrefix(name, "failed_e2el_") && name != "failed_e2el_count" {
			continue // schedule's requests all succeed: no failed E2EL
		}
		_, found := withSLOs.Value(name)
		require.True(t, found, name)
		if name != "goodput" && name != "good_requests" && name != "slo_attainment" {
			_, found = without.Value(name)
			require.True(t, found, name)
		}
	}
	_, found := without.Value("goodput")
	require.False(t, found, "goodput exists only with SLOs")
}

// TestValuesWithoutMeasurements: a summary without measured requests (none,
// or only requests canceled by a stop) has its counts, and no statistic,
// rate or ratio, which would read as a real 0.
func TestValuesWithoutMeasurements(t *testing.T) {
	t.Parallel()
	canceled := []bencher.Record{{Index: 0, Error: bencher.ErrCanceled, End: msd(5)}, {Index: 1, Error: bencher.ErrCanceled, End: msd(6)}}
	for name, records := range map[string][]bencher.Record{"none": nil, "canceled": canceled} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(records, WithSLOs(SLO{Metric: MetricE2EL, Max: msd(1)}))
			assert.False(t, s.Measured())
			for _, name := range []string{"requests", "failed", "ttft_count", "e2el_count", "errors_canceled", "good_requests"} {
				_, found := s.Value(name)
				assert.True(t, found, name)
			}
			for _, name := range []string{"ttft_p95", "ttft_mean", "e2el_p50", "itl_max", "success_rate",
				"error_rate", "request_throughput", "output_throughput", "goodput", "slo_attainment", "concurrency"} {
				_, found := s.Value(name)
				assert.False(t, found, name)
			}
			raw, err := json.Marshal(s)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			for _, key := range []string{"success_rate", "request_throughput", "output_throughput", "total_token_throughput"} {
				assert.NotContains(t, m, key)
			}
			for _, key := range []string{"ttft_ms", "itl_ms", "e2el_ms", "tpot_ms"} {
				assert.Equal(t, map[string]any{"count": 0.0}, m[key], key)
			}
			var back Summary
			require.NoError(t, json.Unmarshal(raw, &back))
			assert.Equal(t, s.Requests, back.Requests)
		})
	}
	measured := Summarize(append(slices.Clone(canceled), bencher.Record{Index: 2, Error: bencher.ErrTimeout, End: msd(7)}))
	assert.True(t, measured.Measured(), "a request that failed by itself is a measurement")
	v, found := measured.Value("success_rate")
	assert.True(t, found)
	assert.Zero(t, v)
}

func TestIsValueName(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"ttft_p95": true, "success_rate": true, "output_throughput": true, "goodput": true,
		"slo_attainment": true, "errors_timeout": true, "errors_invalid_request": true,
		"http_status_429": true, "itl_p99.9": true, "e2el_p75": true, "failed_e2el_median": true,
		"server_ttft_std": true, "duration_s": true, "ttft_p100": true,
		"ttft_p101": false, "ttft_p": false, "ttft_pinf": false, "ttft_p1e1": false, "ttft_p-1": false,
		"ttft_p50x": false, "latency_p50": false, "errors_bogus": false, "http_status_5xx": false,
		"ttft": false, "": false, "Success_Rate": false,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, IsValueName(name))
		})
	}
}

func TestExtraPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want float64
		ok   bool
	}{
		{"ttft_p99.9", 99.9, true},
		{"server_ttft_p75", 75, true},
		{"itl_p0", 0, true},
		{"ttft_p95", 0, false},
		{"ttft_p99.0", 0, false},
		{"ttft_mean", 0, false},
		{"bogus_p75", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ExtraPercentile(tt.name)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
	// A gate's extra percentile, asked for, is then found, in any spelling.
	p, _ := ExtraPercentile("itl_p99.90")
	s := Summarize(schedule(), WithPercentiles(p))
	v, found := s.Value("itl_p99.90")
	require.True(t, found)
	requireNear(t, 748.25, v)
}
