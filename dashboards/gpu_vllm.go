package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/loki"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// Label selectors of the GPU & vLLM dashboard's variables.
const (
	gpuSel  = `instance=~"$instance", gpu=~"$gpu"`
	vllmSel = `instance=~"$server", model_name=~"$model"`
)

// What the event-only panels say when nothing happened in the range: no
// series is the healthy case there, not missing data.
const (
	noThrottle = "No throttle reasons active in this range (idle excepted)"
	noXID      = "No XID errors in this range"
)

// EventOnly lists the titles of the panels, per dashboard file, whose
// queries give series only when something happens (an XID error, a
// throttle): they may rightly show their noValue text.
var EventOnly = map[string][]string{
	"gpu-vllm.json": {"Throttle reasons", "XID errors"},
}

// GPUvLLM is the "GPU & vLLM" dashboard: every GPU of the chosen hosts,
// and the chosen vLLM servers and models, with benchmark runs as
// annotations.
func GPUvLLM() *dashboard.DashboardBuilder {
	d := dashboard.NewDashboardBuilder("GPU & vLLM").Uid(GPUvLLMUID).
		Description("NVIDIA GPUs (benchstation-exporter, from NVML) and vLLM servers (their /metrics), with benchmark runs as annotations.").
		Tags([]string{"benchstation", "gpu", "vllm"}).
		Refresh("30s").Time("now-1h", "now").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboardLink("Benchmarks", BenchmarksUID)).Link(dashboardLink("Batch jobs", BatchJobsUID)).
		WithVariable(promVar("instance", "GPU host", `label_values(nvidia_gpu_info, instance)`)).
		WithVariable(promVar("gpu", "GPU", `label_values(nvidia_gpu_info{instance=~"$instance"}, gpu)`)).
		WithVariable(promVar("server", "vLLM server", `label_values(vllm:num_requests_running, instance)`)).
		WithVariable(promVar("model", "Model", `label_values(vllm:num_requests_running{instance=~"$server"}, model_name)`)).
		Annotation(runsAnnotation())
	gpuPanels(d)
	vllmPanels(d)
	d.WithRow(dashboard.NewRowBuilder("Logs")).
		WithPanel(logs.NewPanelBuilder().Title("vLLM and exporter logs").
			Description("Container logs shipped to Loki by Alloy.").Span(full).Height(10).
			ShowTime(true).WrapLogMessage(true).SortOrder(common.LogsSortOrderDescending).
			WithTarget(loki.NewDataqueryBuilder().RefId("A").Datasource(ref("loki", LokiUID)).
				Expr(`{compose_service=~"vllm|vllm-sim|exporter|exporter-sim"}`)))
	return d
}

