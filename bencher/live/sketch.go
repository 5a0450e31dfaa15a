package live

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// sketchSub is the number of sub-buckets per power of two (2 bits of
// mantissa): neighbouring bucket bounds differ by at most 25 %.
const sketchSub = 4

// sketchBuckets covers durations up to 2⁴⁰ µs (12 days).
const sketchBuckets = 41 * sketchSub

// sketch counts durations into logarithmic buckets with atomic counters, so
// that many goroutines can add to it at the cost of one atomic addition and
// a reader can estimate a quantile at any time (within one bucket).
type sketch struct {
	counts [sketchBuckets]atomic.Int64
}

// bucketOf returns the bucket of a duration, in whole microseconds.
func bucketOf(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	if us < sketchSub {
		return int(us)
	}
	n := bits.Len64(us) // ≥ 3
	mant := (us >> (n - 3)) & (sketchSub - 1)
	return min((n-2)*sketchSub+int(mant), sketchBuckets-1)
}

// bucketBounds returns the bounds [lo, hi) of bucket i, in microseconds.
func bucketBounds(i int) (lo, hi float64) {
	if i < sketchSub {
		return float64(i), float64(i + 1)
	}
	n := i/sketchSub + 2
	mant := i % sketchSub
	lo = float64(uint64(sketchSub+mant) << (n - 3))
	hi = float64(uint64(sketchSub+mant+1) << (n - 3))
	return lo, hi
}

// add counts d.
func (s *sketch) add(d time.Duration) { s.counts[bucketOf(d)].Add(1) }

// quantile estimates the q-th quantile (0–1) as the geometric middle of the
// bucket that holds it, and reports whether there was any value.
func (s *sketch) quantile(q float64) (time.Duration, bool) {
	var snap [sketchBuckets]int64
	var total int64
	for i := range s.counts {
		snap[i] = s.counts[i].Load()
		total += snap[i]
	}
	if total == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen int64
	for i, c := range snap {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			mid := math.Sqrt(max(lo, 0.5) * hi)
			return time.Duration(mid * float64(time.Microsecond)), true
		}
	}
	return 0, false // not reached
}
