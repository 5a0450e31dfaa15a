package stats

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

// schedule is a hand-built run whose every summary value is known exactly
// (times in ms; the measured window is [1000, 3000], 2 s):
//
//	A ok    sched 1000 sent 1000 chunks 1100 1400 1700 2000 end 2000  ttft 100 tpot 300
//	B ok    sched 1500 sent 1500 chunks 1800 2100 2500      end 2500  ttft 300 tpot 350
//	C ok    sched 2000 sent 2200 chunks 2250 3000           end 3000  ttft 250 tpot 750
//	D fail  sched 2500 sent 2500 timeout, 3 attempts        end 2800
//	W warm-up, before the window, with outlandish values.
func schedule() []bencher.Record {
	d := failed(2500, 2500, 2800, bencher.ErrTimeout, 0)
	d.Attempts = 3
	w := ok(0, 0, 900, 800, 900)
	w.Warmup = true
	w.InputTokens = 1_000_000
	return []bencher.Record{
		w,
		ok(1000, 1000, 2000, 1100, 1400, 1700, 2000),
		ok(1500, 1500, 2500, 1800, 2100, 2500),
		ok(2000, 2200, 3000, 2250, 3000),
		d,
	}
}

func TestSummarizeSchedule(t *testing.T) {
	t.Parallel()
	slos, err := ParseSLOs("ttft<=260ms,e2el<=1s")
	require.NoError(t, err)
	s := Summarize(schedule(), WithSLOs(slos...), WithRequestedConcurrency(4), WithRequestedRate(2.5))

	require.Equal(t, 4, s.Requests)
	require.Equal(t, 1, s.WarmupRequests)
	require.Equal(t, 3, s.Succeeded)
	require.Equal(t, 1, s.Failed)
	require.Equal(t, 0.75, s.SuccessRate)
	require.Equal(t, map[bencher.ErrorClass]int{bencher.ErrTimeout: 1}, s.ErrorsByClass)
	require.Equal(t, 6, s.Attempts)
	require.Equal(t, 2, s.Retries)
	require.Equal(t, 30, s.InputTokens)
	require.Equal(t, 9, s.OutputTokens)
	require.Equal(t, map[bencher.TokenSource]int{bencher.TokensFromChunks: 3}, s.TokenSources)

	require.Equal(t, Window{StartMS: 1000, EndMS: 3000, DurationS: 2}, s.Window)
	requireNear(t, 1.5, s.RequestThroughput)
	requireNear(t, 4.5, s.OutputThroughput)
	requireNear(t, 19.5, s.TotalTokenThroughput)
	// A and C meet both SLOs; B's TTFT is 300 ms; D failed.
	require.Equal(t, &Goodput{
		SLOs: []string{"ttft<=260ms", "e2el<=1s"}, GoodRequests: 2, RequestGoodput: 1, SLOAttainment: 0.5,
	}, s.Goodput)

	// Client intervals 1000 each for A, B, C and 300 for D: 3300 / 2000.
	// Server: C starts at 2200, so 3100 / 2000.
	require.Equal(t, 4, s.Concurrency.Requested)
	requireNear(t, 1.65, s.Concurrency.ClientMean)
	requireNear(t, 1.55, s.Concurrency.ServerMean)
	require.Equal(t, 2, s.Concurrency.ClientMax)
	require.Equal(t, 2, s.Concurrency.ServerMax)
	// Four arrivals over 1.5 s: three gaps of 0.5 s.
	require.Equal(t, RequestRate{Requested: 2.5, Achieved: 2}, s.RequestRate)

	requireDist(t, s.TTFT, 3, 650.0/3, 100, 300, 250)
	requireDist(t, s.ServerTTFT, 3, 450.0/3, 50, 300, 100)
	requireDist(t, s.QueueDelay, 3, 200.0/3, 0, 200, 0)
	// ITL pooled: A 300 300 300, B 300 400, C 750.
	requireDist(t, s.ITL, 6, 2350.0/6, 300, 750, 300)
	requireDist(t, s.TPOT, 3, 1400.0/3, 300, 750, 350)
	requireDist(t, s.E2EL, 3, 1000, 1000, 1000, 1000)
	requireDist(t, s.FailedE2EL, 1, 300, 300, 300, 300)
}

