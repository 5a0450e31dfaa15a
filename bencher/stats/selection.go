package stats

import (
	"cmp"
	"math/bits"
	"slices"
)

// number is the element type of the value slices the package summarises:
// durations in nanoseconds, or float64 for fractional ones (TPOT) and
// caller-given values.
type number interface {
	~int64 | ~float64
}

// insertionMax is the length under which selection sorts a range outright.
const insertionMax = 24

// selectKth rearranges a so that a[k] holds the element that would be at
// index k if a were sorted ascending, every element of a[:k] is <= a[k] and
// every element of a[k+1:] is >= a[k]. It is quickselect with Hoare
// partitioning around a median-of-three (ninther for long ranges) pivot;
// after about 2·log2(n) rounds without convergence it sorts the remaining
// range, so it is O(n) expected and O(n log n) at worst. Values must not be
// NaN.
func selectKth[T cmp.Ordered](a []T, k int) {
	lo, hi := 0, len(a)-1
	budget := 2 * bits.Len(uint(len(a)))
	for hi > lo {
		if hi-lo < insertionMax || budget == 0 {
			slices.Sort(a[lo : hi+1])
			return
		}
		budget--
		p := pivot(a, lo, hi)
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for p < a[j] {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] <= p, a[i..hi] >= p, and a[j+1..i-1] == p.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// pivot returns a pivot value taken from a[lo..hi]: the median of the
// first, middle and last elements, or for long ranges the median of three
// such medians (Tukey's ninther).
func pivot[T cmp.Ordered](a []T, lo, hi int) T {
	mid := lo + (hi-lo)/2
	if hi-lo < 1024 {
		return median3(a[lo], a[mid], a[hi])
	}
	s := (hi - lo) / 8
	return median3(
		median3(a[lo], a[lo+s], a[lo+2*s]),
		median3(a[mid-s], a[mid], a[mid+s]),
		median3(a[hi-2*s], a[hi-s], a[hi]),
	)
}

// median3 returns the median of three values.
func median3[T cmp.Ordered](x, y, z T) T {
	if x > y {
		x, y = y, x
	}
	if y > z {
		y = z
	}
	return max(x, y)
}

// orderStats returns the elements of ranks (ascending, distinct, each in
// [0, len(a))) of a, as if a were sorted; it reorders a. Each rank is
// selected in the part of a above the previous one, so the total work stays
// linear in len(a) for a handful of ranks.
func orderStats[T cmp.Ordered](a []T, ranks []int) []T {
	out := make([]T, len(ranks))
	base := 0
	for i, r := range ranks {
		rest := a[base:]
		k := r - base
		if k == 0 {
			m := 0
			for j, v := range rest {
				if v < rest[m] {
					m = j
				}
			}
			rest[0], rest[m] = rest[m], rest[0]
		} else {
			selectKth(rest, k)
		}
		out[i] = a[r]
		base = r + 1
	}
	return out
}
