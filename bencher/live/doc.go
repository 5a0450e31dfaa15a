// Package live shows a benchmark run while it happens: a progress line for
// a terminal, and Prometheus metrics that a scrape reads during the run.
//
// # API
//
// A [Run] is the bencher.Observer of one run: the runner calls its Observe
// method for every finished record, which costs a few atomic additions (and,
// with [Metrics], a few histogram observations). Nothing is computed per
// request beyond that: the progress [Bar] reads the counters from a ticker
// (at most ten times a second) and derives rolling rates from successive
// snapshots, and a Prometheus scrape reads the metrics' own atomic values.
//
// [Metrics] holds the metrics of every run of a process on its own registry
// and serves them with [Metrics.Serve]. All series are named with the
// bencher_ prefix and base units:
//
//	bencher_run_info{run_id,profile,model,target,api,mode,simulated}  gauge, 1
//	bencher_run_start_time_seconds{run_id,profile}                      gauge
//	bencher_requests_total{run_id,profile,outcome}                      counter
//	bencher_requests_in_flight{run_id,profile}                          gauge
//	bencher_request_attempts_total{run_id,profile}                      counter
//	bencher_input_tokens_total{run_id,profile}                          counter
//	bencher_output_tokens_total{run_id,profile}                         counter
//	bencher_time_to_first_token_seconds{run_id,profile}                 histogram
//	bencher_inter_token_latency_seconds{run_id,profile}                 histogram
//	bencher_e2e_request_latency_seconds{run_id,profile}                 histogram
//	bencher_batch_requests{run_id,profile}                              gauge
//	bencher_batch_requests_completed{run_id,profile}                    gauge
//	bencher_batch_requests_failed{run_id,profile}                       gauge
//	bencher_batch_status{run_id,profile,status}                         gauge, 1 or 0
//
// outcome is "ok" or one of the closed set of bencher.ErrorClass values
// ([Outcomes]); no label ever holds a per-request value. The histograms have
// vLLM V1's buckets, so that the client's and the server's views line up in
// one dashboard. Counters include warm-up requests (they are load the server
// saw); the histograms count successful requests only, as the summary does.
// The Go and process collectors of the bencher itself are served too.
//
// A batch run (mode batch_api: one OpenAI Batch API job) has no records
// until its batch has ended, so it has none of the per-request series
// (requests, in flight, attempts, tokens, latencies: absent, never 0).
// Its progress is what the server reports at each poll of the batch
// ([Run.ObserveBatch]): the bencher_batch_* gauges hold the batch's
// request_counts and status, from the first poll on.
//
// The progress line is meant for a terminal only: [IsTerminal] tells whether
// a file is one, so that CI logs stay clean.
package live