// requireDist checks a distribution's count, mean, min, max and p50.
func requireDist(t *testing.T, d Distribution, count int, mean, lo, hi, p50 float64) {
	t.Helper()
	require.Equal(t, count, d.Count)
	requireNear(t, mean, d.Mean, "mean")
	requireNear(t, lo, d.Min, "min")
	requireNear(t, hi, d.Max, "max")
	requireNear(t, p50, d.P50, "p50")
}

func TestSummarizeLatencyRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records []bencher.Record
		check   func(t *testing.T, s Summary)
	}{
		{
			// Queued 100 ms in the client: TTFT includes it, the server view does not.
			"ttft includes client queue", []bencher.Record{ok(0, 100, 300, 150, 200, 250, 300)},
			func(t *testing.T, s Summary) {
				requireNear(t, 150, s.TTFT.Mean)
				requireNear(t, 50, s.ServerTTFT.Mean)
				requireNear(t, 100, s.QueueDelay.Mean)
				requireNear(t, 300, s.E2EL.Mean)
				requireNear(t, 50, s.TPOT.Mean) // (300 − 150) / 3
				requireDist(t, s.ITL, 3, 50, 50, 50, 50)
			},
		},
		{
			"tpot skipped for one-token outputs", []bencher.Record{ok(0, 0, 100, 40), ok(0, 0, 200, 50, 150)},
			func(t *testing.T, s Summary) {
				require.Equal(t, 2, s.TTFT.Count)
				requireDist(t, s.TPOT, 1, 150, 150, 150, 150)
				requireDist(t, s.ITL, 1, 100, 100, 100, 100)
			},
		},
		{
			"tpot uses the usage token count, not the chunks",
			[]bencher.Record{func() bencher.Record {
				r := ok(0, 0, 500, 100, 500)
				r.OutputTokens, r.TokenSource = 5, bencher.TokensFromUsage
				return r
			}()},
			func(t *testing.T, s Summary) {
				requireNear(t, 100, s.TPOT.Mean) // (500 − 100) / 4
				require.Equal(t, map[bencher.TokenSource]int{bencher.TokensFromUsage: 1}, s.TokenSources)
			},
		},
		{
			// A pooled mean, not the mean of per-request means (which would be 55).
			"itl pooled over requests", []bencher.Record{ok(0, 0, 30, 0, 10, 20, 30), ok(0, 0, 100, 0, 100)},
			func(t *testing.T, s Summary) { requireDist(t, s.ITL, 4, 32.5, 10, 100, 10) },
		},
		{
			"success without content has e2el but no ttft", []bencher.Record{ok(0, 0, 80)},
			func(t *testing.T, s Summary) {
				require.Equal(t, 0, s.TTFT.Count)
				require.Equal(t, 0, s.ServerTTFT.Count)
				requireDist(t, s.E2EL, 1, 80, 80, 80, 80)
			},
		},
		{
			"warm-up excluded from everything",
			[]bencher.Record{warm(ok(0, 0, 5000, 4000, 5000)), warm(failed(0, 0, 10, bencher.ErrConnection, 0)), ok(100, 100, 300, 200, 300)},
			func(t *testing.T, s Summary) {
				require.Equal(t, 2, s.WarmupRequests)
				require.Equal(t, 1, s.Requests)
				require.Empty(t, s.ErrorsByClass)
				require.Equal(t, Window{StartMS: 100, EndMS: 300, DurationS: 0.2}, s.Window)
				requireDist(t, s.TTFT, 1, 100, 100, 100, 100)
				requireDist(t, s.ITL, 1, 100, 100, 100, 100)
				require.Equal(t, 10, s.InputTokens)
			},
		},
		{
			"failures counted in errors, not in latencies",
			[]bencher.Record{
				ok(0, 0, 100, 50, 100),
				failed(0, 0, 40, bencher.ErrHTTPStatus, 503),
				failed(0, 0, 60, bencher.ErrHTTPStatus, 503),
				failed(0, 0, 20, bencher.ErrHTTPStatus, 429),
				func() bencher.Record { // content arrived before the stream broke
					r := ok(0, 0, 900, 100, 200, 300)
					r.Error = bencher.ErrStream
					return r
				}(),
			},
			func(t *testing.T, s Summary) {
				require.Equal(t, 5, s.Requests)
				require.Equal(t, 1, s.Succeeded)
				require.Equal(t, 0.2, s.SuccessRate)
				require.Equal(t, map[bencher.ErrorClass]int{bencher.ErrHTTPStatus: 3, bencher.ErrStream: 1}, s.ErrorsByClass)
				require.Equal(t, map[int]int{503: 2, 429: 1}, s.HTTPStatusCounts)
				requireDist(t, s.TTFT, 1, 50, 50, 50, 50)
				requireDist(t, s.ITL, 1, 50, 50, 50, 50)
				requireDist(t, s.E2EL, 1, 100, 100, 100, 100)
				require.Equal(t, 2, s.OutputTokens)
				requireDist(t, s.FailedE2EL, 4, 255, 20, 900, 50)
				require.Equal(t, Window{EndMS: 900, DurationS: 0.9}, s.Window)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, Summarize(tt.records))
		})
	}
}

