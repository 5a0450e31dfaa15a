package stats

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"time"
)

// gapSeqs are sequences of times whose successive differences are the
// values summarised: the chunk times of the successful requests, whose gaps
// are the pooled ITLs. The gaps are read in place, pass after pass, and
// never stored: a run of 100,000 requests of 256 chunks has 25.5 million of
// them.
type gapSeqs [][]time.Duration

// gapDistribution summarises the gaps of seqs like [distribution]. Its
// order statistics come from a radix selection ([gapSeqs.orderStats]), so
// it makes a handful of linear passes and allocates little.
func gapDistribution(seqs gapSeqs, extra []float64) Distribution {
	var m moments
	for _, seq := range seqs {
		if len(seq) > 1 {
			// The gaps of a sequence add up to its last time less its first.
			m.n += len(seq) - 1
			m.sum += float64(seq[len(seq)-1] - seq[0])
		}
	}
	if m.n == 0 {
		return Distribution{ExtraPercentiles: zeroPercentiles(extra)}
	}
	lo, hi, sq := seqs.scan(m.sum / float64(m.n))
	m.min, m.max, m.sq = float64(lo), float64(hi), sq
	all := span{lo: lo, maxOff: uint64(hi) - uint64(lo)}
	pv := interpolate(m.n, withFixed(extra), func(ranks []int) []float64 {
		order := seqs.orderStats(ranks, all)
		out := make([]float64, len(order))
		for i, v := range order {
			out[i] = float64(v)
		}
		return out
	})
	return newDistribution(m, pv, extra)
}

// scan returns the smallest and largest gaps and the sum of the gaps'
// squared deviations from mean (accumulated in two sums, which halves the
// chain of dependent additions).
func (s gapSeqs) scan(mean float64) (lo, hi int64, sq float64) {
	lo, hi = math.MaxInt64, math.MinInt64
	var sq0, sq1 float64
	for _, seq := range s {
		j := 1
		for ; j+1 < len(seq); j += 2 {
			v0, v1 := int64(seq[j]-seq[j-1]), int64(seq[j+1]-seq[j])
			lo, hi = min(lo, v0, v1), max(hi, v0, v1)
			d0, d1 := float64(v0)-mean, float64(v1)-mean
			sq0 += d0 * d0
			sq1 += d1 * d1
		}
		if j < len(seq) {
			v := int64(seq[j] - seq[j-1])
			lo, hi = min(lo, v), max(hi, v)
			d := float64(v) - mean
			sq0 += d * d
		}
	}
	return lo, hi, sq0 + sq1
}

// radixBits is the number of bits of a value that one histogram pass of
// the radix selection resolves (2^16 buckets).
const radixBits = 16

// collectMax is the most values a bucket may hold for the radix selection
// to copy them out and select among them, rather than refine the bucket
// with another pass.
const collectMax = 1 << 16

// span is a range of values, [lo, lo+maxOff], cut into at most 2^radixBits
// buckets of 2^shift values each.
type span struct {
	lo     int64
	maxOff uint64
}

func (sp span) shift() uint { return uint(max(bits.Len64(sp.maxOff)-radixBits, 0)) }

func (sp span) buckets() int { return int(sp.maxOff>>sp.shift()) + 1 }

// offset returns v − lo and whether v is in the span; unsigned arithmetic
// keeps it exact over the whole int64 range.
func (sp span) offset(v int64) (uint64, bool) {
	d := uint64(v) - uint64(sp.lo)
	return d, v >= sp.lo && d <= sp.maxOff
}

// The states of a radix-selection target.
const (
	searching = iota
	collecting
	found
)

// target is one order statistic being searched for: the k-th smallest
// (from 0) of the values in sp.
type target struct {
	sp    span
	k     int
	state int
	value int64
}

// narrow moves the target into the bucket of sp's histogram that holds its
// rank. A bucket of one value gives the answer; a small one is left to be
// collected; a large one is searched again, at a finer shift.
func (t *target) narrow(hist []int) {
	shift := t.sp.shift()
	cum := 0
	for b, c := range hist {
		if t.k >= cum+c {
			cum += c
			continue
		}
		t.k -= cum
		t.sp = span{lo: int64(uint64(t.sp.lo) + uint64(b)<<shift), maxOff: 1<<shift - 1}
		switch {
		case shift == 0:
			t.state, t.value = found, t.sp.lo
		case c <= collectMax:
			t.state = collecting
		}
		return
	}
	// The counts cannot fall short of the rank unless the records changed
	// between passes; settle on the span's top rather than loop.
	t.state, t.value = found, int64(uint64(t.sp.lo)+t.sp.maxOff)
}

