package collector

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// desc is a per-GPU metric descriptor that builds each series' label pairs
// once and reuses them at every scrape. Building them (what
// prometheus.MustNewConstMetric does each time) was the largest cost of a
// scrape; label pairs are immutable by client_golang's contract, so sharing
// them between scrapes is safe.
type desc struct {
	*prometheus.Desc
	names []string // label names: gpu, uuid, extra...
	// volatile descriptors (label values that come and go, such as PIDs) are
	// not cached, so the cache stays bounded.
	volatile bool

	mu    sync.Mutex
	pairs map[labelKey][]*dto.LabelPair
}

// labelKey identifies one series of a desc: the device and up to three
// extra label values.
type labelKey struct {
	d      *gpu.Device
	extras [3]string
}

func newDesc(name, help string, extra ...string) *desc {
	names := append([]string{"gpu", "uuid"}, extra...)
	return &desc{
		Desc:  prometheus.NewDesc(Namespace+"_"+name, help, names, nil),
		names: names,
		pairs: map[labelKey][]*dto.LabelPair{},
	}
}

// labelPairs returns the sorted label pairs of the series of d with extra values.
func (m *desc) labelPairs(d *gpu.Device, extra []string) []*dto.LabelPair {
	cacheable := !m.volatile && len(extra) <= 3
	var key labelKey
	if cacheable {
		key.d = d
		copy(key.extras[:], extra)
		m.mu.Lock()
		p, ok := m.pairs[key]
		m.mu.Unlock()
		if ok {
			return p
		}
	}
	values := append([]string{d.Label, d.UUID}, extra...)
	p := make([]*dto.LabelPair, len(m.names))
	for i, name := range m.names {
		p[i] = &dto.LabelPair{Name: proto.String(name), Value: proto.String(values[i])}
	}
	slices.SortFunc(p, func(a, b *dto.LabelPair) int {
		return cmpString(a.GetName(), b.GetName())
	})
	if cacheable {
		m.mu.Lock()
		m.pairs[key] = p
		m.mu.Unlock()
	}
	return p
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sample is one series' value at this scrape, with shared label pairs.
type sample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	typ    prometheus.ValueType
	value  float64
}

var _ prometheus.Metric = (*sample)(nil)

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.typ == prometheus.CounterValue {
		m.Counter = &dto.Counter{Value: &s.value}
	} else {
		m.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}

func gauge(ch chan<- prometheus.Metric, m *desc, v float64, d *gpu.Device, extra ...string) {
	ch <- &sample{desc: m.Desc, labels: m.labelPairs(d, extra), typ: prometheus.GaugeValue, value: v}
}

func counter(ch chan<- prometheus.Metric, m *desc, v float64, d *gpu.Device, extra ...string) {
	ch <- &sample{desc: m.Desc, labels: m.labelPairs(d, extra), typ: prometheus.CounterValue, value: v}
}