func TestSummarizeConcurrency(t *testing.T) {
	t.Parallel()
	// Window [0, 1000] ms. Client intervals [0,400) [100,500) [200,600)
	// [400,1000): 1800 ms in flight, at most 3 (from 200 to 500, as the
	// first ends at 400 when the fourth starts). Server intervals
	// [0,400) [300,500) [500,600) [400,1000): 1300 ms, at most 2 (the
	// second ends at 500 as the third starts).
	records := []bencher.Record{
		ok(0, 0, 400, 400),
		ok(100, 300, 500, 500),
		ok(200, 500, 600, 600),
		ok(400, 400, 1000, 1000),
		// Inconsistent times (End before Sent) add an empty server interval.
		warm(ok(0, 0, 0)),
	}
	s := Summarize(records)
	requireNear(t, 1.8, s.Concurrency.ClientMean)
	requireNear(t, 1.3, s.Concurrency.ServerMean)
	require.Equal(t, 3, s.Concurrency.ClientMax)
	require.Equal(t, 2, s.Concurrency.ServerMax)
	// Arrivals at 0, 100, 200, 400: three gaps over 0.4 s.
	requireNear(t, 7.5, s.RequestRate.Achieved)

	bad := Summarize([]bencher.Record{ok(0, 0, 100, 100), ok(0, 200, 100)})
	requireNear(t, 1, bad.Concurrency.ServerMean) // the second's server interval is empty
	require.Equal(t, 1, bad.Concurrency.ServerMax)
	require.Equal(t, 2, bad.Concurrency.ClientMax)
	require.Zero(t, bad.RequestRate.Achieved) // no span of scheduled times
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		starts, end []float64
		want        int
	}{
		{"none", nil, nil, 0},
		{"touching do not overlap", []float64{0, 10, 20}, []float64{10, 20, 30}, 1},
		{"nested", []float64{0, 1, 2}, []float64{10, 9, 8}, 3},
		{"empty interval", []float64{5, 5}, []float64{5, 10}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s, e []time.Duration
			for i := range tt.starts {
				s, e = append(s, msd(tt.starts[i])), append(e, msd(tt.end[i]))
			}
			slices.Sort(s)
			slices.Sort(e)
			require.Equal(t, tt.want, maxInFlight(s, e))
		})
	}
}

