package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// batchSel selects the chosen Batch API endpoints.
const batchSel = `endpoint=~"$endpoint"`

// noBatchData is what the batch panels say when there is no batch data:
// the exporter polls a Batch API only when it is given one.
const (
	noBatchData      = "No batch data: " + noBatchDataLower
	noBatchDataLower = "the exporter polls a Batch API only with --batch.endpoint URL " +
		"(docker compose: set BATCH_ENDPOINT)"
	noBatchStat = "No batch data"
)

// jobQuery is one per-job series of metric, with the job's status,
// api_endpoint and model from benchstation_batch_job_info: every per-job
// query has the same labels, so that a merge joins them into one row per
// job.
func jobQuery(metric string) string {
	return `max by (endpoint, batch_id) (` + metric + `{` + batchSel + `})
  * on (endpoint, batch_id) group_left (status, api_endpoint, model)
  max by (endpoint, batch_id, status, api_endpoint, model) (benchstation_batch_job_info{` + batchSel + `})`
}

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
		WithPanel(single("Batch endpoints", "Batch API endpoints the exporters poll (the Polls panel shows which answer). "+
			"None unless benchstation-exporter is given --batch.endpoint (docker compose: BATCH_ENDPOINT).", unitCount, third,
			prom("A", `count(benchstation_batch_poll_success) or vector(0)`, "endpoints polled")).
			GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeBackground).
			Mappings([]dashboard.ValueMapping{
				{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText,
					Options: map[string]dashboard.ValueMappingResult{"0": {Text: ptr("None: --batch.endpoint / BATCH_ENDPOINT"), Color: ptr("orange")}}}},
			})).
		WithPanel(single("In progress", "Jobs validating, in progress or finalizing.", unitCount, 4,
			prom("A", `sum(benchstation_batch_jobs{`+batchSel+`, status=~"validating|in_progress|finalizing"})`, "running")).NoValue(noBatchStat)).
		WithPanel(single("Failed or expired", "Jobs that failed or expired, of those listed.", unitCount, 4,
			prom("A", `sum(benchstation_batch_jobs{`+batchSel+`, status=~"failed|expired"})`, "failed")).
			Thresholds(thresholds(step{1, "red"})).NoValue(noBatchStat)).
		// An instant query: the share now. Over a range, the stat's last
		// value would keep a finished job's share as if it still ran.
		WithPanel(single("Requests done", "Requests completed, of all requests, in the jobs unfinished now.", unitRatio, 4,
			prom("A", `sum(benchstation_batch_job_requests_completed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})
  / sum(benchstation_batch_job_requests{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "done").Instant()).
			GraphMode(common.BigValueGraphModeNone).NoValue("No unfinished job")).
		WithPanel(single("Data age", "Seconds since the last successful poll; grows while an endpoint is down.", unitSeconds, 4,
			prom("A", `max(benchstation_batch_data_age_seconds{`+batchSel+`})`, "age")).
			Thresholds(thresholds(step{120, "orange"}, step{600, "red"})).NoValue(noBatchStat)).
		WithPanel(series("Jobs by status", "Listed jobs, by status.", unitCount, half,
			prom("A", `sum by (status) (benchstation_batch_jobs{`+batchSel+`})`, "{{status}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).NoValue(noBatchData)).
		WithPanel(series("Progress", "Share of each unfinished job's requests done.", unitRatio, half,
			prom("A", `benchstation_batch_job_progress_ratio{`+batchSel+`}
  * on (endpoint, batch_id) group_left (model) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"}`,
				"{{batch_id}} {{model}}")).
			Min(0).Max(1).NoValue("No unfinished batch jobs in this range, or " + noBatchDataLower)).
		WithPanel(grid("Jobs", "Every job with per-job series, one row each: status, model, progress, requests, and when it was created.", full, 10,
			prom("A", jobQuery("benchstation_batch_job_progress_ratio"), "").Instant().Format("table"),
			prom("B", jobQuery("benchstation_batch_job_requests"), "").Instant().Format("table"),
			prom("C", jobQuery("benchstation_batch_job_requests_completed"), "").Instant().Format("table"),
			prom("D", jobQuery("benchstation_batch_job_requests_failed"), "").Instant().Format("table"),
			prom("E", jobQuery("benchstation_batch_job_created_timestamp_seconds")+" * 1000", "").Instant().Format("table")).
			NoValue(noBatchData).
			// Every query has the same labels (endpoint, batch_id, status,
			// api_endpoint, model), so merge joins them into one row per job.
			WithTransformation(transform("merge", map[string]any{})).
			WithTransformation(transform("organize", map[string]any{
				"excludeByName": map[string]bool{"Time": true},
				"indexByName": map[string]int{"batch_id": 0, "status": 1, "model": 2, "Value #A": 3, "Value #B": 4,
					"Value #C": 5, "Value #D": 6, "Value #E": 7, "endpoint": 8, "api_endpoint": 9},
				"renameByName": map[string]string{"Value #A": "progress", "Value #B": "requests", "Value #C": "completed",
					"Value #D": "failed", "Value #E": "created"},
			})).
			SortBy([]cog.Builder[common.TableSortByFieldState]{
				common.NewTableSortByFieldStateBuilder().DisplayName("created").Desc(true)}).
			OverrideByName("created", []dashboard.DynamicConfigValue{{Id: "unit", Value: unitDateTime}}).
			OverrideByName("progress", []dashboard.DynamicConfigValue{{Id: "unit", Value: unitRatio},
				{Id: "min", Value: 0}, {Id: "max", Value: 1}, {Id: "decimals", Value: 0}}))
	d.WithRow(dashboard.NewRowBuilder("Polling")).
		WithPanel(series("Requests", "Completed and failed requests of the unfinished jobs.", unitCount, half,
			prom("A", `sum by (endpoint) (benchstation_batch_job_requests_completed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "{{endpoint}} completed"),
			prom("B", `sum by (endpoint) (benchstation_batch_job_requests_failed{`+batchSel+`} and on (endpoint, batch_id) benchstation_batch_job_info{status=~"validating|in_progress|finalizing"})`, "{{endpoint}} failed")).
			NoValue("No unfinished batch jobs in this range, or " + noBatchDataLower)).
		WithPanel(series("Polls", "Poll success (1/0) and failures per minute, by reason.", unitCount, half,
			prom("A", `benchstation_batch_poll_success{`+batchSel+`}`, "{{endpoint}} up"),
			prom("B", `sum by (endpoint, reason) (rate(benchstation_batch_poll_failures_total{`+batchSel+`}[$__rate_interval])) * 60`,
				"{{endpoint}} {{reason}} /min")).NoValue(noBatchData))
	return d
}
