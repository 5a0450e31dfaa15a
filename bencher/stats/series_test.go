package stats

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

func ptr(v float64) *float64 { return &v }

func TestSeries(t *testing.T) {
	t.Parallel()
	// schedule()'s window [1000, 3000] ms in buckets of 1 s aligned to the
	// run's start: [1,2) s, [2,3) s and [3,4) s (C ends at exactly 3 s).
	got, err := Series(schedule(), time.Second)
	require.NoError(t, err)
	want := []Bucket{
		{
			Start: time.Second, End: 2 * time.Second,
			// At 2 s, A has ended; B and C (scheduled at 2 s) are in flight.
			InFlight: 2,
			// A's chunks at 1.1, 1.4, 1.7 s and B's at 1.8 s.
			OutputTokensPerSecond: 4,
		},
		{
			Start: 2 * time.Second, End: 3 * time.Second,
			Completed: 2, Failed: 1, InFlight: 0,
			// A's chunk at 2.0 s, B's at 2.1 and 2.5 s, C's at 2.25 s.
			OutputTokensPerSecond: 4,
			// A's TTFT 100 and B's 300: p95 = 100 + 0.95·200.
			TTFTP50: ptr(200), TTFTP95: ptr(290), E2ELP50: ptr(1000), E2ELP95: ptr(1000),
		},
		{
			Start: 3 * time.Second, End: 4 * time.Second,
			Completed:             1,
			OutputTokensPerSecond: 1,
			TTFTP50:               ptr(250), TTFTP95: ptr(250), E2ELP50: ptr(1000), E2ELP95: ptr(1000),
		},
	}
	require.Len(t, got, len(want))
	for i := range want {
		requireNear(t, want[i].OutputTokensPerSecond, got[i].OutputTokensPerSecond, "bucket %d", i)
		got[i].OutputTokensPerSecond = want[i].OutputTokensPerSecond
		require.Equal(t, want[i], got[i], "bucket %d", i)
	}
	b, err := json.Marshal(got[0])
	require.NoError(t, err)
	require.JSONEq(t, `{"start_ns":1000000000,"end_ns":2000000000,"completed":0,"failed":0,"in_flight":2,
		"output_tokens_per_second":4,"ttft_p50_ms":null,"ttft_p95_ms":null,"e2el_p50_ms":null,"e2el_p95_ms":null}`, string(b))
}

func TestSeriesEdgeCases(t *testing.T) {
	t.Parallel()
	noChunks := ok(0, 0, 1500)
	noChunks.OutputTokens = 6
	// Chunk times out of order (they should not be, but must not break the
	// walk over the buckets): 2 tokens each, in the buckets they fall in.
	unordered := ok(0, 0, 2500, 2100, 500, 1500)
	unordered.OutputTokens = 6
	tests := []struct {
		name    string
		records []bencher.Record
		width   time.Duration
		want    []Bucket
		wantErr string
	}{
		{name: "zero width", width: 0, wantErr: "stats: bucket width must be positive"},
		{name: "no records", width: time.Second},
		{name: "only warm-up", records: []bencher.Record{warm(ok(0, 0, 10, 10))}, width: time.Second},
		{
			name: "too many buckets", records: []bencher.Record{ok(0, 0, 1000, 1000)}, width: time.Microsecond,
			wantErr: "stats: 1000001 buckets of 1µs exceed the limit of 100000",
		},
		{
			name: "tokens without chunk times count at the end", records: []bencher.Record{noChunks}, width: time.Second,
			want: []Bucket{
				{Start: 0, End: time.Second, InFlight: 1},
				{
					Start: time.Second, End: 2 * time.Second, Completed: 1, OutputTokensPerSecond: 6,
					E2ELP50: ptr(1500), E2ELP95: ptr(1500),
				},
			},
		},
		{
			name: "chunk times out of order", records: []bencher.Record{unordered}, width: time.Second,
			want: []Bucket{
				{Start: 0, End: time.Second, InFlight: 1, OutputTokensPerSecond: 2},
				{Start: time.Second, End: 2 * time.Second, InFlight: 1, OutputTokensPerSecond: 2},
				{
					Start: 2 * time.Second, End: 3 * time.Second, Completed: 1, OutputTokensPerSecond: 2,
					TTFTP50: ptr(2100), TTFTP95: ptr(2100), E2ELP50: ptr(2500), E2ELP95: ptr(2500),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Series(tt.records, tt.width)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
