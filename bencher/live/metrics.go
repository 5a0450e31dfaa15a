package live

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
)

// Namespace prefixes every metric of this package.
const Namespace = "bencher"

// MetricsPath is where Serve exposes the metrics.
const MetricsPath = "/metrics"

// Label names. Their values are bounded: one run id and profile per run,
// and the closed set of Outcomes.
const (
	LabelRunID   = "run_id"
	LabelProfile = "profile"
	LabelOutcome = "outcome"
	// LabelShard is on every series of a shard's process (see WithShard).
	LabelShard = "shard"
)

// MetricsOption configures NewMetrics.
type MetricsOption func(*metricsConfig)

type metricsConfig struct {
	constLabels prometheus.Labels
}

// WithShard puts the label shard="INDEX" on every series, for the process
// that sends shard INDEX of a sharded run (bencher run --shard): the
// shards' series differ by it alone (the run_id is the run's), so that
// sum by (run_id) adds the shards up. Without it the series carry no
// shard label.
func WithShard(index int) MetricsOption {
	return func(c *metricsConfig) {
		if c.constLabels == nil {
			c.constLabels = prometheus.Labels{}
		}
		c.constLabels[LabelShard] = strconv.Itoa(index)
	}
}

// Metrics holds the live metrics of the runs of a process on its own
// registry. Create it with NewMetrics; add runs with NewRun.
type Metrics struct {
	reg                     *prometheus.Registry
	requests                *prometheus.CounterVec
	attempts, input, output *prometheus.CounterVec
	ttft, itl, e2e          *prometheus.HistogramVec
	runs                    *runsCollector

	mu       sync.Mutex
	keep     int    // finished runs whose series stay; 0: all
	finished []*Run // oldest first, while keep > 0
}

// KeepFinished bounds the finished runs whose series stay in the
// registry: once more than n runs have finished, the oldest finished
// run's series are removed. 0, the default, keeps every run, which suits
// a process that runs a few benchmarks and exits; a long-lived process
// (the Grafana plugin) sets a bound so that its series do not grow
// without end.
func (m *Metrics) KeepFinished(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keep = max(n, 0)
	m.trimLocked()
}

// finish records that r finished and forgets the runs past the bound.
func (m *Metrics) finish(r *Run) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keep == 0 {
		return
	}
	m.finished = append(m.finished, r)
	m.trimLocked()
}

func (m *Metrics) trimLocked() {
	for m.keep > 0 && len(m.finished) > m.keep {
		m.forget(m.finished[0])
		m.finished = m.finished[1:]
	}
}

// forget removes every series of r.
func (m *Metrics) forget(r *Run) {
	id, profile := r.info.ID, r.info.Profile
	for _, v := range []interface {
		DeleteLabelValues(...string) bool
	}{m.attempts, m.input, m.output, m.ttft, m.itl, m.e2e} {
		v.DeleteLabelValues(id, profile)
	}
	for _, o := range Outcomes() {
		m.requests.DeleteLabelValues(id, profile, o)
	}
	m.runs.remove(r)
}

// NewMetrics returns the metrics, registered on a new registry together
// with the Go and process collectors of the bencher itself.
func NewMetrics(opts ...MetricsOption) *Metrics {
	var cfg metricsConfig
	for _, o := range opts {
		o(&cfg)
	}
	runLabels := []string{LabelRunID, LabelProfile}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, runLabels)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: counter("requests_total", "Finished requests of the run, by outcome: ok, or the error class.",
			[]string{LabelRunID, LabelProfile, LabelOutcome}),
		attempts: counter("request_attempts_total", "Attempts of the finished requests, retries included.", runLabels),
		input:    counter("input_tokens_total", "Prompt tokens of the finished requests.", runLabels),
		output:   counter("output_tokens_total", "Generated tokens received by the finished requests.", runLabels),
		ttft: hist("time_to_first_token_seconds",
			"Time from a request's scheduled start to its first content chunk, successful measured requests.", sim.TTFTBuckets()),
		itl: hist("inter_token_latency_seconds",
			"Gaps between successive content chunks, successful measured requests.", sim.ITLBuckets()),
		e2e: hist("e2e_request_latency_seconds",
			"Time from a request's scheduled start to the end of its response, successful measured requests.", sim.RequestLatencyBuckets()),
		runs: newRunsCollector(),
	}
	prometheus.WrapRegistererWith(cfg.constLabels, m.reg).MustRegister(m.requests, m.attempts, m.input, m.output, m.ttft, m.itl, m.e2e, m.runs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the HTTP handler of the metrics exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 10,
		Timeout:             10 * time.Second,
	})
}

