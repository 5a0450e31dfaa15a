package live

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/batchapi"
)

// BatchProgress is what the server said of a batch job at its latest
// poll: its status and its request_counts. A batch answers whole, so these
// counts, not per-request records, are a batch run's progress.
type BatchProgress struct {
	// Status is the batch's status (validating, in_progress, …).
	Status string
	// Total, Completed and Failed are the batch's request_counts; Total is
	// 0 until the server has read the input file.
	Total, Completed, Failed int64
}

// Done returns the requests the batch has finished, completed or failed.
func (b BatchProgress) Done() int64 { return b.Completed + b.Failed }

// batchStatusUnknown is the status label of a status that is not one of
// batchapi.Statuses.
const batchStatusUnknown = "unknown"

// batchStatuses are the values of the status label of bencher_batch_status.
var batchStatuses = append(batchapi.Statuses(), batchStatusUnknown)

// IsBatch reports whether the run is a Batch API job (its Mode is
// bencher.ModeBatchAPI): its progress is the server's counts (see
// [Run.ObserveBatch]), and it has no per-request series.
func (r *Run) IsBatch() bool { return r.info.Mode == bencher.ModeBatchAPI }

// ObserveBatch records what a poll of the run's batch read. It is for
// batch runs ([Run.IsBatch]); other runs ignore it.
func (r *Run) ObserveBatch(b BatchProgress) {
	if !r.IsBatch() {
		return
	}
	r.batch.Store(&b)
}

// batchProgress returns the latest batch progress, nil before the first.
func (r *Run) batchProgress() *BatchProgress { return r.batch.Load() }

// batchDescs are the gauges of a batch run, read from the server's
// batch object at each poll (the names follow the exporter's
// benchstation_batch_job_* series).
type batchDescs struct {
	requests, completed, failed, status *prometheus.Desc
}

func newBatchDescs() batchDescs {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "batch", n) }
	run := []string{LabelRunID, LabelProfile}
	polled := " As the server reported it at the latest poll of the run's batch."
	return batchDescs{
		requests:  prometheus.NewDesc(name("requests"), "Requests in the run's batch job (request_counts.total)."+polled, run, nil),
		completed: prometheus.NewDesc(name("requests_completed"), "Requests of the run's batch job that completed (request_counts.completed)."+polled, run, nil),
		failed:    prometheus.NewDesc(name("requests_failed"), "Requests of the run's batch job that failed (request_counts.failed)."+polled, run, nil),
		status: prometheus.NewDesc(name("status"), "Status of the run's batch job: 1 for its status, 0 for the others "+
			"(the eight OpenAI statuses, and unknown for any other value)."+polled, append(run, "status"), nil),
	}
}

func (d batchDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- d.requests
	ch <- d.completed
	ch <- d.failed
	ch <- d.status
}

// collect sends the gauges of a batch run once a poll has read its batch.
func (d batchDescs) collect(ch chan<- prometheus.Metric, r *Run) {
	b := r.batchProgress()
	if b == nil {
		return
	}
	id, profile := r.info.ID, r.info.Profile
	ch <- prometheus.MustNewConstMetric(d.requests, prometheus.GaugeValue, float64(b.Total), id, profile)
	ch <- prometheus.MustNewConstMetric(d.completed, prometheus.GaugeValue, float64(b.Completed), id, profile)
	ch <- prometheus.MustNewConstMetric(d.failed, prometheus.GaugeValue, float64(b.Failed), id, profile)
	current := b.Status
	if !slices.Contains(batchStatuses, current) {
		current = batchStatusUnknown
	}
	for _, s := range batchStatuses {
		v := 0.0
		if s == current {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d.status, prometheus.GaugeValue, v, id, profile, s)
	}
}
