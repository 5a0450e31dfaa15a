package stats

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewHistogram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		values  []float64
		edges   []float64
		want    Histogram
		wantErr string
	}{
		{
			name:   "buckets half-open, the last closed",
			values: []float64{0, 0.5, 1, 1.5, 2, 2.5, -1, 3, math.NaN()},
			edges:  []float64{0, 1, 2},
			want:   Histogram{Edges: []float64{0, 1, 2}, Counts: []int{2, 3}, Below: 1, Above: 2},
		},
		{
			name: "no values", edges: []float64{1, 10, 100},
			want: Histogram{Edges: []float64{1, 10, 100}, Counts: []int{0, 0}},
		},
		{name: "one edge", edges: []float64{1}, wantErr: "stats: histogram needs at least 2 edges, got 1"},
		{name: "not ascending", edges: []float64{0, 2, 2}, wantErr: "stats: histogram edges not strictly ascending at 2 (2 after 2)"},
		{name: "infinite edge", edges: []float64{0, math.Inf(1)}, wantErr: "stats: histogram edge 1 is +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewHistogram(tt.values, tt.edges)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requireFiniteJSON(t, got)
		})
	}
}

func TestEdges(t *testing.T) {
	t.Parallel()
	require.Equal(t, []float64{0, 2, 4, 6, 8, 10}, LinearEdges(0, 10, 5))
	require.Nil(t, LinearEdges(1, 1, 5))
	require.Nil(t, LinearEdges(0, 1, 0))
	got := ExponentialEdges(1, 1000, 3)
	require.Len(t, got, 4)
	for i, want := range []float64{1, 10, 100, 1000} {
		requireNear(t, want, got[i])
	}
	require.Nil(t, ExponentialEdges(0, 10, 3))
	require.Nil(t, ExponentialEdges(1, math.Inf(1), 3))
}

func TestCDF(t *testing.T) {
	t.Parallel()
	sorted := []float64{1, 2, 3, 4}
	tests := []struct {
		name      string
		sorted    []float64
		maxPoints int
		want      []CDFPoint
	}{
		{"empty", nil, 10, nil},
		{"all points", sorted, 0, []CDFPoint{{1, 0.25}, {2, 0.5}, {3, 0.75}, {4, 1}}},
		{"more points than values", sorted, 10, []CDFPoint{{1, 0.25}, {2, 0.5}, {3, 0.75}, {4, 1}}},
		{"two of four", sorted, 2, []CDFPoint{{2, 0.5}, {4, 1}}},
		{"three of four", sorted, 3, []CDFPoint{{2, 0.5}, {3, 0.75}, {4, 1}}},
		{"one point is the maximum", sorted, 1, []CDFPoint{{4, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, CDF(tt.sorted, tt.maxPoints))
		})
	}
}

func TestLatencies(t *testing.T) {
	t.Parallel()
	records := schedule()
	tests := []struct {
		metric Metric
		want   []float64
	}{
		{MetricTTFT, []float64{100, 300, 250}},
		{MetricServerTTFT, []float64{100, 300, 50}},
		{MetricQueueDelay, []float64{0, 0, 200}},
		{MetricITL, []float64{300, 300, 300, 300, 400, 750}},
		{MetricTPOT, []float64{300, 350, 750}},
		{MetricE2EL, []float64{1000, 1000, 1000}},
		{"bogus", nil},
	}
	s := Summarize(records)
	for _, tt := range tests {
		t.Run(string(tt.metric), func(t *testing.T) {
			t.Parallel()
			got := Latencies(records, tt.metric)
			require.Len(t, got, len(tt.want))
			for i := range tt.want {
				requireNear(t, tt.want[i], got[i])
			}
			if tt.metric == "bogus" {
				return
			}
			// The same values as the summary's distribution.
			slices.Sort(got)
			p95, _ := s.Value(string(tt.metric) + "_p95")
			requireNear(t, p95, Percentile(got, P95))
		})
	}
}
