// Package serverside asks Prometheus what the server side saw during a
// benchmark run: the GPUs (the exporter's nvidia_gpu_* metrics) and the
// vLLM engine (vllm:* metrics), and returns it as a results.ServerSide to
// store with the run's document.
//
// # Queries
//
// Every query is an instant query through Prometheus's HTTP API
// (/api/v1/query), evaluated at the run's end, over a range R that is the
// run's duration rounded up to whole seconds (at least 1s). With R = 42s and
// no selectors they are:
//
//	gpu_memory_peak_bytes    max_over_time(sum(nvidia_gpu_memory_used_bytes)[42s:1s])
//	energy_joules            sum(increase(nvidia_gpu_energy_consumed_joules_total[42s]))
//	power_watts_mean         sum(avg_over_time(nvidia_gpu_power_draw_watts[42s]))
//	gpu_utilization_mean     avg(avg_over_time(nvidia_gpu_utilization_ratio[42s]))
//	kv_cache_usage_peak      max(max_over_time(vllm:kv_cache_usage_perc[42s]))
//	prefix_cache_hit_ratio   sum(increase(vllm:prefix_cache_hits_total[42s]))
//	                         / sum(increase(vllm:prefix_cache_queries_total[42s]))
//	preemptions              round(sum(increase(vllm:num_preemptions_total[42s])))
//	extra.vllm_ttft_mean_seconds
//	                         sum(increase(vllm:time_to_first_token_seconds_sum[42s]))
//	                         / sum(increase(vllm:time_to_first_token_seconds_count[42s]))
//
// The GPU memory peak is the peak of the sum across GPUs: the memory used
// by all matched GPUs together is summed at every second of the window (a
// subquery; its step grows past 1s only for runs over 10,000 s) and the
// largest sum is kept. That is never more than the sum of each GPU's own
// peak, which would add up peaks that did not happen at the same time.
// Power is the sum over GPUs of each GPU's mean draw; utilisation the mean
// over GPUs of each GPU's mean (0–1). The KV-cache peak is the highest of
// vLLM's engines. vLLM's own mean TTFT (extra key ExtraVLLMTTFTMean, in
// seconds) lets a report set the server's TTFT beside the client's.
// Metric names with colons (vllm:*) are valid PromQL as they are.
//
// Sums and means span every series the selectors match: with several GPU
// hosts or vLLM servers on one Prometheus, narrow them with WithSelector
// (every query), WithGPUSelector (nvidia_gpu_* only) and WithVLLMSelector
// (vllm:* only), such as `instance="gpu-box:9849"` and
// `model_name="meta-llama/Llama-3.1-8B-Instruct"`.
//
// # Missing values and errors
//
// Every value is optional. A query whose series do not exist (no exporter,
// no vLLM, a selector that matches nothing) or whose result is not a number
// (a hit ratio with no queries) leaves its field empty; that is not an
// error. A Prometheus that cannot be reached, or answers an error, makes
// Collect fail with an error naming Prometheus's URL (without credentials)
// and the failing query.
//
// # Scrape interval and short runs
//
// Prometheus only knows what it scraped. increase() and the means need at
// least two samples of a series inside the window, max_over_time() one: a
// run shorter than about two scrape intervals (30 s with the usual 15 s)
// gets partial data, often no energy, preemptions, hit ratio or TTFT at all,
// and counters over a short window are estimates (increase() extrapolates
// to the window's edges; preemptions are rounded to a whole number).
//
// Before querying, Collect waits (at most WithWait, default DefaultWait)
// until Prometheus holds a sample taken after the run's end of every group
// it has series for (nvidia_gpu_memory_used_bytes and
// vllm:kv_cache_usage_perc), so that the last scrape of the window has been
// stored; it goes on as soon as it has. The bencher's and Prometheus's
// clocks must agree (NTP): the window is the bencher's.
package serverside
