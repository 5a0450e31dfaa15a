package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// batchSel selects the chosen Batch API endpoints.
const batchSel = `endpoint=~"$endpoint"`

// BatchJobs is the "Batch jobs" dashboard: the OpenAI-compatible batch
// jobs the exporter's batch collector follows.
func BatchJobs() *dashboard.DashboardBuilder {
	d := dashboard.NewDashboardBuilder("Batch jobs").Uid(BatchJobsUID).
		Description("OpenAI-compatible batch jobs (GET /v1/batches), as benchstation-exporter's batch collector sees them.").
		Tags([]string{"benchstation", "batch"}).
		Refresh("30s").Time("now-6h", "now").Timezone(common.TimeZoneBrowser).
		Link(dashboardLink("GPU & vLLM", GPUvLLMUID)).Link(dashboardLink("Benchmarks", BenchmarksUID)).
		WithVariable(promVar("endpoint", "Batch endpoint", `label_values(benchstation_batch_poll_success, endpoint)`))
	d.WithRow(dashboard.NewRowBuilder("Jobs")).
		WithPanel(single("In progress", "Jobs validating, in progress or finalizing.", unitCount, quarter,
			prom("A", `sum(benchstation_batch_jobs{`+batchSel+`, status=~"validating|in_progress|finalizing"})`, "running"))).
		WithPanel(single("Failed or expired", "Jobs that failed or expired, of those listed.", unitCount, quarter,
			prom("A", `sum(benchstation_batch_jobs{`+batchSel+`, status=~"failed|expired"})`, "failed")).
			Thresholds(thresholds(step{1, "red"}))).
		WithPanel(single("Requests done", "Requests completed, of all requests, in the unfinished jobs.", unitRatio, quarter,
			prom("A", `sum(benchstation_batch_job_requests_completed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})
  / sum(benchstation_batch_job_requests{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "done"))).
		WithPanel(single("Data age", "Seconds since the last successful poll; grows while an endpoint is down.", unitSeconds, quarter,
			prom("A", `max(benchstation_batch_data_age_seconds{`+batchSel+`})`, "age")).
			Thresholds(thresholds(step{120, "orange"}, step{600, "red"}))).
		WithPanel(series("Jobs by status", "Listed jobs, by status.", unitCount, half,
			prom("A", `sum by (status) (benchstation_batch_jobs{`+batchSel+`})`, "{{status}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))).
		WithPanel(series("Progress", "Share of each unfinished job's requests done.", unitRatio, half,
			prom("A", `benchstation_batch_job_progress_ratio{`+batchSel+`}
  * on (endpoint, batch_id) group_left (model) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"}`,
				"{{batch_id}} {{model}}")).
			Min(0).Max(1)).
		WithPanel(grid("Jobs", "Every job with per-job series: status, model, requests, and times.", full, 10,
			prom("A", `benchstation_batch_job_info{`+batchSel+`}`, "").Instant().Format("table"),
			prom("B", `benchstation_batch_job_requests{`+batchSel+`}`, "").Instant().Format("table"),
			prom("C", `benchstation_batch_job_requests_completed{`+batchSel+`}`, "").Instant().Format("table"),
			prom("D", `benchstation_batch_job_requests_failed{`+batchSel+`}`, "").Instant().Format("table"),
			prom("E", `benchstation_batch_job_created_timestamp_seconds{`+batchSel+`} * 1000`, "").Instant().Format("table")).
			WithTransformation(transform("merge", map[string]any{})).
			WithTransformation(transform("organize", map[string]any{
				"excludeByName": map[string]bool{"Time": true, "Value #A": true, "__name__": true, "job": true, "instance": true},
				"renameByName": map[string]string{"Value #B": "requests", "Value #C": "completed", "Value #D": "failed",
					"Value #E": "created"},
			})).
			OverrideByName("created", []dashboard.DynamicConfigValue{{Id: "unit", Value: unitDateTime}}))
	d.WithRow(dashboard.NewRowBuilder("Polling")).
		WithPanel(series("Requests", "Completed and failed requests of the unfinished jobs.", unitCount, half,
			prom("A", `sum by (endpoint) (benchstation_batch_job_requests_completed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "{{endpoint}} completed"),
			prom("B", `sum by (endpoint) (benchstation_batch_job_requests_failed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "{{endpoint}} failed"))).
		WithPanel(series("Polls", "Poll success (1/0) and failures per minute, by reason.", unitCount, half,
			prom("A", `benchstation_batch_poll_success{`+batchSel+`}`, "{{endpoint}} up"),
			prom("B", `sum by (endpoint, reason) (rate(benchstation_batch_poll_failures_total{`+batchSel+`}[$__rate_interval])) * 60`,
				"{{endpoint}} {{reason}} /min")))
	return d
}
