package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/histogram"
	"github.com/grafana/grafana-foundation-sdk/go/xychart"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// Benchmarks is the "Benchmarks" dashboard: the runs of the bencher data
// source, the latest one live, one run against a baseline (by default the
// latest against the one before), a sweep's throughput against latency,
// and the GPUs and vLLM over the same time range.
func Benchmarks() *dashboard.DashboardBuilder {
	d := dashboard.NewDashboardBuilder("Benchmarks").Uid(BenchmarksUID).
		Description("Benchmark runs of the bencher data source: the runs, the latest one live, a run against a baseline, "+
			"a sweep's throughput against latency, and the GPUs over the same time range.").
		Tags([]string{"benchstation", "benchmarks"}).
		Refresh("10s").Time("now-24h", "now").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboardLink("GPU & vLLM", GPUvLLMUID)).Link(dashboardLink("Batch jobs", BatchJobsUID)).
		WithVariable(textVar("run", "Run", plugin.RunLatest,
			`Run id, or "latest" (the run started last). Click a run in the table to choose it.`)).
		WithVariable(textVar("baseline", "Baseline", plugin.RunPrevious,
			`Run id to compare with, or "previous" (the run started before the latest).`)).
		WithVariable(textVar("name", "Name contains", "",
			"Runs whose name contains this text (a sweep's common name), for the runs table, the trend and the sweep.")).
		WithVariable(textVar("size", "Size", "100",
			"Number of requests of the runs the modes are compared at (a bencher matrix's size: 10, 100, 5000).")).
		Annotation(runsAnnotation())
	runsPanels(d)
	modesPanels(d)
	runPanels(d)
	gpuWindowPanels(d)
	return d
}

// runsPanels adds the runs table, the live run and the trend.
func runsPanels(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Runs")).
		WithPanel(grid("Runs", "Runs that overlap the time range. Click a row to show that run, or to use it as the baseline.", full, 9,
			bench("A", plugin.QueryTypeRuns, plugin.RunsQuery{Filter: plugin.Filter{Name: "$name"}})).
			Datasource(Bencher()).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Start").Desc(true)}).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{
				link("Show this run", "/d/"+BenchmarksUID+"?var-run=${__data.fields.id}&var-baseline=${baseline}&var-name=${name}&${__url_time_range}"),
				link("Show this run in its own time range", "/d/"+BenchmarksUID+
					"?var-run=${__data.fields.id}&var-baseline=${baseline}&var-name=${name}&from=${__data.fields.start_ms}&to=${__data.fields.end_ms}"),
				link("Use as baseline", "/d/"+BenchmarksUID+"?var-run=${run}&var-baseline=${__data.fields.id}&var-name=${name}&${__url_time_range}"),
			}).
			// start_ms and end_ms (epoch ms) are for the links only.
			OverrideByName("start_ms", []dashboard.DynamicConfigValue{{Id: "custom.hideFrom.viz", Value: true}}).
			OverrideByName("end_ms", []dashboard.DynamicConfigValue{{Id: "custom.hideFrom.viz", Value: true}})).
		WithPanel(series("Latest run, live", "Progress of the run started last, streamed while it runs: "+
			"throughput, and TTFT p50/p95 over its last seconds.", unitCount, half,
			bench("A", plugin.QueryTypeLive, plugin.LiveQuery{RunID: plugin.RunLatest})).
			Datasource(Bencher()).
			OverrideByRegexp("TTFT.*", []dashboard.DynamicConfigValue{
				{Id: "unit", Value: "ms"}, {Id: "custom.axisPlacement", Value: "right"}})).
		WithPanel(series("TTFT p95 trend", "TTFT p95 of each run, by profile, over time: regressions show as steps.", "ms", half,
			bench("A", plugin.QueryTypeTrend, plugin.TrendQuery{Filter: plugin.Filter{Name: "$name"}, Value: "ttft_p95"})).
			Datasource(Bencher()).ShowPoints(common.VisibilityModeAlways).PointSize(6))
}

