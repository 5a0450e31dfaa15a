package stats

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

func TestParseSLO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    SLO
		wantErr string
	}{
		{in: "ttft<=500ms", want: SLO{MetricTTFT, 500 * time.Millisecond}},
		{in: " tpot <= 50ms ", want: SLO{MetricTPOT, 50 * time.Millisecond}},
		{in: "e2el<=1m30s", want: SLO{MetricE2EL, 90 * time.Second}},
		{in: "server_ttft<=0s", want: SLO{MetricServerTTFT, 0}},
		{in: "queue_delay<=1ms", want: SLO{MetricQueueDelay, time.Millisecond}},
		{in: "itl<=200ms", want: SLO{MetricITL, 200 * time.Millisecond}},
		{in: "ttft>=500ms", wantErr: `stats: SLO "ttft>=500ms": want METRIC<=DURATION, e.g. ttft<=500ms`},
		{in: "ttft_p95<=500ms", wantErr: `stats: SLO "ttft_p95<=500ms": unknown per-request metric "ttft_p95" (want one of ttft, server_ttft, queue_delay, itl, tpot, e2el)`},
		{in: "ttft<=500", wantErr: `stats: SLO "ttft<=500": time: missing unit in duration "500"`},
		{in: "ttft<=-1s", wantErr: `stats: SLO "ttft<=-1s": negative threshold`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSLO(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			back, err := ParseSLO(got.String())
			require.NoError(t, err)
			require.Equal(t, got, back)
		})
	}
}

func TestParseSLOs(t *testing.T) {
	t.Parallel()
	got, err := ParseSLOs("ttft<=500ms,tpot<=50ms")
	require.NoError(t, err)
	require.Equal(t, []SLO{{MetricTTFT, 500 * time.Millisecond}, {MetricTPOT, 50 * time.Millisecond}}, got)

	got, err = ParseSLOs("  ")
	require.NoError(t, err)
	require.Empty(t, got)

	_, err = ParseSLOs("ttft<=500ms,,tpot<=1s")
	require.EqualError(t, err, `stats: SLO "": want METRIC<=DURATION, e.g. ttft<=500ms`)
}

func TestSLOMet(t *testing.T) {
	t.Parallel()
	// Queued 100 ms, TTFT 150 (server 50), chunks 50 and 100 apart, TPOT
	// (400 − 150) / 2 = 125, E2EL 400.
	r := ok(0, 100, 400, 150, 200, 300)
	oneToken := ok(0, 0, 100, 100)
	empty := ok(0, 0, 100)
	fail := failed(0, 0, 10, bencher.ErrTimeout, 0)
	tests := []struct {
		name string
		slo  string
		rec  bencher.Record
		want bool
	}{
		{"ttft met at the limit", "ttft<=150ms", r, true},
		{"ttft includes the queue", "ttft<=149ms", r, false},
		{"server ttft excludes the queue", "server_ttft<=50ms", r, true},
		{"queue delay", "queue_delay<=99ms", r, false},
		{"itl is the largest gap", "itl<=99ms", r, false},
		{"itl met", "itl<=100ms", r, true},
		{"tpot", "tpot<=125ms", r, true},
		{"tpot missed", "tpot<=124ms", r, false},
		{"e2el", "e2el<=400ms", r, true},
		{"tpot undefined for one token is met", "tpot<=1ns", oneToken, true},
		{"itl undefined for one chunk is met", "itl<=0s", oneToken, true},
		{"ttft undefined without content is not met", "ttft<=1h", empty, false},
		{"a failure meets nothing", "e2el<=1h", fail, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			slo, err := ParseSLO(tt.slo)
			require.NoError(t, err)
			require.Equal(t, tt.want, slo.Met(&tt.rec))
		})
	}
}
