package stats

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// benchRecords returns n successful records of chunks content chunks each,
// like a run at 50 concurrent requests: arrivals 20 ms apart on average,
// TTFT around 200 ms, ITL around 20 ms with jitter; one in fifty fails.
func benchRecords(n, chunks int) []bencher.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	records := make([]bencher.Record, n)
	var t time.Duration
	for i := range records {
		t += time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		r := &records[i]
		r.Index, r.Scheduled = i, t
		r.Sent = t + time.Duration(rng.Int64N(int64(time.Millisecond)))
		r.Attempts, r.InputTokens, r.OutputTokens = 1, 1024, chunks
		r.TokenSource = bencher.TokensFromUsage
		r.ChunkTimes = make([]time.Duration, chunks)
		at := r.Sent + 150*time.Millisecond + time.Duration(rng.Int64N(int64(100*time.Millisecond)))
		for j := range r.ChunkTimes {
			r.ChunkTimes[j] = at
			at += 15*time.Millisecond + time.Duration(rng.Int64N(int64(10*time.Millisecond)))
		}
		r.FirstToken, r.End = r.ChunkTimes[0], r.ChunkTimes[chunks-1]
		if i%50 == 0 {
			r.Error, r.HTTPStatus = bencher.ErrHTTPStatus, 503
		}
	}
	return records
}

// BenchmarkSummarize summarises 100,000 records of 256 chunks each
// (25.5 million ITLs), with SLOs and an extra percentile.
func BenchmarkSummarize(b *testing.B) {
	records := benchRecords(100_000, 256)
	slos := []SLO{{MetricTTFT, 300 * time.Millisecond}, {MetricTPOT, 25 * time.Millisecond}}
	b.ReportAllocs()
	for b.Loop() {
		Summarize(records, WithSLOs(slos...), WithPercentiles(99.9))
	}
}

// BenchmarkSeries cuts the same records into one-second buckets.
func BenchmarkSeries(b *testing.B) {
	records := benchRecords(100_000, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Series(records, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
