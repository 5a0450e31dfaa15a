// Package stats computes the summary of a benchmark run from its
// per-request records, after the run ("measure, then analyse").
//
// # API
//
// [Summarize] turns a run's records into a [Summary], a plain value with
// stable JSON field names for the result document; functional options
// ([Option]) add per-request objectives ([SLO], for goodput), extra
// percentiles, and the requested concurrency and rate to report beside the
// achieved ones.
// [Summary.Value] looks a summary value up by a flat name such as
// "ttft_p95" or "success_rate", for gates and comparisons ([IsValueName]
// checks a name before a run). [Series] cuts a run into time buckets for
// live views; [Latencies], [NewHistogram] and [CDF] feed a distribution
// view.
//
// # Definitions
//
// Every function here leaves warm-up records ([bencher.Record.Warmup]) out
// of everything. The remaining records are the "measured" ones. A measured
// record of a request that was never sent (the run stopped first:
// [bencher.ErrNotSent]) is counted as not_sent and left out of everything
// else: it is neither a request, nor a failure, nor part of the window.
//
// Latencies are computed from the successful measured records only; failed
// requests count towards the success rate, the error counts, the attempts,
// the concurrency and the window, and their end-to-end latencies are
// reported apart as failed_e2el_ms. Per metric:
//
//   - ttft: FirstToken − Scheduled, for records with a first content chunk.
//     It includes any queueing inside the client.
//   - server_ttft: FirstToken − the send time of the attempt that
//     succeeded ([bencher.Record.LastSent]; the "server view"): a retried
//     request's earlier attempts and its waits before retrying are not in
//     it. TTFT still counts from the scheduled time.
//   - queue_delay: Sent − Scheduled, the client-side queueing.
//   - itl: every gap between successive ChunkTimes, pooled over all
//     successful requests (not per-request means).
//   - tpot: (E2EL − TTFT) / (OutputTokens − 1), for records with a first
//     token and more than one output token.
//   - e2el: End − Scheduled.
//
// A [Distribution] reports count, mean, population standard deviation (as
// numpy.std), min, max and percentiles. Percentiles use linear
// interpolation between closest ranks, numpy's default method ("linear",
// Hyndman and Fan type 7): for the n values sorted ascending x[0..n-1], the
// p-th percentile is at the fractional index h = (n−1)·p/100 and equals
// x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). See [Percentile].
//
// # Window, throughput and goodput
//
// The measured window runs from the earliest Scheduled time of the measured
// records to the latest End of the measured records (failed ones included).
// Request throughput is successful requests per second of that window;
// output throughput is the successful records' output tokens per second;
// total token throughput adds their input tokens. Goodput is the number of
// measured requests that meet every per-request [SLO] per second of the same
// window; a failed request never meets an SLO.
//
// # Concurrency and rate
//
// Achieved concurrency is the time-weighted mean number of requests in
// flight over the window, computed exactly as the sum of the in-flight
// intervals' lengths divided by the window's length: the client view uses
// [Scheduled, End), the server view [max(Sent, Scheduled), End). The
// achieved request rate is (n − 1) / (last Scheduled − first Scheduled) for
// the n measured records: n arrivals span n − 1 inter-arrival gaps, so a
// schedule at exactly r requests per second gives exactly r.
//
// # Units
//
// In the summary JSON, latencies are float milliseconds (fields ending in
// _ms), the window's duration is in seconds, throughputs are per second,
// and ratios are 0–1. The JSON never contains NaN or ±Inf: undefined values
// (an empty distribution, a zero-length window) are 0.
package stats
