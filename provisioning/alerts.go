package provisioning

import (
	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/expr"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// Folder is the Grafana folder of the dashboards and alert rules.
const Folder = "Benchstation"

// FolderUID is the uid the API form of the rules needs; the provisioning
// file names the folder by its title instead.
const FolderUID = "benchstation"

// RulesFile is the path of the generated alert rules, from this package.
const RulesFile = "grafana/alerting/rules.yaml"

// Group is one alert-rule group: rules evaluated together at an interval.
type Group struct {
	Name     string
	Interval string
	Rules    []*alerting.RuleBuilder
}

// Groups returns Benchstation's alert rules.
func Groups() []Group {
	return []Group{
		{Name: "GPUs", Interval: "1m", Rules: gpuRules()},
		{Name: "vLLM", Interval: "1m", Rules: vllmRules()},
		{Name: "Batch jobs", Interval: "1m", Rules: batchRules()},
		{Name: "Benchmarks", Interval: "5m", Rules: []*alerting.RuleBuilder{benchmarkRegression()}},
	}
}

// Severity labels, which notification policies can route on.
const (
	critical = "critical"
	warning  = "warning"
)

func gpuRules() []*alerting.RuleBuilder {
	return []*alerting.RuleBuilder{
		promRule("benchstation-gpu-temperature", "GPU temperature high", warning, "5m",
			`max by (instance, gpu, uuid) (nvidia_gpu_temperature_celsius)`, gt(85),
			"GPU {{ $labels.gpu }} on {{ $labels.instance }} is at {{ $values.B.Value }} °C.",
			"Check airflow and fans, and the throttle reasons on the GPU & vLLM dashboard; H100s slow down near 87 °C and shut down near 92 °C."),
		promRule("benchstation-gpu-memory-full", "GPU memory near full", warning, "15m",
			`max by (instance, gpu, uuid) (nvidia_gpu_memory_used_bytes / nvidia_gpu_memory_total_bytes)`, gt(0.97),
			"GPU {{ $labels.gpu }} on {{ $labels.instance }} has {{ humanizePercentage $values.B.Value }} of its memory in use: out-of-memory risk.",
			"See which processes hold the memory (GPU & vLLM, Memory by process); lower vLLM's --gpu-memory-utilization or --max-num-seqs, or stop stray processes."),
		promRule("benchstation-gpu-xid", "GPU XID errors", critical, "0s",
			`sum by (instance, gpu, uuid, xid) (increase(nvidia_gpu_xid_errors_total[10m]))`, gt(0),
			"GPU {{ $labels.gpu }} on {{ $labels.instance }} reported XID {{ $labels.xid }}.",
			"Look the XID up in NVIDIA's XID catalogue; 48, 63, 64, 79, 94 and 95 usually need the GPU drained and reset (nvidia-smi -r) or the host rebooted.").
			NoDataState(alerting.RuleNoDataStateOK),
		promRule("benchstation-gpu-lost", "GPU lost", critical, "1m",
			`min by (instance, gpu, uuid) (nvidia_gpu_up)`, lt(1),
			"NVML no longer answers for GPU {{ $labels.gpu }} on {{ $labels.instance }}.",
			"Run nvidia-smi on the host; check dmesg for XID 79 (fell off the bus); a lost GPU needs a reset or a reboot."),
		promRule("benchstation-nvml-down", "NVML down", critical, "2m",
			`min by (instance) (nvidia_gpu_nvml_up)`, lt(1),
			"The exporter on {{ $labels.instance }} cannot use NVML: no GPU metrics.",
			"Check that the exporter's container has GPU access (NVIDIA Container Toolkit) and that the driver is loaded (nvidia-smi); the exporter retries on its own."),
		promRule("benchstation-exporter-down", "Exporter down", critical, "2m",
			`min by (instance) (up{job="benchstation-exporter"})`, lt(1),
			"Prometheus cannot scrape benchstation-exporter at {{ $labels.instance }}.",
			"Look at the exporter's state and log: docker compose ps exporter and docker compose logs exporter, or on Kubernetes kubectl get pods and kubectl logs of the benchstation exporter DaemonSet on that node. No GPU alert can fire while it is down.").
			NoDataState(alerting.RuleNoDataStateAlerting),
		// One series per exporter whose NVML is up: the number of GPUs it
		// found, 0 when none. No data means no exporter has NVML up, which
		// "Exporter down" and "NVML down" report: OK here, not twice.
		promRule("benchstation-nvml-no-gpus", "NVML sees no GPUs", critical, "2m",
			`(count by (instance) (nvidia_gpu_up) or on (instance) (0 * max by (instance) (nvidia_gpu_nvml_up)))
  and on (instance) (max by (instance) (nvidia_gpu_nvml_up) == 1)`, lt(1),
			"NVML is up on {{ $labels.instance }} but finds no GPU: no GPU metrics.",
			"Run nvidia-smi -L in the exporter's container: the GPUs are not visible to it (NVIDIA_VISIBLE_DEVICES, the compose GPU reservation, CUDA_VISIBLE_DEVICES), or the driver lost them all (dmesg, XID 79)."),
	}
}

func vllmRules() []*alerting.RuleBuilder {
	return []*alerting.RuleBuilder{
		// up is 0 while the target does not answer; the absent() branch
		// gives a 0 as well when Prometheus has no vLLM target at all (the
		// job dropped from its configuration), so a missing vLLM never
		// reads as a healthy one. No data can then only mean that the
		// query itself came back empty, which is treated as down: Alerting.
		promRule("benchstation-vllm-down", "vLLM down", critical, "5m",
			`min by (instance) (up{job="vllm"}) or on () (absent(up{job="vllm"}) - 1)`, lt(1),
			"{{ with $labels.instance }}Prometheus cannot scrape vLLM at {{ . }}{{ else }}Prometheus has no vLLM target (job vllm){{ end }}: the server is down or still loading its model.",
			"Look at the server's state and log (docker compose ps vllm and docker compose logs vllm, or kubectl logs of its pod): a model still loading answers after a few minutes, an out-of-memory or CUDA error at start-up does not. Check that the scrape job vllm (prometheus.yml, or the chart's vLLM ServiceMonitor) points at the server.").
			NoDataState(alerting.RuleNoDataStateAlerting),
		// What the clients saw, from the API server's HTTP counts (vLLM's
		// prometheus-fastapi-instrumentator, status grouped as 2xx, 4xx,
		// 5xx) and the engine's finish reasons. Of the POSTs to the
		// generation endpoints that were not answered 4xx, the share that
		// did not finish normally in the engine: 5xx answers (rejected
		// before the engine or failed in it) and requests aborted or
		// errored in the engine, also after an HTTP 200 (an error event or
		// a cut mid-stream). Each failed request counts once. 4xx are left
		// out: bad requests (400, context too long), unknown models (404)
		// and invalid bodies (422) are the client's fault; vLLM answers no
		// 429 itself, and the grouped status cannot tell a 429 from the
		// others. No traffic in the window gives no series: no data is OK.
		promRule("benchstation-vllm-failed-requests", "vLLM aborted or errored requests", warning, "5m",
			`(
  sum by (instance) (increase(http_requests_total{method="POST", handler=~"`+generationHandlers+`", status!="4xx"}[10m]))
  - sum by (instance) (increase(vllm:request_success_total{finished_reason!~"abort|error"}[10m]))
)
/ (sum by (instance) (increase(http_requests_total{method="POST", handler=~"`+generationHandlers+`", status!="4xx"}[10m])) > 0)`, gt(0.05),
			"{{ humanizePercentage $values.B.Value }} of the generation requests to vLLM on {{ $labels.instance }} failed in 10 minutes "+
				"(HTTP 5xx, or aborted or errored in the engine; 4xx answers, the client's fault, not counted).",
			"Read vLLM's log (GPU & vLLM, Logs): 5xx and errors point at the server; aborts at clients timing out, often because the waiting queue is long."),
		promRule("benchstation-vllm-queue-growing", "vLLM waiting queue growing", warning, "10m",
			`sum by (instance, model_name) (deriv(vllm:num_requests_waiting[10m]))
  * (sum by (instance, model_name) (min_over_time(vllm:num_requests_waiting[10m])) > bool 10)`, gt(0.05),
			"The waiting queue of {{ $labels.model_name }} on {{ $labels.instance }} has had over 10 requests and grown for 10 minutes.",
			"The server is saturated: check KV-cache usage and preemptions on GPU & vLLM; reduce load, raise --max-num-seqs if memory allows, or add a replica."),
	}
}

// generationHandlers are the handler label values of vLLM's generation
// endpoints in http_requests_total: the requests that reach the engine
// and end in vllm:request_success_total.
const generationHandlers = "/v1/completions|/v1/chat/completions|/v1/responses"

// batchRules watch the exporter's polling of Batch APIs.
func batchRules() []*alerting.RuleBuilder {
	return []*alerting.RuleBuilder{
		// The batch collector is off unless an endpoint is configured, and
		// then serves benchstation_batch_poll_success from the first poll
		// on: no data means nothing to poll, so OK ("Exporter down" covers
		// an exporter that is gone).
		promRule("benchstation-batch-poll-failing", "Batch API polling failing", warning, "5m",
			`min by (instance, endpoint) (benchstation_batch_poll_success)`, lt(1),
			"The exporter on {{ $labels.instance }} cannot list the batch jobs of {{ $labels.endpoint }}: its polls have failed for 5 minutes.",
			"benchstation_batch_poll_failures_total{endpoint} says why (timeout, connection, unauthorized, rate_limited, server_error, malformed, pagination, redirect); the exporter's log has the last error. The Batch jobs dashboard serves the last good data for --batch.stale-after, then empties."),
	}
}

// regressionSummary is the regression alert's text, one alert per profile
// (the trend's series are labelled by profile). A run without a profile
// (older custom runs) has an empty label: the text says so rather than
// leave a blank.
const regressionSummary = "{{ with $labels.profile }}The latest benchmark of profile {{ . }}{{ else }}The latest benchmark without a profile{{ end }}" +
	" has a TTFT p95 over 1.2 times the week's mean ({{ $values.B.Value }} ms against {{ $values.C.Value }} ms)."

// benchmarkRegression compares each profile's latest run with the mean of
// the runs of the last week, from the bencher data source's trend query.
func benchmarkRegression() *alerting.RuleBuilder {
	week := alerting.Duration(7 * 24 * 3600)
	trend := alerting.NewQueryBuilder("A").DatasourceUid(dashboards.BencherUID).QueryType(plugin.QueryTypeTrend).
		RelativeTimeRange(week, 0).
		Model(dashboards.BencherQuery{RefID: "A", QueryType: plugin.QueryTypeTrend, Model: plugin.TrendQuery{Value: "ttft_p95"}})
	return alerting.NewRuleBuilder("Benchmark regression").Uid("benchstation-benchmark-regression").
		Condition("D").
		WithQuery(trend).
		WithQuery(reduceQuery("B", "A", expr.TypeReduceReducerLast)).
		WithQuery(reduceQuery("C", "A", expr.TypeReduceReducerMean)).
		WithQuery(exprQuery("D", expr.NewExprBuilder().TypeMath(expr.NewTypeMathBuilder().RefId("D").Expression("$B > 1.2 * $C")))).
		For("0s").NoDataState(alerting.RuleNoDataStateOK).ExecErrState(alerting.RuleExecErrStateError).
		Labels(map[string]string{"severity": warning, "source": "benchstation"}).
		Annotations(map[string]string{
			"summary": regressionSummary,
			"runbook": "Open Benchmarks: the latest run against the previous one shows which metric moved; compare the server's version, flags and GPU state between the runs.",
		}).
		IsPaused(false)
}

// threshold is a threshold step's evaluator.
type threshold struct {
	typ   expr.ExprTypeThresholdConditionsEvaluatorType
	value float64
}

func gt(v float64) threshold { return threshold{expr.ExprTypeThresholdConditionsEvaluatorTypeGt, v} }
func lt(v float64) threshold { return threshold{expr.ExprTypeThresholdConditionsEvaluatorTypeLt, v} }

// promRule is a rule on one PromQL expression: A is the query, B its last
// value, C the threshold that fires.
func promRule(uid, title, severity, forDur, promql string, th threshold, summary, runbook string) *alerting.RuleBuilder {
	query := alerting.NewQueryBuilder("A").DatasourceUid(dashboards.PrometheusUID).
		RelativeTimeRange(600, 0).
		Model(prometheus.NewDataqueryBuilder().RefId("A").Expr(promql).Instant().
			IntervalMs(15000).MaxDataPoints(43200).Datasource(dashboards.Prometheus()))
	cond := expr.NewTypeThresholdBuilder().RefId("C").Expression("B").Conditions([]cog.Builder[expr.ExprTypeThresholdConditions]{
		expr.NewExprTypeThresholdConditionsBuilder().Evaluator(
			expr.NewExprTypeThresholdConditionsEvaluatorBuilder().Type(th.typ).Params([]float64{th.value})),
	})
	return alerting.NewRuleBuilder(title).Uid(uid).Condition("C").
		WithQuery(query).
		WithQuery(reduceQuery("B", "A", expr.TypeReduceReducerLast)).
		WithQuery(exprQuery("C", expr.NewExprBuilder().TypeThreshold(cond))).
		For(forDur).NoDataState(alerting.RuleNoDataStateOK).ExecErrState(alerting.RuleExecErrStateError).
		Labels(map[string]string{"severity": severity, "source": "benchstation"}).
		Annotations(map[string]string{"summary": summary, "runbook": runbook}).
		IsPaused(false)
}

// reduceQuery reduces a query's series to one value each.
func reduceQuery(refID, of string, reducer expr.TypeReduceReducer) *alerting.QueryBuilder {
	return exprQuery(refID, expr.NewExprBuilder().TypeReduce(expr.NewTypeReduceBuilder().RefId(refID).Expression(of).
		Reducer(reducer).Settings(expr.NewExprTypeReduceSettingsBuilder().Mode(expr.ExprTypeReduceSettingsModeDropNN))))
}

// exprQuery is a server-side expression step (datasource "__expr__").
func exprQuery(refID string, model cog.Builder[variants.Dataquery]) *alerting.QueryBuilder {
	return alerting.NewQueryBuilder(refID).DatasourceUid("__expr__").RelativeTimeRange(0, 0).Model(model)
}
