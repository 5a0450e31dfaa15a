package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"single", []float64{7}, 99, 7},
		{"p0 is min", []float64{1, 2, 3, 4}, 0, 1},
		{"p100 is max", []float64{1, 2, 3, 4}, 100, 4},
		// h = 3·0.5 = 1.5: 2 + 0.5·(3−2).
		{"p50 of four", []float64{1, 2, 3, 4}, 50, 2.5},
		// h = 3·0.9 = 2.7: 3 + 0.7·1.
		{"p90 of four", []float64{1, 2, 3, 4}, 90, 3.7},
		// h = 3·0.95 = 2.85.
		{"p95 of four", []float64{1, 2, 3, 4}, 95, 3.85},
		// h = 3·0.99 = 2.97.
		{"p99 of four", []float64{1, 2, 3, 4}, 99, 3.97},
		// numpy.percentile([15, 20, 35, 40, 50], 40) == 29: h = 1.6, 20 + 0.6·15.
		{"numpy example", []float64{15, 20, 35, 40, 50}, 40, 29},
		// h = 9·0.9 = 8.1: 90 + 0.1·10.
		{"p90 of ten", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 90, 91},
		{"p50 of odd count is the middle", []float64{1, 5, 100}, 50, 5},
		{"equal values", []float64{3, 3, 3}, 95, 3},
		{"p clamped above", []float64{1, 2}, 150, 2},
		{"p clamped below", []float64{1, 2}, -5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireNear(t, tt.want, Percentile(tt.sorted, tt.p))
		})
	}
}

func TestDistribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vals  []time.Duration
		extra []float64
		want  Distribution
	}{
		{"empty", nil, nil, Distribution{}},
		{"empty keeps extra names", nil, []float64{99.9}, Distribution{ExtraPercentiles: map[string]float64{"p99.9": 0}}},
		{
			// Unsorted input; mean 2.5, population variance 1.25.
			"four values", []time.Duration{msd(4), msd(1), msd(3), msd(2)}, []float64{25},
			Distribution{
				Count: 4, Mean: 2.5, Std: math.Sqrt(1.25), Min: 1, Max: 4,
				P50: 2.5, P90: 3.7, P95: 3.85, P99: 3.97,
				ExtraPercentiles: map[string]float64{"p25": 1.75},
			},
		},
		{
			"one value", []time.Duration{msd(12.5)}, nil,
			Distribution{Count: 1, Mean: 12.5, Min: 12.5, Max: 12.5, P50: 12.5, P90: 12.5, P95: 12.5, P99: 12.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := distribution(slices.Clone(tt.vals), tt.extra)
			require.Equal(t, tt.want.Count, got.Count)
			for _, pair := range [][2]float64{
				{tt.want.Mean, got.Mean}, {tt.want.Std, got.Std}, {tt.want.Min, got.Min}, {tt.want.Max, got.Max},
				{tt.want.P50, got.P50}, {tt.want.P90, got.P90}, {tt.want.P95, got.P95}, {tt.want.P99, got.P99},
			} {
				requireNear(t, pair[0], pair[1])
			}
			require.Len(t, got.ExtraPercentiles, len(tt.want.ExtraPercentiles))
			for k, v := range tt.want.ExtraPercentiles {
				requireNear(t, v, got.ExtraPercentiles[k], k)
			}
		})
	}
}

// TestPercentilesMatchSorting checks the selection-based percentiles
// against sorting and Percentile, on inputs with many duplicates, sorted,
// reversed and organ-pipe orders.
func TestPercentilesMatchSorting(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ps := []float64{0, 1, 25, 50, 75, 90, 95, 99, 99.9, 100}
	gens := map[string]func(i, n int) int64{
		"random":     func(int, int) int64 { return rng.Int64N(1_000_000) },
		"few values": func(int, int) int64 { return rng.Int64N(3) },
		"sorted":     func(i, _ int) int64 { return int64(i) },
		"reversed":   func(i, n int) int64 { return int64(n - i) },
		"organ pipe": func(i, n int) int64 { return int64(min(i, n-i)) },
		"constant":   func(int, int) int64 { return 42 },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 2, 3, 10, 25, 1000, 5003, 100_000} {
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = gen(i, n)
			}
			sorted := make([]float64, n)
			for i, v := range vals {
				sorted[i] = float64(v)
			}
			slices.Sort(sorted)
			got := selectPercentiles(vals, ps)
			for i, p := range ps {
				require.Equal(t, Percentile(sorted, p), got[i], "%s n=%d p=%v", name, n, p)
			}
		}
	}
}

func TestSelectKth(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 30, 2000} {
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(n/2 + 1))
		}
		want := slices.Sorted(slices.Values(a))
		for _, k := range []int{0, n / 3, n / 2, n - 1} {
			b := slices.Clone(a)
			selectKth(b, k)
			require.Equal(t, want[k], b[k], "n=%d k=%d", n, k)
			for i := range b {
				if i < k {
					require.LessOrEqual(t, b[i], b[k])
				} else {
					require.GreaterOrEqual(t, b[i], b[k])
				}
			}
		}
	}
}

func TestPercentileName(t *testing.T) {
	t.Parallel()
	for p, want := range map[float64]string{50: "p50", 99.9: "p99.9", 0: "p0", 100: "p100", 99.99: "p99.99"} {
		require.Equal(t, want, PercentileName(p))
	}
}

// selectPercentiles returns the ps-th percentiles of vals by selection.
func selectPercentiles(vals []int64, ps []float64) []float64 {
	return interpolate(len(vals), ps, func(ranks []int) []float64 {
		var out []float64
		for _, v := range orderStats(vals, ranks) {
			out = append(out, float64(v))
		}
		return out
	})
}