// Serve serves the metrics at MetricsPath on ln until ctx is cancelled,
// then shuts down (giving scrapes in progress a second). It returns nil
// after a shutdown.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(MetricsPath, m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// add registers a run and returns its series, resolved once so that
// observing a record does no label lookup. A batch run has no per-request
// series (nil): its records are not known until the batch ends.
func (m *Metrics) add(r *Run) *runMetrics {
	m.runs.add(r)
	if r.IsBatch() {
		return nil
	}
	id, profile := r.info.ID, r.info.Profile
	rm := &runMetrics{
		attempts: m.attempts.WithLabelValues(id, profile),
		input:    m.input.WithLabelValues(id, profile),
		output:   m.output.WithLabelValues(id, profile),
		ttft:     m.ttft.WithLabelValues(id, profile),
		itl:      m.itl.WithLabelValues(id, profile),
		e2e:      m.e2e.WithLabelValues(id, profile),
	}
	for i, o := range Outcomes() {
		rm.requests[i] = m.requests.WithLabelValues(id, profile, o)
	}
	return rm
}

// runMetrics are the series of one run.
type runMetrics struct {
	requests                [numOutcomes]prometheus.Counter
	attempts, input, output prometheus.Counter
	ttft, itl, e2e          prometheus.Observer
}

// observe counts a record: counters for every record, latencies for the
// successful measured ones.
func (m *runMetrics) observe(rec *bencher.Record) {
	m.requests[outcomeIndex(rec)].Inc()
	m.attempts.Add(float64(rec.Attempts))
	m.input.Add(float64(max(rec.InputTokens, 0)))
	m.output.Add(float64(max(rec.OutputTokens, 0)))
	if !rec.OK() || rec.Warmup {
		return
	}
	if ttft, ok := rec.TTFT(); ok {
		m.ttft.Observe(ttft.Seconds())
	}
	for i := 1; i < len(rec.ChunkTimes); i++ {
		m.itl.Observe((rec.ChunkTimes[i] - rec.ChunkTimes[i-1]).Seconds())
	}
	m.e2e.Observe(rec.E2E().Seconds())
}

// runsCollector sends the per-run gauges at scrape time: the info gauge,
// the start time and the requests in flight (read from the runner), and a
// batch run's batch gauges instead of the requests in flight.
type runsCollector struct {
	info, start, inFlight *prometheus.Desc
	batch                 batchDescs

	mu   sync.Mutex
	runs []*Run
}

func newRunsCollector() *runsCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &runsCollector{
		info: prometheus.NewDesc(name("run_info"), "Information about a benchmark run of this process; value 1.",
			[]string{LabelRunID, LabelProfile, "model", "target", "api", "mode", "simulated"}, nil),
		start: prometheus.NewDesc(name("run_start_time_seconds"), "Start of the run, in seconds since the Unix epoch.",
			[]string{LabelRunID, LabelProfile}, nil),
		inFlight: prometheus.NewDesc(name("requests_in_flight"), "Requests of the run being sent, received or waiting to be retried.",
			[]string{LabelRunID, LabelProfile}, nil),
		batch: newBatchDescs(),
	}
}

func (c *runsCollector) add(r *Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs = append(c.runs, r)
}

func (c *runsCollector) remove(r *Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs = slices.DeleteFunc(c.runs, func(x *Run) bool { return x == r })
}

// Describe sends the descriptors.
func (c *runsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.start
	ch <- c.inFlight
	c.batch.describe(ch)
}

// Collect sends the gauges of every run.
func (c *runsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	runs := append([]*Run(nil), c.runs...)
	c.mu.Unlock()
	for _, r := range runs {
		i := r.info
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1,
			i.ID, i.Profile, i.Model, i.Target, i.API, i.Mode, strconv.FormatBool(i.Simulated))
		if t := r.startTime(); !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue,
				float64(t.UnixNano())/1e9, i.ID, i.Profile)
		}
		if r.IsBatch() {
			c.batch.collect(ch, r)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(r.inFlight()), i.ID, i.Profile)
	}
}
