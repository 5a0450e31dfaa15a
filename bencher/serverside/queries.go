package serverside

import (
	"fmt"
	"math"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
)

// ExtraVLLMTTFTMean is the key in results.ServerSide.Extra of vLLM's own
// mean time to first token over the run, in seconds.
const ExtraVLLMTTFTMean = "vllm_ttft_mean_seconds"

// Metric names the queries read: the exporter's (nvidia_gpu_*) and vLLM's
// current names (never the deprecated vllm:gpu_cache_usage_perc or
// vllm:gpu_prefix_cache_*).
const (
	metricGPUMemoryUsed    = "nvidia_gpu_memory_used_bytes"
	metricGPUEnergy        = "nvidia_gpu_energy_consumed_joules_total"
	metricGPUPower         = "nvidia_gpu_power_draw_watts"
	metricGPUUtilization   = "nvidia_gpu_utilization_ratio"
	metricKVCacheUsage     = "vllm:kv_cache_usage_perc"
	metricPrefixHits       = "vllm:prefix_cache_hits_total"
	metricPrefixQueries    = "vllm:prefix_cache_queries_total"
	metricPreemptions      = "vllm:num_preemptions_total"
	metricTTFTSecondsSum   = "vllm:time_to_first_token_seconds_sum"
	metricTTFTSecondsCount = "vllm:time_to_first_token_seconds_count"
)

// maxSubquerySteps bounds the steps of the GPU memory subquery: its step is
// 1s up to this many seconds of run, and longer beyond.
const maxSubquerySteps = 10000

// query is one value of a results.ServerSide and the PromQL that gives it.
type query struct {
	// name is the value's JSON name, for messages ("extra." for extras).
	name string
	expr string
	// ratio says the value is 0–1; otherwise it is non-negative.
	ratio bool
	set   func(ss *results.ServerSide, v float64)
}

// selectors are the label matchers of the queries, as ParseSelector
// returns them.
type selectors struct{ all, gpu, vllm string }

// gpuSeries returns the vector selector of a GPU metric.
func (s selectors) gpuSeries(metric string) string {
	return series(metric, joinSelectors(s.all, s.gpu))
}

// vllmSeries returns the vector selector of a vLLM metric.
func (s selectors) vllmSeries(metric string) string {
	return series(metric, joinSelectors(s.all, s.vllm))
}

// series returns metric{matchers}, or metric alone without matchers.
func series(metric, matchers string) string {
	if matchers == "" {
		return metric
	}
	return metric + "{" + matchers + "}"
}

// windowSeconds returns a window's length rounded up to whole seconds, at
// least 1.
func windowSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

// queries returns the queries of a window of length d.
func (s selectors) queries(d time.Duration) []query {
	secs := windowSeconds(d)
	r := fmt.Sprintf("[%ds]", secs)
	step := max(1, (secs+maxSubquerySteps-1)/maxSubquerySteps)
	g, v := s.gpuSeries, s.vllmSeries
	ratioOf := func(num, den string) string {
		return fmt.Sprintf("sum(increase(%s%s)) / sum(increase(%s%s))", v(num), r, v(den), r)
	}
	return []query{
		{name: "gpu_memory_peak_bytes", expr: fmt.Sprintf("max_over_time(sum(%s)[%ds:%ds])", g(metricGPUMemoryUsed), secs, step),
			set: func(ss *results.ServerSide, x float64) { ss.GPUMemoryPeakBytes = &x }},
		{name: "energy_joules", expr: fmt.Sprintf("sum(increase(%s%s))", g(metricGPUEnergy), r),
			set: func(ss *results.ServerSide, x float64) { ss.EnergyJoules = &x }},
		{name: "power_watts_mean", expr: fmt.Sprintf("sum(avg_over_time(%s%s))", g(metricGPUPower), r),
			set: func(ss *results.ServerSide, x float64) { ss.PowerWattsMean = &x }},
		{name: "gpu_utilization_mean", expr: fmt.Sprintf("avg(avg_over_time(%s%s))", g(metricGPUUtilization), r), ratio: true,
			set: func(ss *results.ServerSide, x float64) { ss.GPUUtilizationMean = &x }},
		{name: "kv_cache_usage_peak", expr: fmt.Sprintf("max(max_over_time(%s%s))", v(metricKVCacheUsage), r), ratio: true,
			set: func(ss *results.ServerSide, x float64) { ss.KVCacheUsagePeak = &x }},
		{name: "prefix_cache_hit_ratio", expr: ratioOf(metricPrefixHits, metricPrefixQueries), ratio: true,
			set: func(ss *results.ServerSide, x float64) { ss.PrefixCacheHitRatio = &x }},
		{name: "preemptions", expr: fmt.Sprintf("round(sum(increase(%s%s)))", v(metricPreemptions), r),
			set: func(ss *results.ServerSide, x float64) { ss.Preemptions = &x }},
		{name: "extra." + ExtraVLLMTTFTMean, expr: ratioOf(metricTTFTSecondsSum, metricTTFTSecondsCount),
			set: func(ss *results.ServerSide, x float64) { setExtra(ss, ExtraVLLMTTFTMean, x) }},
	}
}

// probes return the queries whose answer is the time of the oldest latest
// sample of each group of series (GPUs, vLLM), to see whether Prometheus
// has scraped past a time.
func (s selectors) probes() []string {
	return []string{
		fmt.Sprintf("min(timestamp(%s))", s.gpuSeries(metricGPUMemoryUsed)),
		fmt.Sprintf("min(timestamp(%s))", s.vllmSeries(metricKVCacheUsage)),
	}
}

// setExtra sets an extra value.
func setExtra(ss *results.ServerSide, key string, v float64) {
	if ss.Extra == nil {
		ss.Extra = map[string]float64{}
	}
	ss.Extra[key] = v
}

// valid says whether v is a value the document can hold for q: finite,
// non-negative, and at most 1 for a ratio.
func (q query) valid(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return false
	}
	return !q.ratio || v <= 1
}

// Missing returns the JSON names of the values ss lacks, in the order of
// the queries ("extra.KEY" for extras); all of them for a nil ss.
func Missing(ss *results.ServerSide) []string {
	if ss == nil {
		ss = &results.ServerSide{}
	}
	have := map[string]bool{
		"gpu_memory_peak_bytes":      ss.GPUMemoryPeakBytes != nil,
		"energy_joules":              ss.EnergyJoules != nil,
		"power_watts_mean":           ss.PowerWattsMean != nil,
		"gpu_utilization_mean":       ss.GPUUtilizationMean != nil,
		"kv_cache_usage_peak":        ss.KVCacheUsagePeak != nil,
		"prefix_cache_hit_ratio":     ss.PrefixCacheHitRatio != nil,
		"preemptions":                ss.Preemptions != nil,
		"extra." + ExtraVLLMTTFTMean: hasKey(ss.Extra, ExtraVLLMTTFTMean),
	}
	var out []string
	for _, q := range (selectors{}).queries(time.Second) {
		if !have[q.name] {
			out = append(out, q.name)
		}
	}
	return out
}

// hasKey says whether m has k.
func hasKey(m map[string]float64, k string) bool {
	_, ok := m[k]
	return ok
}
