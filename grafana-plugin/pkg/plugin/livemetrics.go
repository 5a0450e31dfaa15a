package plugin

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
)

// LiveCollector returns a collector of the bencher_* series of m (see
// package live), for the registry that the plugin's metrics are served
// from: Grafana serves them at /metrics/plugins/<plugin id>, and the SDK
// answers it from prometheus.DefaultGatherer. The Go and process series
// that m's own registry also holds are left out, as the default registry
// has its own.
//
// The collector is unchecked (it describes nothing, as the series of m are
// only known when gathered), so a registry cannot unregister it: register
// it once per process, as the Metrics it reads from.
func LiveCollector(m *live.Metrics) prometheus.Collector {
	return liveCollector{g: m.Registry()}
}

// liveCollector sends the bencher_* families gathered from g.
type liveCollector struct{ g prometheus.Gatherer }

// Describe sends nothing: the collector is unchecked.
func (liveCollector) Describe(chan<- *prometheus.Desc) {}

// Collect gathers g and sends its bencher_* series; an error of the
// gathering is sent as an invalid metric, after the series gathered.
func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	mfs, err := c.g.Gather()
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), live.Namespace+"_") {
			continue
		}
		desc := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), nil, nil)
		for _, m := range mf.GetMetric() {
			ch <- gatheredMetric{desc: desc, m: m}
		}
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
	}
}

// gatheredMetric is a series as gathered; its labels are in m, not desc
// (an unchecked collector's descriptors are not compared with its series).
type gatheredMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

// Desc returns the family's descriptor.
func (g gatheredMetric) Desc() *prometheus.Desc { return g.desc }

// Write copies the series into out.
func (g gatheredMetric) Write(out *dto.Metric) error {
	proto.Merge(out, g.m)
	return nil
}

// observers sends each record to every observer, in order.
type observers []bencher.Observer

// Observe calls Observe of each observer.
func (o observers) Observe(rec bencher.Record) {
	for _, ob := range o {
		ob.Observe(rec)
	}
}

// LiveRunsKept is the number of finished runs whose live series the
// plugin keeps (see live.Metrics.KeepFinished): enough for Prometheus to
// scrape each run's final values, bounded for a long-lived process.
const LiveRunsKept = 20