// modesPanels adds the modes side by side: the completed runs of $size
// requests, newest first, with the columns that compare the online
// profiles (high-parallelism, inngest-style) with the batch-api one (one
// Batch API job: its makespan, and no TTFT, shown as n/a).
func modesPanels(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Modes side by side at $size requests")).
		WithPanel(grid("Online and batch-api runs of $size requests",
			"Completed runs of $size requests whose name contains $name, newest first: a bencher matrix puts "+
				"high-parallelism, inngest-style and batch-api side by side. Makespan (a batch-api run's time from its "+
				"batch's creation to its end) is the window of its throughputs; a batch-api run has no TTFT (n/a), "+
				"an online one no makespan.",
			full, 8,
			bench("A", plugin.QueryTypeRuns, plugin.RunsQuery{Filter: plugin.Filter{Name: "$name", Size: "$size",
				Status: "completed"}})).
			Datasource(Bencher()).NoValue("n/a").
			WithTransformation(transform("organize", map[string]any{
				"includeByName": map[string]bool{"time": true, "profile": true, "mode": true, "requests": true,
					"makespan_s": true, "to_in_progress_s": true, "request_throughput": true, "output_throughput": true,
					"ttft_p50": true, "ttft_p95": true, "e2el_p95": true, "success_rate": true, "name": true},
				// Grafana orders by display name (the frame's displayNameFromDS),
				// not by field name: mode and makespan come first, not off
				// the table's right edge.
				"indexByName": map[string]int{"Start": 0, "Profile": 1, "Mode": 2, "Requests": 3, "Makespan": 4,
					"Time to in_progress": 5, "Request throughput": 6, "Output throughput": 7, "TTFT p50": 8,
					"TTFT p95": 9, "E2EL p95": 10, "Success rate": 11, "Name": 12},
			})).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("Start").Desc(true)}))
}

// runPanels adds the run-against-baseline row and the sweep.
func runPanels(d *dashboard.DashboardBuilder) {
	pair := []string{"$baseline", "$run"}
	d.WithRow(dashboard.NewRowBuilder("Run $run against $baseline")).
		WithPanel(grid("Comparison", "Summary values of the baseline and the run, the change, and a verdict per metric.", full, 10,
			bench("A", plugin.QueryTypeCompare, plugin.CompareQuery{RunIDs: pair})).Datasource(Bencher())).
		WithPanel(series("Run over time", "The run in time buckets: in flight, completions and failures per second, TTFT and E2E latency.",
			unitCount, full, bench("A", plugin.QueryTypeRun, plugin.RunQuery{RunID: "$run"})).
			Datasource(Bencher()).
			OverrideByRegexp("(ttft|e2el).*", []dashboard.DynamicConfigValue{
				{Id: "unit", Value: "ms"}, {Id: "custom.axisPlacement", Value: "right"}})).
		WithPanel(distribution("TTFT distribution", "Time to first token of each successful request, baseline and run.", "ttft")).
		WithPanel(distribution("Inter-token latency distribution", "Gaps between content chunks, baseline and run.", "itl")).
		WithPanel(cdf("End-to-end latency CDF", "Share of requests done within a latency, baseline and run.", "e2el")).
		WithPanel(grid("Outputs side by side", "Prompt and answer of each request, baseline and run (runs that recorded outputs).", full, 10,
			bench("A", plugin.QueryTypeOutputs, plugin.OutputsQuery{RunIDs: pair, Limit: 100})).Datasource(Bencher()).
			CellHeight(common.TableCellHeightMd))
	d.WithRow(dashboard.NewRowBuilder("Sweep")).
		WithPanel(xychart.NewPanelBuilder().Title("Throughput against latency").
			Description("Each run whose name contains $name: request throughput against TTFT p95 and E2E latency p95. "+
				"A sweep over concurrency or rate traces the server's curve.").
			Span(full).Height(tall).Datasource(Bencher()).
			WithTarget(bench("A", plugin.QueryTypeRuns, plugin.RunsQuery{Filter: plugin.Filter{Name: "$name", Status: "completed"}})).
			Mapping(xychart.SeriesMappingManual).Show(xychart.XYShowModePoints).
			Legend(xyLegend()).Tooltip(xyTooltip()).
			Series([]cog.Builder[xychart.XYSeriesConfig]{
				xySeries("TTFT p95", 0, "request_throughput", "ttft_p95"),
				xySeries("E2E p95", 0, "request_throughput", "e2el_p95"),
			}).
			Unit("ms").AxisLabel("p95 latency").
			OverrideByName("request_throughput", []dashboard.DynamicConfigValue{
				{Id: "unit", Value: unitReqps}, {Id: "custom.axisLabel", Value: "request throughput"}}))
}

// gpuWindowPanels adds the GPUs and vLLM over the dashboard's time range,
// which a run's link sets to the run.
func gpuWindowPanels(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("GPUs and vLLM in the same time range")).
		WithPanel(series("GPU utilisation", "", unitRatio, quarter,
			prom("A", `nvidia_gpu_utilization_ratio`, "{{instance}} GPU {{gpu}}")).Min(0).Max(1)).
		WithPanel(series("GPU memory used", "", unitBytes, quarter,
			prom("A", `nvidia_gpu_memory_used_bytes`, "{{instance}} GPU {{gpu}}"))).
		WithPanel(series("GPU power", "", unitWatts, quarter,
			prom("A", `nvidia_gpu_power_draw_watts`, "{{instance}} GPU {{gpu}}"))).
		WithPanel(series("GPU temperature", "", unitCelsius, quarter,
			prom("A", `nvidia_gpu_temperature_celsius`, "{{instance}} GPU {{gpu}}"))).
		WithPanel(series("vLLM running and waiting", "", unitCount, half,
			prom("A", `sum by (instance, model_name) (vllm:num_requests_running)`, "{{instance}} {{model_name}} running"),
			prom("B", `sum by (instance, model_name) (vllm:num_requests_waiting)`, "{{instance}} {{model_name}} waiting"))).
		WithPanel(series("vLLM KV-cache usage", "", unitRatio, half,
			prom("A", `vllm:kv_cache_usage_perc`, "{{instance}} {{model_name}}")).Min(0).Max(1))
}

