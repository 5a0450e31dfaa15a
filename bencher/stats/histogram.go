package stats

import (
	"fmt"
	"math"
	"sort"

	"github.com/benchstation/benchstation/bencher"
)

// Histogram counts values into buckets between edges, for the plugin's
// distribution view.
type Histogram struct {
	// Edges are the bucket bounds, strictly ascending; bucket i is
	// [Edges[i], Edges[i+1]), except the last, which includes its upper
	// edge too.
	Edges []float64 `json:"edges"`
	// Counts has one count per bucket (len(Edges) − 1).
	Counts []int `json:"counts"`
	// Below and Above count the values under the first edge and over the
	// last one. NaN values are counted nowhere.
	Below int `json:"below"`
	Above int `json:"above"`
}

// NewHistogram counts values into the buckets between edges, which must be
// at least two finite values in strictly ascending order. It costs
// O(len(values) · log len(edges)).
func NewHistogram(values, edges []float64) (Histogram, error) {
	if len(edges) < 2 {
		return Histogram{}, fmt.Errorf("stats: histogram needs at least 2 edges, got %d", len(edges))
	}
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return Histogram{}, fmt.Errorf("stats: histogram edge %d is %v", i, e)
		}
		if i > 0 && e <= edges[i-1] {
			return Histogram{}, fmt.Errorf("stats: histogram edges not strictly ascending at %d (%v after %v)", i, e, edges[i-1])
		}
	}
	h := Histogram{Edges: append([]float64(nil), edges...), Counts: make([]int, len(edges)-1)}
	top := edges[len(edges)-1]
	for _, v := range values {
		switch {
		case math.IsNaN(v):
		case v < edges[0]:
			h.Below++
		case v > top:
			h.Above++
		case v == top:
			h.Counts[len(h.Counts)-1]++
		default:
			// The first edge above v closes v's bucket.
			i := sort.Search(len(edges), func(i int) bool { return edges[i] > v })
			h.Counts[i-1]++
		}
	}
	return h, nil
}

// LinearEdges returns n+1 evenly spaced edges from lo to hi (n buckets),
// or nil when n < 1 or hi <= lo.
func LinearEdges(lo, hi float64, n int) []float64 {
	if n < 1 || !(hi > lo) {
		return nil
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	edges[n] = hi
	return edges
}

// ExponentialEdges returns n+1 edges from lo to hi with a constant ratio
// between neighbours (n buckets evenly spaced on a log scale), or nil
// unless 0 < lo < hi and n >= 1. Latencies often read best this way.
func ExponentialEdges(lo, hi float64, n int) []float64 {
	if n < 1 || !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	edges := make([]float64, n+1)
	step := math.Log(hi/lo) / float64(n)
	for i := range edges {
		edges[i] = lo * math.Exp(step*float64(i))
	}
	edges[0], edges[n] = lo, hi
	return edges
}

// CDFPoint is one point of an empirical cumulative distribution: Fraction
// (0–1] of the values are at most Value.
type CDFPoint struct {
	Value    float64 `json:"value"`
	Fraction float64 `json:"fraction"`
}

// CDF returns the empirical CDF of values sorted ascending: the point
// (sorted[i], (i+1)/n) for each value, or, when maxPoints > 0 and there are
// more values, maxPoints of them at evenly spaced ranks, the largest value
// always included.
func CDF(sorted []float64, maxPoints int) []CDFPoint {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	if maxPoints <= 0 || maxPoints > n {
		maxPoints = n
	}
	points := make([]CDFPoint, maxPoints)
	for j := range points {
		// The rank ⌈(j+1)·n/maxPoints⌉ − 1, exactly in integers.
		i := ((j+1)*n+maxPoints-1)/maxPoints - 1
		points[j] = CDFPoint{Value: sorted[i], Fraction: float64(i+1) / float64(n)}
	}
	return points
}

// Latencies returns the values of one latency metric, in milliseconds and
// in record order, with the same rules as [Summarize]: successful measured
// records only, ITLs pooled over them. Sort them for [CDF] or
// [Percentile]; an unknown metric gives nil.
func Latencies(records []bencher.Record, m Metric) []float64 {
	var out []float64
	for i := range records {
		r := &records[i]
		if r.Warmup || !r.OK() {
			continue
		}
		switch m {
		case MetricTTFT, MetricServerTTFT:
			if r.FirstToken != 0 {
				start := r.Scheduled
				if m == MetricServerTTFT {
					start = r.LastSent()
				}
				out = append(out, ms(r.FirstToken-start))
			}
		case MetricQueueDelay:
			out = append(out, ms(r.QueueDelay()))
		case MetricITL:
			for j := 1; j < len(r.ChunkTimes); j++ {
				out = append(out, ms(r.ChunkTimes[j]-r.ChunkTimes[j-1]))
			}
		case MetricTPOT:
			if v, ok := tpotNS(r); ok {
				out = append(out, v/1e6)
			}
		case MetricE2EL:
			out = append(out, ms(r.E2E()))
		}
	}
	return out
}