// orderStats returns the values of the given ranks among the gaps, all of
// which lie in all. Each round histograms every distinct span still
// searched in one pass (at most 64/radixBits + 1 rounds); a last pass
// copies out the small buckets left, which are then selected in.
func (s gapSeqs) orderStats(ranks []int, all span) []int64 {
	ts := make([]target, len(ranks))
	for i, r := range ranks {
		ts[i] = target{sp: all, k: r}
	}
	for {
		spans := distinctSpans(ts, searching)
		if len(spans) == 0 {
			break
		}
		hists := s.histograms(all, spans)
		for i := range ts {
			if ts[i].state == searching {
				ts[i].narrow(hists[spanIndex(spans, ts[i].sp)])
			}
		}
	}
	spans := distinctSpans(ts, collecting)
	vals := s.collect(all, spans)
	out := make([]int64, len(ts))
	for i := range ts {
		if ts[i].state == collecting {
			v := vals[spanIndex(spans, ts[i].sp)]
			selectKth(v, ts[i].k)
			ts[i].value = v[ts[i].k]
		}
		out[i] = ts[i].value
	}
	return out
}

// distinctSpans returns the distinct spans of the targets in a state,
// ordered by their lower bounds.
func distinctSpans(ts []target, state int) []span {
	var spans []span
	for _, t := range ts {
		if t.state == state && spanIndex(spans, t.sp) < 0 {
			spans = append(spans, t.sp)
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	return spans
}

// spanIndex returns the index of sp in spans, or −1.
func spanIndex(spans []span, sp span) int {
	for i, x := range spans {
		if x == sp {
			return i
		}
	}
	return -1
}

// locator finds which of a few disjoint spans, each inside one bucket of
// the top span, holds a value: a table over the top span's buckets points
// to the spans that start in each, so most values are turned away with a
// shift and one lookup.
type locator struct {
	top   span
	shift uint
	first []int32 // per top bucket, 1 + the index of its first span, or 0
	spans []span  // ordered by lo
}

func newLocator(top span, spans []span) *locator {
	l := &locator{top: top, shift: top.shift(), first: make([]int32, top.buckets()), spans: spans}
	for i := len(spans) - 1; i >= 0; i-- {
		if d, ok := top.offset(spans[i].lo); ok {
			l.first[d>>l.shift] = int32(i + 1)
		}
	}
	return l
}

// find returns the index of the span that holds v, or −1. It is small
// enough to be inlined in the passes; most values leave at the lookup.
func (l *locator) find(v int64) int {
	d, ok := l.top.offset(v)
	if !ok || l.first[d>>l.shift] == 0 {
		return -1
	}
	return l.match(int(l.first[d>>l.shift]-1), v)
}

// match returns the index of the span from the i-th on that holds v, or −1.
func (l *locator) match(i int, v int64) int {
	for ; i < len(l.spans) && l.spans[i].lo <= v; i++ {
		if _, ok := l.spans[i].offset(v); ok {
			return i
		}
	}
	return -1
}

// histograms counts the gaps into the buckets of each span, in one pass.
// The spans are either all (the first round) or spans inside all's
// buckets.
func (s gapSeqs) histograms(all span, spans []span) [][]int {
	hists := make([][]int, len(spans))
	for i, sp := range spans {
		hists[i] = make([]int, sp.buckets())
	}
	if len(spans) == 1 && spans[0] == all {
		h, shift := hists[0], all.shift()
		for _, seq := range s {
			for j := 1; j < len(seq); j++ {
				if d, ok := all.offset(int64(seq[j] - seq[j-1])); ok {
					h[d>>shift]++
				}
			}
		}
		return hists
	}
	l := newLocator(all, spans)
	for _, seq := range s {
		for j := 1; j < len(seq); j++ {
			v := int64(seq[j] - seq[j-1])
			if i := l.find(v); i >= 0 {
				sp := spans[i]
				hists[i][(uint64(v)-uint64(sp.lo))>>sp.shift()]++
			}
		}
	}
	return hists
}

// collect copies out the gaps that lie in each span, in one pass. The
// spans lie inside all's buckets.
func (s gapSeqs) collect(all span, spans []span) [][]int64 {
	vals := make([][]int64, len(spans))
	if len(spans) == 0 {
		return vals
	}
	l := newLocator(all, spans)
	for _, seq := range s {
		for j := 1; j < len(seq); j++ {
			v := int64(seq[j] - seq[j-1])
			if i := l.find(v); i >= 0 {
				vals[i] = append(vals[i], v)
			}
		}
	}
	return vals
}
