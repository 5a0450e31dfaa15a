package stats

import (
	"math"
	"slices"
	"strconv"
)

// The percentiles every [Distribution] reports in its fixed fields.
const (
	P50 = 50.0
	P90 = 90.0
	P95 = 95.0
	P99 = 99.0
)

// Distribution summarises the values of one latency metric, in
// milliseconds. All fields are 0 when Count is 0.
type Distribution struct {
	// Count is the number of values.
	Count int `json:"count"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// Std is the population standard deviation (numpy.std, ddof=0).
	Std float64 `json:"std"`
	// Min and Max are the smallest and largest values.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// P50, P90, P95 and P99 are percentiles by linear interpolation between
	// closest ranks (see [Percentile]).
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	// ExtraPercentiles holds the percentiles asked for with
	// [WithPercentiles] beyond the fixed four, keyed by [PercentileName]
	// ("p99.9", "p75"); omitted when there are none.
	ExtraPercentiles map[string]float64 `json:"extra_percentiles,omitempty"`
}

// PercentileName is the name of the p-th percentile in
// [Distribution.ExtraPercentiles] and in value names: "p" followed by p in
// the shortest decimal form ("p50", "p99.9").
func PercentileName(p float64) string {
	return "p" + strconv.FormatFloat(p, 'f', -1, 64)
}

// Percentile returns the p-th percentile (0 <= p <= 100) of values sorted
// ascending, by linear interpolation between closest ranks as numpy's
// default: with h = (len−1)·p/100, it is
// sorted[⌊h⌋] + (h−⌊h⌋)·(sorted[⌊h⌋+1] − sorted[⌊h⌋]). It returns 0 for no
// values; p is clamped to [0, 100].
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	lo, frac := rank(len(sorted), p)
	if frac == 0 {
		return sorted[lo]
	}
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// rank returns the integer part and the fraction of the fractional index
// of the p-th percentile among n > 0 sorted values. The fraction is 0 when
// the index is the last one.
func rank(n int, p float64) (int, float64) {
	p = min(max(p, 0), 100)
	if math.IsNaN(p) {
		p = 0
	}
	h := float64(n-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return n - 1, 0
	}
	return lo, h - float64(lo)
}

// distribution summarises vals, given in nanoseconds, into milliseconds:
// the fixed percentiles and the extra ones. It reorders vals, and does not
// sort them: the percentiles' order statistics are found by selection.
func distribution[T number](vals []T, extra []float64) Distribution {
	n := len(vals)
	if n == 0 {
		return Distribution{ExtraPercentiles: zeroPercentiles(extra)}
	}
	m := moments{n: n, min: float64(vals[0]), max: float64(vals[0])}
	for _, v := range vals {
		f := float64(v)
		m.min, m.max = min(m.min, f), max(m.max, f)
		m.sum += f
	}
	mean := m.sum / float64(n)
	for _, v := range vals {
		d := float64(v) - mean
		m.sq += d * d
	}
	pv := interpolate(n, withFixed(extra), func(ranks []int) []float64 {
		order := orderStats(vals, ranks)
		out := make([]float64, len(order))
		for i, v := range order {
			out[i] = float64(v)
		}
		return out
	})
	return newDistribution(m, pv, extra)
}

// moments are the running totals of a set of values, in nanoseconds: the
// count, extremes, sum, and sum of squared deviations from the mean.
type moments struct {
	n             int
	min, max, sum float64
	sq            float64
}

// withFixed returns the fixed percentiles followed by the extra ones, the
// order [newDistribution] reads them in.
func withFixed(extra []float64) []float64 {
	return append([]float64{P50, P90, P95, P99}, extra...)
}

// newDistribution converts moments and percentile values (in the order of
// [withFixed]), all in nanoseconds, into a Distribution in milliseconds.
func newDistribution(m moments, pv, extra []float64) Distribution {
	const ms = 1e6
	d := Distribution{
		Count: m.n, Mean: m.sum / float64(m.n) / ms, Std: math.Sqrt(m.sq/float64(m.n)) / ms,
		Min: m.min / ms, Max: m.max / ms,
		P50: pv[0] / ms, P90: pv[1] / ms, P95: pv[2] / ms, P99: pv[3] / ms,
	}
	d.ExtraPercentiles = zeroPercentiles(extra)
	for i, p := range extra {
		d.ExtraPercentiles[PercentileName(p)] = pv[4+i] / ms
	}
	return d
}

// zeroPercentiles returns the extra percentiles' map with every value 0,
// or nil when there are none, so that an empty distribution has the same
// fields as a full one.
func zeroPercentiles(extra []float64) map[string]float64 {
	if len(extra) == 0 {
		return nil
	}
	m := make(map[string]float64, len(extra))
	for _, p := range extra {
		m[PercentileName(p)] = 0
	}
	return m
}

// interpolate returns the ps-th percentiles of n > 0 values, with the
// definition of [Percentile]. order is given the distinct ranks needed,
// ascending, and returns the values of those ranks.
func interpolate(n int, ps []float64, order func(ranks []int) []float64) []float64 {
	var ranks []int
	for _, p := range ps {
		lo, frac := rank(n, p)
		ranks = append(ranks, lo)
		if frac > 0 {
			ranks = append(ranks, lo+1)
		}
	}
	slices.Sort(ranks)
	ranks = slices.Compact(ranks)
	values := order(ranks)
	at := func(r int) float64 {
		i, _ := slices.BinarySearch(ranks, r)
		return values[i]
	}
	out := make([]float64, len(ps))
	for i, p := range ps {
		lo, frac := rank(n, p)
		out[i] = at(lo)
		if frac > 0 {
			out[i] += frac * (at(lo+1) - at(lo))
		}
	}
	return out
}