// distribution is a histogram of a latency metric of the run and baseline:
// one query whose answer is one frame (xMin, xMax, and a count field per
// run, named by the run), since Grafana's histogram panel reads
// pre-bucketed data only from a single frame.
func distribution(title, desc, metric string) *histogram.PanelBuilder {
	return histogram.NewPanelBuilder().Title(title).Description(desc).Span(third).Height(tall).
		// The counts are requests; only the bucket bounds are in ms.
		Datasource(Bencher()).Unit(unitCount).FillOpacity(40).Legend(xyLegend()).Tooltip(xyTooltip()).
		OverrideByName("xMin", []dashboard.DynamicConfigValue{{Id: "unit", Value: "ms"}}).
		OverrideByName("xMax", []dashboard.DynamicConfigValue{{Id: "unit", Value: "ms"}}).
		WithTarget(bench("A", plugin.QueryTypeDistribution, plugin.DistributionQuery{
			RunIDs: []string{"$run", "$baseline"}, Metric: metric, Kind: "histogram"}))
}

// cdf is the cumulative distribution of a latency metric of the run
// (refId A) and the baseline (refId B): each query answers one frame with
// the fields latency (ms) and fraction (0–1), drawn as one manual series
// per frame. Only the fraction axis is 0–1; the latency axis is in ms.
func cdf(title, desc, metric string) *xychart.PanelBuilder {
	one := func(refID, run string) BencherQuery {
		return bench(refID, plugin.QueryTypeDistribution, plugin.DistributionQuery{RunID: run, Metric: metric, Kind: "cdf"})
	}
	return xychart.NewPanelBuilder().Title(title).Description(desc).Span(third).Height(tall).
		Datasource(Bencher()).Show(xychart.XYShowModeLines).
		Mapping(xychart.SeriesMappingManual).
		Series([]cog.Builder[xychart.XYSeriesConfig]{
			xySeries("run", 0, "latency", "fraction"),
			xySeries("baseline", 1, "latency", "fraction"),
		}).
		Legend(xyLegend()).Tooltip(xyTooltip()).
		WithTarget(one("A", "$run")).WithTarget(one("B", "$baseline")).
		OverrideByName("latency", []dashboard.DynamicConfigValue{
			{Id: "unit", Value: "ms"}, {Id: "custom.axisLabel", Value: "latency"}}).
		OverrideByName("fraction", []dashboard.DynamicConfigValue{
			{Id: "unit", Value: unitRatio}, {Id: "min", Value: 0}, {Id: "max", Value: 1},
			{Id: "custom.axisLabel", Value: "share of requests"}})
}

// xyLegend and xyTooltip are the xy charts' legend (shown: one series per
// run or metric) and tooltip.
func xyLegend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().ShowLegend(true).
		DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)
}

func xyTooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)
}

// xySeries is a manual xy series: fields x and y of the frame-th frame of
// the answer. Grafana 12.4 draws a manual series only when it names its
// frame, x and y.
func xySeries(name string, frame int, x, y string) *xychart.XYSeriesConfigBuilder {
	byName := func(field string) *xychart.MatcherConfigBuilder {
		return xychart.NewMatcherConfigBuilder().Id("byName").Options(field)
	}
	return xychart.NewXYSeriesConfigBuilder().
		Name(xychart.NewXychartXYSeriesConfigNameBuilder().Fixed(name)).
		Frame(xychart.NewXychartXYSeriesConfigFrameBuilder().Matcher(
			xychart.NewMatcherConfigBuilder().Id("byIndex").Options(frame))).
		X(xychart.NewXychartXYSeriesConfigXBuilder().Matcher(byName(x))).
		Y(xychart.NewXychartXYSeriesConfigYBuilder().Matcher(byName(y)))
}

// textVar is a free-text dashboard variable.
func textVar(name, label, value, desc string) *dashboard.TextBoxVariableBuilder {
	return dashboard.NewTextBoxVariableBuilder(name).Label(label).Description(desc).
		DefaultValue(dashboard.StringOrMap{String: ptr(value)}).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: ptr(value)},
			Value: dashboard.StringOrArrayOfString{String: ptr(value)},
		})
}
