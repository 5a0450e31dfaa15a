package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/internal/secret"
)

// BatchNamespace prefixes the metrics of OpenAI-compatible batch jobs.
const BatchNamespace = "benchstation_batch"

// batchPolled is appended to the help of metrics that come from polling.
const batchPolled = " Polled in the background every --batch.interval (default 30s), not at scrape time."

// batchDescs are the batch collector's descriptors.
type batchDescs struct {
	pollSuccess, lastSuccess, pollDuration, dataAge, polls, failures *prometheus.Desc
	jobs, untracked                                                  *prometheus.Desc
	info, requests, completed, failed, progress, created, finished   *prometheus.Desc
}

func newBatchDescs() batchDescs {
	ep := []string{"endpoint"}
	job := []string{"endpoint", "batch_id"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(BatchNamespace+"_"+name, help, labels, nil)
	}
	return batchDescs{
		pollSuccess:  d("poll_success", "Whether the latest poll of the endpoint's GET /v1/batches succeeded (1) or failed (0)."+batchPolled, ep),
		lastSuccess:  d("last_success_timestamp_seconds", "When the latest successful poll of the endpoint started, in Unix seconds.", ep),
		pollDuration: d("poll_duration_seconds", "How long the latest poll of the endpoint took (all pages), in seconds.", ep),
		dataAge: d("data_age_seconds", "Age of the batch data served for the endpoint: seconds since its latest successful poll. "+
			"A failing endpoint's last good data is served until it is older than --batch.stale-after (default 5m), then dropped.", ep),
		polls: d("polls_total", "Polls of the endpoint finished since the exporter started.", ep),
		failures: d("poll_failures_total", "Failed polls of the endpoint since the exporter started, by reason "+
			"(timeout, connection, unauthorized, rate_limited, server_error, http_status, malformed, pagination, redirect: "+
			"a redirect to another origin, never followed).", []string{"endpoint", "reason"}),
		jobs: d("jobs", "Batch jobs the endpoint lists, by status: the eight OpenAI statuses, and unknown for any other value."+batchPolled,
			[]string{"endpoint", "status"}),
		untracked: d("jobs_untracked", "Batch jobs that qualify for per-job series (not finished, or finished within --batch.window) "+
			"but have none because of --batch.max-batches.", ep),
		info: d("job_info", "A batch job with per-job series (not finished, or finished within --batch.window; at most --batch.max-batches "+
			"per endpoint); value 1. api_endpoint is the batch's endpoint field, model its model field or else metadata.model."+batchPolled,
			[]string{"endpoint", "batch_id", "status", "api_endpoint", "model"}),
		requests:  d("job_requests", "Requests in the batch job (request_counts.total).", job),
		completed: d("job_requests_completed", "Requests of the batch job that completed (request_counts.completed).", job),
		failed:    d("job_requests_failed", "Requests of the batch job that failed (request_counts.failed).", job),
		progress:  d("job_progress_ratio", "Share of the batch job's requests that are done, completed or failed: 0 to 1.", job),
		created:   d("job_created_timestamp_seconds", "When the batch job was created (created_at), in Unix seconds.", job),
		finished: d("job_finished_timestamp_seconds", "When the finished batch job finished (completed_at, failed_at, expired_at "+
			"or cancelled_at), in Unix seconds.", job),
	}
}

// batchCollector serves what its pollers last found. It never waits on the
// network: the pollers run in the background and Update reads snapshots.
type batchCollector struct {
	d       batchDescs
	pollers []*batch.Poller
	now     func() time.Time
	stop    context.CancelFunc

	mu    sync.Mutex
	cache []builtSummary // per poller
}

// builtSummary holds the metrics of one summary, built once per poll.
type builtSummary struct {
	from    *batch.Summary
	metrics []prometheus.Metric
}