func TestSummarizeEmptyAndDegenerate(t *testing.T) {
	t.Parallel()
	slos := WithSLOs(SLO{Metric: MetricTTFT, Max: msd(100)})
	tests := []struct {
		name    string
		records []bencher.Record
	}{
		{"nil", nil},
		{"only warm-up", []bencher.Record{warm(ok(0, 0, 10, 10))}},
		{"all failed", []bencher.Record{failed(0, 0, 10, bencher.ErrConnection, 0)}},
		{"zero-length window", []bencher.Record{ok(5, 5, 5, 5), ok(5, 5, 5, 5)}},
		{"no times at all", []bencher.Record{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(tt.records, slos, WithPercentiles(99.9), WithRequestedRate(1/zero()))
			b := requireFiniteJSON(t, s)
			require.NotContains(t, string(b), "null")
			require.Zero(t, s.RequestThroughput)
			require.Zero(t, s.Goodput.RequestGoodput)
			require.Zero(t, s.RequestRate.Requested, "an infinite requested rate is stored as 0")
			require.NotNil(t, s.ErrorsByClass)
			require.NotNil(t, s.HTTPStatusCounts)
			require.NotNil(t, s.TokenSources)
		})
	}
	require.Equal(t, Summary{
		ErrorsByClass: map[bencher.ErrorClass]int{}, HTTPStatusCounts: map[int]int{},
		TokenSources: map[bencher.TokenSource]int{},
	}, Summarize(nil))
}

// zero returns 0 in a way the compiler does not fold.
func zero() float64 { return float64(len([]int{})) }

// TestSummaryJSONShape pins the summary's JSON field names, which a JSON
// Schema elsewhere describes.
func TestSummaryJSONShape(t *testing.T) {
	t.Parallel()
	s := Summarize(schedule(), WithSLOs(SLO{Metric: MetricE2EL, Max: msd(1000)}), WithPercentiles(99.9))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(requireFiniteJSON(t, s), &doc))
	require.Equal(t, []string{
		"attempts", "concurrency", "e2el_ms", "errors_by_class", "failed", "failed_e2el_ms", "goodput",
		"http_status_counts", "input_tokens", "itl_ms", "not_sent", "output_throughput", "output_tokens",
		"queue_delay_ms", "request_rate", "request_throughput", "requests", "retries", "server_ttft_ms",
		"succeeded", "success_rate", "token_sources", "total_token_throughput", "tpot_ms", "ttft_ms",
		"warmup_requests", "window",
	}, slices.Sorted(maps.Keys(doc)))
	keys := func(name string) []string { return slices.Sorted(maps.Keys(doc[name].(map[string]any))) }
	require.Equal(t, []string{"count", "extra_percentiles", "max", "mean", "min", "p50", "p90", "p95", "p99", "std"}, keys("ttft_ms"))
	require.Equal(t, []string{"good_requests", "request_goodput", "slo_attainment", "slos"}, keys("goodput"))
	require.Equal(t, []string{"client_max", "client_mean", "requested", "server_max", "server_mean"}, keys("concurrency"))
	require.Equal(t, []string{"achieved", "requested"}, keys("request_rate"))
	require.Equal(t, []string{"duration_s", "end_ms", "start_ms"}, keys("window"))
	// ITLs 300 300 300 300 400 750: h = 5·0.999 = 4.995, so 400 + 0.995·350.
	extra := doc["itl_ms"].(map[string]any)["extra_percentiles"].(map[string]any)
	require.InDelta(t, 748.25, extra["p99.9"], 1e-9)
}

func TestSummarizeDoesNotModifyRecords(t *testing.T) {
	t.Parallel()
	records := schedule()
	records[1].ChunkTimes[1], records[1].ChunkTimes[2] = records[1].ChunkTimes[2], records[1].ChunkTimes[1] // out of order
	before := slices.Clone(records)
	for i := range before {
		before[i].ChunkTimes = slices.Clone(records[i].ChunkTimes)
	}
	Summarize(records, WithPercentiles(10, 20))
	require.Equal(t, before, records)
}

