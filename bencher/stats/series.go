package stats

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// MaxBuckets is the largest number of buckets [Series] returns; a finer
// width over a long run is an error.
const MaxBuckets = 100_000

// ErrBucketWidth is returned by [Series] for a width that is not positive.
var ErrBucketWidth = errors.New("stats: bucket width must be positive")

// Bucket is one time slice of a run, for live views and the Grafana
// plugin. Percentile fields are nil (JSON null) when no request of the kind
// completed in the bucket.
type Bucket struct {
	// Start and End bound the bucket, [Start, End), as offsets from the
	// run's start in nanoseconds.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Completed counts the successful measured requests whose End falls in
	// the bucket; Failed the failed ones.
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// InFlight is the number of measured requests in flight at the bucket's
	// End: Scheduled <= End < the request's End. Only requests that have
	// records count, so a live view that summarises finished requests sees
	// the later buckets' values grow as the rest finish.
	InFlight int `json:"in_flight"`
	// OutputTokensPerSecond is the output tokens of the successful
	// requests that arrived in the bucket, per second of the bucket. A
	// request's tokens are spread evenly over its content chunks (a record
	// without chunk times counts them all at its End).
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
	// TTFT and E2EL percentiles, in milliseconds, of the successful
	// requests completed in the bucket.
	TTFTP50 *float64 `json:"ttft_p50_ms"`
	TTFTP95 *float64 `json:"ttft_p95_ms"`
	E2ELP50 *float64 `json:"e2el_p50_ms"`
	E2ELP95 *float64 `json:"e2el_p95_ms"`
}

// Series cuts the measured records into buckets of the given width,
// aligned to multiples of width from the run's start: from the bucket that
// holds the earliest Scheduled time to the one that holds the latest End.
// Warm-up records are left out. It returns no buckets for no measured
// records.
func Series(records []bencher.Record, width time.Duration) ([]Bucket, error) {
	if width <= 0 {
		return nil, ErrBucketWidth
	}
	measured := make([]*bencher.Record, 0, len(records))
	for i := range records {
		if !records[i].Warmup {
			measured = append(measured, &records[i])
		}
	}
	if len(measured) == 0 {
		return nil, nil
	}
	first, last := measured[0].Scheduled, measured[0].End
	for _, r := range measured {
		first, last = min(first, r.Scheduled), max(last, r.End)
	}
	b0, b1 := floorDiv(first, width), floorDiv(last, width)
	if n := b1 - b0 + 1; n > MaxBuckets {
		return nil, fmt.Errorf("stats: %d buckets of %v exceed the limit of %d", n, width, MaxBuckets)
	}
	buckets := make([]Bucket, b1-b0+1)
	for i := range buckets {
		buckets[i].Start = time.Duration(b0+int64(i)) * width
		buckets[i].End = buckets[i].Start + width
	}
	idx := func(t time.Duration) int {
		return int(min(max(floorDiv(t, width)-b0, 0), int64(len(buckets)-1)))
	}
	fillCounts(buckets, measured, idx)
	fillTokens(buckets, measured, idx, width)
	fillLatencies(buckets, measured, idx)
	return buckets, nil
}

// floorDiv returns ⌊t / w⌋ for w > 0.
func floorDiv(t, w time.Duration) int64 {
	q := int64(t / w)
	if t%w < 0 {
		q--
	}
	return q
}

// fillCounts sets the completed, failed and in-flight counts.
func fillCounts(buckets []Bucket, measured []*bencher.Record, idx func(time.Duration) int) {
	starts := make([]time.Duration, len(measured))
	ends := make([]time.Duration, len(measured))
	for i, r := range measured {
		starts[i], ends[i] = min(r.Scheduled, r.End), r.End
		if r.OK() {
			buckets[idx(r.End)].Completed++
		} else {
			buckets[idx(r.End)].Failed++
		}
	}
	slices.Sort(starts)
	slices.Sort(ends)
	for i := range buckets {
		t := buckets[i].End
		buckets[i].InFlight = countAtMost(starts, t) - countAtMost(ends, t)
	}
}

// countAtMost returns how many of the ascending values are <= t.
func countAtMost(sorted []time.Duration, t time.Duration) int {
	return sort.Search(len(sorted), func(i int) bool { return sorted[i] > t })
}

// fillTokens sets the output token rates.
func fillTokens(buckets []Bucket, measured []*bencher.Record, idx func(time.Duration) int, width time.Duration) {
	tokens := make([]float64, len(buckets))
	for _, r := range measured {
		if !r.OK() || r.OutputTokens == 0 {
			continue
		}
		if len(r.ChunkTimes) == 0 {
			tokens[idx(r.End)] += float64(r.OutputTokens)
			continue
		}
		per := float64(r.OutputTokens) / float64(len(r.ChunkTimes))
		// Chunk times ascend, so walk the bucket bounds rather than divide
		// for every chunk; a time out of order starts the walk again.
		b := idx(r.ChunkTimes[0])
		for _, t := range r.ChunkTimes {
			for b < len(buckets)-1 && t >= buckets[b].End {
				b++
			}
			if t < buckets[b].Start {
				b = idx(t)
			}
			tokens[b] += per
		}
	}
	for i := range buckets {
		buckets[i].OutputTokensPerSecond = tokens[i] / width.Seconds()
	}
}

// fillLatencies sets the TTFT and E2EL percentiles of the requests
// completed in each bucket: the successful records are grouped by bucket
// with a counting sort, then each group's values are sorted.
func fillLatencies(buckets []Bucket, measured []*bencher.Record, idx func(time.Duration) int) {
	offsets := make([]int, len(buckets)+1)
	for _, r := range measured {
		if r.OK() {
			offsets[idx(r.End)+1]++
		}
	}
	for i := range buckets {
		offsets[i+1] += offsets[i]
	}
	grouped := make([]*bencher.Record, offsets[len(buckets)])
	next := slices.Clone(offsets[:len(buckets)])
	for _, r := range measured {
		if r.OK() {
			b := idx(r.End)
			grouped[next[b]] = r
			next[b]++
		}
	}
	var ttft, e2el []float64
	for i := range buckets {
		ttft, e2el = ttft[:0], e2el[:0]
		for _, r := range grouped[offsets[i]:offsets[i+1]] {
			e2el = append(e2el, ms(r.E2E()))
			if v, ok := r.TTFT(); ok {
				ttft = append(ttft, ms(v))
			}
		}
		buckets[i].TTFTP50, buckets[i].TTFTP95 = sortedPercentiles(ttft)
		buckets[i].E2ELP50, buckets[i].E2ELP95 = sortedPercentiles(e2el)
	}
}

// sortedPercentiles sorts vals and returns their p50 and p95, or nils for
// no values.
func sortedPercentiles(vals []float64) (*float64, *float64) {
	if len(vals) == 0 {
		return nil, nil
	}
	slices.Sort(vals)
	p50, p95 := Percentile(vals, P50), Percentile(vals, P95)
	return &p50, &p95
}