func newBatch(d Deps) (Collector, error) {
	cfg := d.Config.Batch
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no batch endpoints configured (--batch.endpoint or --batch.config-file)")
	}
	c := &batchCollector{d: newBatchDescs(), now: cfg.WithDefaults().Clock, cache: make([]builtSummary, len(cfg.Endpoints))}
	for _, ep := range cfg.Endpoints {
		p, err := batch.NewPoller(ep, cfg, d.Logger)
		if err != nil {
			return nil, err
		}
		c.pollers = append(c.pollers, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	for _, p := range c.pollers {
		p.Start(ctx)
	}
	return c, nil
}

// Update sends each endpoint's poll metrics and, while it is fresh, its
// last good data. A failing endpoint does not fail the collector: it shows
// in benchstation_batch_poll_success.
func (c *batchCollector) Update(ch chan<- prometheus.Metric) error {
	now := c.now()
	for i, p := range c.pollers {
		s := p.Snapshot()
		red := p.Redactor()
		endpoint := red.Value(s.Endpoint) // the configured name; never the key, had it been pasted there
		c.sendPoll(ch, s, endpoint)
		data := s.Data(now)
		if data == nil {
			continue
		}
		gaugeVal(ch, c.d.dataAge, now.Sub(s.LastSuccess).Seconds(), endpoint)
		for _, m := range c.built(i, endpoint, data, red) {
			ch <- m
		}
	}
	return nil
}

func (c *batchCollector) sendPoll(ch chan<- prometheus.Metric, s *batch.Snapshot, endpoint string) {
	ch <- prometheus.MustNewConstMetric(c.d.polls, prometheus.CounterValue, float64(s.Polls), endpoint)
	for _, r := range batch.Reasons() {
		ch <- prometheus.MustNewConstMetric(c.d.failures, prometheus.CounterValue, float64(s.Failures[r]), endpoint, r)
	}
	if s.Polls == 0 {
		return
	}
	gaugeVal(ch, c.d.pollSuccess, boolFloat(s.LastPollOK), endpoint)
	gaugeVal(ch, c.d.pollDuration, s.LastPollDuration.Seconds(), endpoint)
	if !s.LastSuccess.IsZero() {
		gaugeVal(ch, c.d.lastSuccess, unixSeconds(s.LastSuccess), endpoint)
	}
}

// built returns the metrics of summary, building them on its first scrape.
func (c *batchCollector) built(i int, endpoint string, summary *batch.Summary, red *secret.Redactor) []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache[i].from != summary {
		c.cache[i] = builtSummary{from: summary, metrics: c.build(endpoint, summary, red)}
	}
	return c.cache[i].metrics
}

// build makes the metrics of a summary. The poller has already passed the
// strings from the server through the endpoint's redactor; every label
// value passes through it once more here, the last step before /metrics:
// one that holds a credential is [REDACTED] whole.
func (c *batchCollector) build(endpoint string, s *batch.Summary, red *secret.Redactor) []prometheus.Metric {
	ms := make([]prometheus.Metric, 0, len(batch.Statuses())+1+7*len(s.Tracked))
	add := func(desc *prometheus.Desc, v float64, labels ...string) {
		for i, l := range labels {
			labels[i] = red.Value(l)
		}
		if m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labels...); err == nil {
			ms = append(ms, m)
		}
	}
	for _, st := range batch.Statuses() {
		add(c.d.jobs, float64(s.Count(st)), endpoint, string(st))
	}
	add(c.d.untracked, float64(s.Untracked), endpoint)
	for _, t := range s.Tracked {
		add(c.d.info, 1, endpoint, t.ID, string(t.Status), t.Endpoint, t.Model)
		add(c.d.requests, float64(t.Requests.Total), endpoint, t.ID)
		add(c.d.completed, float64(t.Requests.Completed), endpoint, t.ID)
		add(c.d.failed, float64(t.Requests.Failed), endpoint, t.ID)
		if t.Requests.Total > 0 {
			done := float64(t.Requests.Completed+t.Requests.Failed) / float64(t.Requests.Total)
			add(c.d.progress, min(max(done, 0), 1), endpoint, t.ID)
		}
		if !t.CreatedAt.IsZero() {
			add(c.d.created, unixSeconds(t.CreatedAt), endpoint, t.ID)
		}
		if !t.FinishedAt.IsZero() {
			add(c.d.finished, unixSeconds(t.FinishedAt), endpoint, t.ID)
		}
	}
	return ms
}

// Close stops the pollers.
func (c *batchCollector) Close() error {
	c.stop()
	for _, p := range c.pollers {
		p.Stop()
	}
	return nil
}

func gaugeVal(ch chan<- prometheus.Metric, desc *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