func TestWithPercentiles(t *testing.T) {
	t.Parallel()
	var c config
	WithPercentiles(99.9, 50, -1, 101, 75, 99.9)(&c)
	require.Equal(t, []float64{75, 99.9}, c.percentiles)
}

// TestNotSentOutsideSuccessRate: requests that were scheduled but never
// sent (the run stopped first) are counted as not_sent, never as failures:
// they are out of the requests, the success rate, the error counts and the
// window (issue #12, point 6: an interrupted run read "Success rate 45 %").
func TestNotSentOutsideSuccessRate(t *testing.T) {
	notSent := func(scheduled, end float64) bencher.Record {
		return bencher.Record{Scheduled: msd(scheduled), End: msd(end), Error: bencher.ErrNotSent,
			ErrorMessage: "not sent: the run stopped (interrupted)"}
	}
	recs := []bencher.Record{
		ok(0, 0, 100, 50), ok(10, 10, 110, 60), failed(20, 20, 120, bencher.ErrHTTPStatus, 500),
		notSent(30, 500), notSent(40, 500), notSent(50, 500), warm(notSent(60, 500)),
	}
	s := Summarize(recs)
	require.Equal(t, 3, s.Requests, "sent measured requests only")
	require.Equal(t, 3, s.NotSent)
	require.Equal(t, 1, s.WarmupRequests)
	require.Equal(t, 2, s.Succeeded)
	require.Equal(t, 1, s.Failed)
	requireNear(t, 2.0/3, s.SuccessRate)
	require.Equal(t, map[bencher.ErrorClass]int{bencher.ErrHTTPStatus: 1}, s.ErrorsByClass)
	require.Equal(t, 3, s.Attempts)
	requireNear(t, 120, s.Window.EndMS, "the window ends with the last sent request")
	for name, want := range map[string]float64{"not_sent": 3, "failed": 1, "requests": 3, "error_rate": 1.0 / 3} {
		v, found := s.Value(name)
		require.True(t, found, name)
		requireNear(t, want, v, name)
	}
	require.True(t, IsValueName("not_sent"))
	b := requireFiniteJSON(t, s)
	require.Contains(t, string(b), `"not_sent":3`)

	// Only never-sent requests: nothing was measured.
	s = Summarize([]bencher.Record{notSent(0, 10)})
	require.Equal(t, 0, s.Requests)
	require.Equal(t, 1, s.NotSent)
	require.False(t, s.Measured())
	_, found := s.Value("success_rate")
	require.False(t, found, "no success rate without a sent request")
}

// TestServerTTFTFromTheAttemptThatSucceeded: a retried request's server
// view starts at the send of its last attempt, not its first (issue #12,
// point 7: a 429 and its Retry-After wait were counted in server_ttft);
// TTFT and the queue delay still count from the scheduled time and the
// first send.
func TestServerTTFTFromTheAttemptThatSucceeded(t *testing.T) {
	r := ok(0, 2, 1100, 1060, 1070)
	r.Attempts, r.AttemptSent = 2, []time.Duration{msd(2), msd(1010)}
	s := Summarize([]bencher.Record{r})
	requireNear(t, 50, s.ServerTTFT.P50, "from the second attempt's send")
	requireNear(t, 1060, s.TTFT.P50, "from the scheduled time")
	requireNear(t, 2, s.QueueDelay.P50, "to the first send")
	require.Equal(t, 1, s.Retries)
	lat := Latencies([]bencher.Record{r}, MetricServerTTFT)
	require.Equal(t, []float64{50}, lat)
	require.True(t, SLO{Metric: MetricServerTTFT, Max: msd(60)}.Met(&r), "server_ttft SLO from the last attempt")
}
