package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seqsOf builds chunk-time sequences whose gaps are the given lists.
func seqsOf(gapLists ...[]int64) gapSeqs {
	var s gapSeqs
	for _, gaps := range gapLists {
		seq := []time.Duration{time.Duration(len(s)) * time.Second}
		for _, g := range gaps {
			seq = append(seq, seq[len(seq)-1]+time.Duration(g))
		}
		s = append(s, seq)
	}
	return s
}

// TestGapDistributionMatchesSorting checks the radix selection over gaps
// in place against sorting the materialised gaps, on inputs that force
// every path: one round, several rounds (a dense spike wider than one
// value among far outliers), buckets of one value, negative gaps and
// ranges beyond int64.
func TestGapDistributionMatchesSorting(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	many := func(n int, f func(i int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := map[string][][]int64{
		"single gap":    {{42}},
		"constant":      {many(1000, func(int) int64 { return 7 })},
		"small range":   {many(5000, func(int) int64 { return rng.Int64N(100) })},
		"realistic":     {many(300_000, func(int) int64 { return 15e6 + rng.Int64N(10e6) }), {1, 2, 3}},
		"negative gaps": {many(20_000, func(int) int64 { return rng.Int64N(2e9) - 1e9 })},
		"beyond int64":  {{8e18, -8e18, 8e18}, many(100, func(int) int64 { return rng.Int64N(10) })},
		"spike, 2 rounds": {
			many(300_000, func(int) int64 { return 1e6 + rng.Int64N(1<<20) }),
			{0, 1 << 40, 1<<40 - 1},
		},
		"spike of equal values": {
			many(200_000, func(int) int64 { return 5e6 }),
			many(1000, func(int) int64 { return rng.Int64N(1 << 50) }),
		},
		"empty sequences too": {{}, {3, 1, 2}, {}},
	}
	for name, lists := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			requireGapsMatchSorting(t, lists, name != "beyond int64")
		})
	}
}

// requireGapsMatchSorting checks gapDistribution and gapSeqs.orderStats
// on sequences with the given gaps against the sorted gaps. exactRanks
// compares order statistics exactly, which needs gaps that float64 holds
// exactly.
func requireGapsMatchSorting(t *testing.T, lists [][]int64, exactRanks bool) {
	t.Helper()
	var all []float64
	for _, l := range lists {
		for _, g := range l {
			all = append(all, float64(g))
		}
	}
	slices.Sort(all)
	seqs := seqsOf(lists...)
	got := gapDistribution(seqs, []float64{99.99})
	require.Equal(t, len(all), got.Count)
	requireNear(t, all[0]/1e6, got.Min)
	requireNear(t, all[len(all)-1]/1e6, got.Max)
	for i, p := range []float64{P50, P90, P95, P99, 99.99} {
		v := []float64{got.P50, got.P90, got.P95, got.P99, got.ExtraPercentiles["p99.99"]}[i]
		requireNear(t, Percentile(all, p)/1e6, v, "p%v", p)
	}
	mean, sq := 0.0, 0.0
	for _, v := range all {
		mean += v / float64(len(all))
	}
	for _, v := range all {
		sq += (v - mean) * (v - mean)
	}
	require.InEpsilon(t, mean/1e6+1, got.Mean+1, 1e-9)
	require.InEpsilon(t, math.Sqrt(sq/float64(len(all)))/1e6+1, got.Std+1, 1e-9)
	if !exactRanks {
		return
	}
	ranks := slices.Compact([]int{0, len(all) / 3, len(all) / 2, len(all) - 1})
	lo, hi := int64(all[0]), int64(all[len(all)-1])
	order := seqs.orderStats(ranks, span{lo: lo, maxOff: uint64(hi) - uint64(lo)})
	for i, r := range ranks {
		require.Equal(t, int64(all[r]), order[i], "rank %d", r)
	}
}

func TestGapDistributionEmpty(t *testing.T) {
	t.Parallel()
	require.Equal(t, Distribution{}, gapDistribution(nil, nil))
	require.Equal(t, Distribution{}, gapDistribution(gapSeqs{{time.Second}}, nil))
}

func TestLocator(t *testing.T) {
	t.Parallel()
	top := span{lo: 0, maxOff: 1<<20 - 1} // buckets of 16
	spans := []span{{lo: 32, maxOff: 15}, {lo: 48, maxOff: 3}, {lo: 56, maxOff: 3}, {lo: 1 << 19, maxOff: 15}}
	l := newLocator(top, spans)
	for v, want := range map[int64]int{-1: -1, 0: -1, 32: 0, 47: 0, 48: 1, 51: 1, 52: -1, 58: 2, 60: -1, 1 << 19: 3, 1<<20 + 5: -1} {
		require.Equal(t, want, l.find(v), "v=%d", v)
	}
}