// gpuPanels adds the GPU rows.
func gpuPanels(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("GPUs")).
		WithPanel(single("GPU data", "Whether the exporter reads real GPUs through NVML, or serves a SIMULATED system "+
			"(--nvml.simulate, the compose demo profile). A SIMULATED vLLM shows as the model benchstation/sim-1b.", unitCount, 4,
			prom("A", `count(nvidia_gpu_info{instance=~"$instance", simulated="true"}) or vector(0)`, "simulated GPUs")).
			GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeBackground).
			Mappings([]dashboard.ValueMapping{
				{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText,
					Options: map[string]dashboard.ValueMappingResult{"0": {Text: ptr("Real GPUs"), Color: ptr("green")}}}},
				{RangeMap: &dashboard.RangeMap{Type: dashboard.MappingTypeRangeToText,
					Options: dashboard.DashboardRangeMapOptions{From: ptr(1.0),
						Result: dashboard.ValueMappingResult{Text: ptr("SIMULATED"), Color: ptr("orange")}}}},
			})).
		// One series per stat: Grafana 12.4's stat shows a single value here
		// (the first series), so each stat is one total over every GPU.
		WithPanel(single("GPUs up", "GPUs NVML answers for, summed over every chosen GPU of every host "+
			"(the GPUs it found are nvidia_gpu_up's series; those down have 0).", unitCount, 5,
			prom("A", `sum(nvidia_gpu_up{`+gpuSel+`})`, "GPUs up"))).
		WithPanel(single("Hottest GPU", "Highest GPU temperature now.", unitCelsius, 5,
			prom("A", `max(nvidia_gpu_temperature_celsius{`+gpuSel+`})`, "max")).
			Thresholds(thresholds(step{80, "orange"}, step{87, "red"}))).
		WithPanel(single("Power draw", "Power drawn by all the chosen GPUs together; the Power panel shows each GPU "+
			"against its enforced limit.", unitWatts, 5,
			prom("A", `sum(nvidia_gpu_power_draw_watts{`+gpuSel+`})`, "total draw"))).
		WithPanel(single("Energy in range", "Energy the GPUs used over the dashboard's time range.", unitJoules, 5,
			prom("A", `sum(increase(nvidia_gpu_energy_consumed_joules_total{`+gpuSel+`}[$__range]))`, "energy")).
			GraphMode(common.BigValueGraphModeNone)).
		WithPanel(series("Temperature", "GPU die and memory (HBM) temperature.", unitCelsius, half,
			prom("A", `nvidia_gpu_temperature_celsius{`+gpuSel+`}`, "{{instance}} GPU {{gpu}}"),
			prom("B", `nvidia_gpu_memory_temperature_celsius{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} memory")).
			Thresholds(thresholds(step{80, "orange"}, step{87, "red"})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))).
		WithPanel(series("Memory used", "Framebuffer memory used, and each GPU's total (dashed).", unitBytes, half,
			prom("A", `nvidia_gpu_memory_used_bytes{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} used"),
			prom("B", `nvidia_gpu_memory_total_bytes{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} total")).
			OverrideByRegexp(".* total", dashedLine())).
		WithPanel(series("Power", "Power draw, and the enforced power limit (dashed).", unitWatts, half,
			prom("A", `nvidia_gpu_power_draw_watts{`+gpuSel+`}`, "{{instance}} GPU {{gpu}}"),
			prom("B", `nvidia_gpu_power_limit_enforced_watts{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} limit")).
			OverrideByRegexp(".* limit", dashedLine())).
		WithPanel(series("Utilisation", "Share of time a kernel ran (GPU) and memory was read or written (memory).", unitRatio, half,
			prom("A", `nvidia_gpu_utilization_ratio{`+gpuSel+`}`, "{{instance}} GPU {{gpu}}"),
			prom("B", `nvidia_gpu_memory_utilization_ratio{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} memory")).
			Min(0).Max(1)).
		WithPanel(series("Clocks", "SM and memory clocks.", unitHertz, half,
			prom("A", `nvidia_gpu_clock_hertz{`+gpuSel+`, clock=~"sm|memory"}`, "{{instance}} GPU {{gpu}} {{clock}}"))).
		WithPanel(statetimeline.NewPanelBuilder().Title("Throttle reasons").
			Description("Active clock-event (throttle) reasons, per GPU; idle is left out.").Span(half).Height(tall).
			ShowValue(common.VisibilityModeNever).MergeValues(true).
			Legend(common.NewVizLegendOptionsBuilder().ShowLegend(false).
				DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
			Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)).
			WithTarget(prom("A", `max by (instance, gpu, reason) (nvidia_gpu_clock_event_active{`+gpuSel+`, reason!="gpu_idle"}) > 0`,
				"{{instance}} GPU {{gpu}} {{reason}}")).
			NoValue(noThrottle)).
		WithPanel(series("XID errors", "XID errors reported by the driver, by code (79: fell off the bus, 48: double-bit ECC …).", unitCount, half,
			prom("A", `sum by (instance, gpu, xid) (increase(nvidia_gpu_xid_errors_total{`+gpuSel+`}[$__rate_interval])) > 0`, "{{instance}} GPU {{gpu}} XID {{xid}}")).
			DrawStyle(common.GraphDrawStyleBars).NoValue(noXID)).
		WithPanel(series("ECC errors", "Corrected and uncorrected ECC errors in the interval.", unitCount, half,
			prom("A", `sum by (instance, gpu, type) (increase(nvidia_gpu_ecc_errors_total{`+gpuSel+`}[$__rate_interval]))`, "{{instance}} GPU {{gpu}} {{type}}")).
			DrawStyle(common.GraphDrawStyleBars)).
		WithPanel(series("Memory by process", "GPU memory used by each process (host PIDs).", unitBytes, full,
			prom("A", `nvidia_gpu_process_memory_used_bytes{`+gpuSel+`}`, "{{instance}} GPU {{gpu}} {{process_name}} ({{pid}})")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)))
}

// vllmPanels adds the vLLM rows; latency quantiles come from the
// recording rules of provisioning/prometheus/rules.
func vllmPanels(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("vLLM")).
		WithPanel(single("Running", "Requests in the engine's batches now.", unitCount, quarter,
			prom("A", `sum(vllm:num_requests_running{`+vllmSel+`})`, "running"))).
		WithPanel(single("Waiting", "Requests queued for the engine now.", unitCount, quarter,
			prom("A", `sum(vllm:num_requests_waiting{`+vllmSel+`})`, "waiting")).
			Thresholds(thresholds(step{1, "orange"}, step{50, "red"}))).
		WithPanel(single("KV cache", "KV-cache usage (0–100 %), the fullest server.", unitRatio, quarter,
			prom("A", `max(vllm:kv_cache_usage_perc{`+vllmSel+`})`, "KV cache")).
			Thresholds(thresholds(step{0.8, "orange"}, step{0.95, "red"}))).
		WithPanel(single("Output tokens/s", "Generated tokens per second, all servers.", unitPerSec, quarter,
			prom("A", `sum(instance_model:vllm_generation_tokens:rate1m{`+vllmSel+`})`, "tokens/s"))).
		WithPanel(series("Requests by finish reason", "Finished requests per second: stop, length, abort, error.", unitReqps, half,
			prom("A", `sum by (instance, finished_reason) (instance_model:vllm_request_success:rate1m{`+vllmSel+`})`, "{{instance}} {{finished_reason}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))).
		WithPanel(series("Running and waiting", "Requests in the engine's batches, and queued.", unitCount, half,
			prom("A", `sum by (instance, model_name) (vllm:num_requests_running{`+vllmSel+`})`, "{{instance}} {{model_name}} running"),
			prom("B", `sum by (instance, model_name) (vllm:num_requests_waiting{`+vllmSel+`})`, "{{instance}} {{model_name}} waiting"))).
		WithPanel(quantilePanel("Time to first token", "From arrival to the first generated token, server side.",
			"instance_model:vllm_time_to_first_token_seconds_bucket:rate1m")).
		WithPanel(quantilePanel("Inter-token latency", "Gaps between successive output tokens.",
			"instance_model:vllm_inter_token_latency_seconds_bucket:rate1m")).
		WithPanel(quantilePanel("End-to-end latency", "From arrival to the last token.",
			"instance_model:vllm_e2e_request_latency_seconds_bucket:rate1m")).
		WithPanel(quantilePanel("Queue time", "Time requests waited before the engine took them.",
			"instance_model:vllm_request_queue_time_seconds_bucket:rate1m")).
		WithPanel(series("Tokens per second", "Prompt tokens processed (prefill) and tokens generated.", unitPerSec, half,
			prom("A", `sum by (instance, model_name) (instance_model:vllm_prompt_tokens:rate1m{`+vllmSel+`})`, "{{instance}} {{model_name}} prompt"),
			prom("B", `sum by (instance, model_name) (instance_model:vllm_generation_tokens:rate1m{`+vllmSel+`})`, "{{instance}} {{model_name}} generation"))).
		WithPanel(series("KV-cache usage", "Share of KV-cache blocks in use (vllm:kv_cache_usage_perc, 0–1).", unitRatio, half,
			prom("A", `vllm:kv_cache_usage_perc{`+vllmSel+`}`, "{{instance}} {{model_name}}")).
			Min(0).Max(1)).
		WithPanel(series("Prefix-cache hit ratio", "Prompt tokens served from the prefix cache, of those looked up.", unitRatio, third,
			prom("A", `sum by (instance, model_name) (rate(vllm:prefix_cache_hits_total{`+vllmSel+`}[$__rate_interval]))
  / sum by (instance, model_name) (rate(vllm:prefix_cache_queries_total{`+vllmSel+`}[$__rate_interval]))`, "{{instance}} {{model_name}}")).
			Min(0).Max(1)).
		WithPanel(series("Preemptions", "Requests preempted (KV cache exhausted) in the interval.", unitCount, third,
			prom("A", `sum by (instance, model_name) (increase(vllm:num_preemptions_total{`+vllmSel+`}[$__rate_interval]))`, "{{instance}} {{model_name}}")).
			DrawStyle(common.GraphDrawStyleBars)).
		WithPanel(series("Batch size", "Tokens per engine step (prefill and decode together): mean and p95.", unitCount, third,
			prom("A", `sum by (instance, model_name) (rate(vllm:iteration_tokens_total_sum{`+vllmSel+`}[$__rate_interval]))
  / sum by (instance, model_name) (rate(vllm:iteration_tokens_total_count{`+vllmSel+`}[$__rate_interval]))`, "{{instance}} {{model_name}} mean"),
			prom("B", `histogram_quantile(0.95, sum by (instance, model_name, le) (rate(vllm:iteration_tokens_total_bucket{`+vllmSel+`}[$__rate_interval])))`,
				"{{instance}} {{model_name}} p95")))
}

// quantilePanel shows p50, p95 and p99 of a recorded histogram rate.
func quantilePanel(title, desc, rule string) cog.Builder[dashboard.Panel] {
	targets := make([]cog.Builder[variants.Dataquery], 0, 3)
	for i, q := range []struct{ phi, name string }{{"0.5", "p50"}, {"0.95", "p95"}, {"0.99", "p99"}} {
		targets = append(targets, prom(string(rune('A'+i)),
			fmt.Sprintf(`histogram_quantile(%s, sum by (instance, model_name, le) (%s{%s}))`, q.phi, rule, vllmSel), "{{instance}} {{model_name}} "+q.name))
	}
	return series(title, desc+" p50, p95 and p99 over one minute.", unitSeconds, half, targets...)
}

// promVar is a multi-value Prometheus label variable with "All".
func promVar(name, label, query string) *dashboard.QueryVariableBuilder {
	all := dashboard.StringOrArrayOfString{String: ptr("$__all")}
	return dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(Prometheus()).
		Query(dashboard.StringOrMap{String: ptr(query)}).Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*").
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr("All")}, Value: all})
}

// runsAnnotation shows benchmark runs from the bencher data source.
func runsAnnotation() *dashboard.AnnotationQueryBuilder {
	return dashboard.NewAnnotationQueryBuilder().Name("Benchmark runs").Datasource(Bencher()).
		Enable(true).Hide(false).IconColor("purple").
		Target(bench("Anno", plugin.QueryTypeAnnotations, plugin.AnnotationsQuery{}))
}

// dashboardLink links to another Benchstation dashboard, keeping the time.
func dashboardLink(title, uid string) *dashboard.DashboardLinkBuilder {
	return link(title, "/d/"+uid).KeepTime(true)
}

// dashedLine is the field override of reference lines (limits, totals).
func dashedLine() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		{Id: "custom.fillOpacity", Value: 0},
	}
}
