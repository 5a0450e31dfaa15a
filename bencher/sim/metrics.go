package sim

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// finishReason is why a sequence finished; the values of vLLM's
// finished_reason label.
type finishReason uint8

const (
	reasonStop finishReason = iota
	reasonLength
	reasonAbort
	reasonError
	numReasons
)

func (r finishReason) String() string {
	return [...]string{"stop", "length", "abort", "error"}[r]
}

// TTFTBuckets, ITLBuckets and RequestLatencyBuckets are the histogram
// buckets, in seconds, of vLLM V1 (vllm/v1/metrics/loggers.py): TTFT; ITL
// and TPOT; whole-request and phase latencies. The bencher's live metrics
// use them too, so its histograms line up with the server's.
func TTFTBuckets() []float64 {
	return []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
}

// ITLBuckets: see TTFTBuckets.
func ITLBuckets() []float64 {
	return []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
}

// RequestLatencyBuckets: see TTFTBuckets.
func RequestLatencyBuckets() []float64 {
	return []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
}

func bucketsIteration() []float64 {
	return []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
}

// metrics holds the vLLM V1 metrics of one server, on its own registry.
type metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	running, waiting, kvUsage                                         prometheus.Gauge
	prefixQueries, prefixHits, preemptions, promptTokens, genTokens   prometheus.Counter
	success                                                           [numReasons]prometheus.Counter
	ttft, itl, tpot, e2e, queue, inference, prefill, decode           prometheus.Histogram
	iteration, reqPrompt, reqGen, reqMaxGen, paramsN, paramsMaxTokens prometheus.Histogram
	http                                                              *httpMetrics
}

func newMetrics(cfg *config) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := promauto.With(m.reg)
	cl := prometheus.Labels{"model_name": cfg.model, "engine": "0"}
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: cl})
	}
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl})
	}
	m.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
	m.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
	m.newSleepState(f, cl)
	m.kvUsage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
	m.prefixQueries = counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	m.prefixHits = counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	counter("vllm:external_prefix_cache_queries_total", "External prefix cache queries from KV connector cross-instance cache sharing, in terms of number of queried tokens.")
	counter("vllm:external_prefix_cache_hits_total", "External prefix cache hits from KV connector cross-instance cache sharing, in terms of number of cached tokens.")
	counter("vllm:mm_cache_queries_total", "Multi-modal cache queries, in terms of number of queried items.")
	counter("vllm:mm_cache_hits_total", "Multi-modal cache hits, in terms of number of cached items.")
	m.preemptions = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.")
	m.promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	m.genTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.")
	success := f.NewCounterVec(prometheus.CounterOpts{Name: "vllm:request_success_total",
		Help: "Count of successfully processed requests.", ConstLabels: cl}, []string{"finished_reason"})
	for r := range numReasons {
		m.success[r] = success.WithLabelValues(r.String())
	}
	m.newHistograms(f, cl, cfg.maxModelLen)
	m.newCacheConfigInfo(f, cfg)
	m.http = newHTTPMetrics(f)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) newSleepState(f promauto.Factory, cl prometheus.Labels) {
	v := f.NewGaugeVec(prometheus.GaugeOpts{Name: "vllm:engine_sleep_state",
		Help: "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; " +
			"weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep level 2.",
		ConstLabels: cl}, []string{"sleep_state"})
	v.WithLabelValues("awake").Set(1)
	v.WithLabelValues("weights_offloaded").Set(0)
	v.WithLabelValues("discard_all").Set(0)
}

func (m *metrics) newHistograms(f promauto.Factory, cl prometheus.Labels, maxModelLen int) {
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return f.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: cl})
	}
	tokens := buckets125(maxModelLen)
	m.reqPrompt = hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokens)
	m.reqGen = hist("vllm:request_generation_tokens", "Number of generation tokens processed.", tokens)
	m.iteration = hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", bucketsIteration())
	m.reqMaxGen = hist("vllm:request_max_num_generation_tokens",
		"Histogram of maximum number of requested generation tokens.", tokens)
	m.paramsN = hist("vllm:request_params_n", "Histogram of the n request parameter.", []float64{1, 2, 5, 10, 20})
	m.paramsMaxTokens = hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", tokens)
	m.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFTBuckets())
	m.itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITLBuckets())
	m.tpot = hist("vllm:request_time_per_output_token_seconds",
		"Histogram of time_per_output_token_seconds per request.", ITLBuckets())
	m.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", RequestLatencyBuckets())
	m.queue = hist("vllm:request_queue_time_seconds",
		"Histogram of time spent in WAITING phase for request.", RequestLatencyBuckets())
	m.inference = hist("vllm:request_inference_time_seconds",
		"Histogram of time spent in RUNNING phase for request.", RequestLatencyBuckets())
	m.prefill = hist("vllm:request_prefill_time_seconds",
		"Histogram of time spent in PREFILL phase for request.", RequestLatencyBuckets())
	m.decode = hist("vllm:request_decode_time_seconds",
		"Histogram of time spent in DECODE phase for request.", RequestLatencyBuckets())
}

// newCacheConfigInfo is vLLM's cache_config_info: engine label, no model_name.
func (m *metrics) newCacheConfigInfo(f promauto.Factory, cfg *config) {
	pyBool := func(b bool) string { return map[bool]string{true: "True", false: "False"}[b] }
	f.NewGauge(prometheus.GaugeOpts{Name: "vllm:cache_config_info",
		Help: "Information of the LLMEngine CacheConfig",
		ConstLabels: prometheus.Labels{
			"block_size": strconv.Itoa(cfg.blockSize), "cache_dtype": "auto", "calculate_kv_scales": "False",
			"cpu_offload_gb": "0", "enable_prefix_caching": pyBool(cfg.prefixCaching), "engine": "0",
			"gpu_memory_utilization": "0.9", "is_attention_free": "False", "num_cpu_blocks": "None",
			"num_gpu_blocks": strconv.Itoa(cfg.kvTokens / cfg.blockSize), "num_gpu_blocks_override": "None",
			"prefix_caching_hash_algo": "builtin", "sliding_window": "None", "swap_space": "0",
		}}).Set(1)
}

// buckets125 is vLLM's build_1_2_5_buckets: 1, 2, 5, 10, … up to limit.
func buckets125(limit int) []float64 {
	var out []float64
	for exp := 1.0; ; exp *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := m * exp
			if v > float64(limit) {
				return out
			}
			out = append(out, v)
		}
	}
}

// observeFinished records a finished sequence's request-level histograms.
func (m *metrics) observeFinished(s *seq, reason finishReason, now time.Time) {
	m.success[reason].Inc()
	m.e2e.Observe(now.Sub(s.arrived).Seconds())
	if !s.scheduledAt.IsZero() {
		m.queue.Observe(s.scheduledAt.Sub(s.arrived).Seconds())
		m.inference.Observe(now.Sub(s.scheduledAt).Seconds())
	}
	if !s.firstTokenAt.IsZero() {
		m.prefill.Observe(s.firstTokenAt.Sub(s.scheduledAt).Seconds())
		decode := now.Sub(s.firstTokenAt).Seconds()
		m.decode.Observe(decode)
		if s.generated > 1 {
			m.tpot.Observe(decode / float64(s.generated-1))
		}
	}
	m.reqPrompt.Observe(float64(s.promptTokens))
	m.reqGen.Observe(float64(s.generated))
	m.reqMaxGen.Observe(float64(s.maxTokens))
	m.paramsMaxTokens.Observe(float64(s.maxTokens))
	m.paramsN.Observe(1)
}
