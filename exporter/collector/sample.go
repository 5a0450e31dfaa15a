package collector

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// desc is a metric descriptor that builds each series' label pairs once
// and reuses them at every scrape. Building them (what
// prometheus.MustNewConstMetric does each time) was the largest cost of a
// scrape; label pairs are immutable by client_golang's contract, so sharing
// them between scrapes is safe.
//
// A per-GPU desc (newDesc) has the labels gpu and uuid, taken from the
// device, before its extra labels; a plain one (newPlainDesc) has only
// its own labels.
type desc struct {
	*prometheus.Desc
	name, help string
	names      []string // label names in declaration order
	perGPU     bool
	// byDevice says that a per-GPU desc's label values are fixed for a
	// device (nvidia_gpu_info): its cache is keyed by the device alone,
	// however many labels it has.
	byDevice bool
	// lastSize is how many series the desc had in the latest scrape.
	lastSize atomic.Int32
	// legacy says that the name and label names are valid in the legacy
	// (pre-UTF-8) scheme: the text exposition writes them as they are, under
	// any escaping scheme, so Scrape.AppendText writes the desc's series
	// itself. Others take expfmt's encoder.
	legacy bool
	// header is the family's HELP and TYPE lines in the text format, as
	// a gauge ([0]) and as a counter ([1]).
	header [2]string

	mu    sync.RWMutex
	cache map[labelKey]*labelSet
	// byIndex holds the label sets of a per-GPU desc without other labels,
	// by device index: most descs, looked up without hashing.
	byIndex []*labelSet
}

// maxCached bounds the label sets a desc keeps. Label values that come
// and go (process ids) would otherwise grow the cache without end; when it
// is full it starts again.
const maxCached = 1024

// labelKey identifies one series of a desc: the device (per-GPU descs)
// and up to three other label values.
type labelKey struct {
	d      *gpu.Device
	values [3]string
}

// labelSet is one series' label pairs, sorted by name as the exposition
// wants them, and a key that orders series as prometheus.Registry does
// (by label values, in label-name order) and identifies them.
type labelSet struct {
	pairs []*dto.LabelPair
	key   string
	d     *gpu.Device // the device, for byIndex
	// text is what the text exposition writes before the series' value:
	// `name{label="value",...} `, as expfmt writes it (legacy descs).
	text string
}

func newDesc(name, help string, extra ...string) *desc {
	d := newPlainDesc(Namespace+"_"+name, help, append([]string{"gpu", "uuid"}, extra...)...)
	d.perGPU = true
	return d
}

// newPlainDesc is a desc of fqName whose label values are all given at
// each sample.
func newPlainDesc(fqName, help string, labels ...string) *desc {
	legacy := model.LegacyValidation.IsValidMetricName(fqName)
	for _, l := range labels {
		legacy = legacy && model.LegacyValidation.IsValidLabelName(l)
	}
	helpLine := "# HELP " + fqName + " " + helpEscaper.Replace(help) + "\n# TYPE " + fqName
	return &desc{
		Desc:   prometheus.NewDesc(fqName, help, labels, nil),
		name:   fqName,
		help:   help,
		names:  labels,
		cache:  map[labelKey]*labelSet{},
		legacy: legacy,
		header: [2]string{helpLine + " gauge\n", helpLine + " counter\n"},
	}
}

// The text format's escaping, as expfmt's: of HELP text, and of label
// values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// labels returns the label set of the series of d (nil for a plain desc)
// with the values given.
func (m *desc) labels(d *gpu.Device, values []string) *labelSet {
	if m.perGPU && (len(values) == 0 || m.byDevice) {
		return m.deviceLabels(d, values)
	}
	cacheable := len(values) <= len(labelKey{}.values) || m.byDevice
	var key labelKey
	if cacheable {
		key.d = d
		if !m.byDevice {
			copy(key.values[:], values)
		}
		m.mu.RLock()
		ls, ok := m.cache[key]
		m.mu.RUnlock()
		if ok {
			return ls
		}
	}
	ls := m.newLabelSet(d, values)
	if cacheable {
		m.mu.Lock()
		if len(m.cache) >= maxCached {
			clear(m.cache)
		}
		m.cache[key] = ls
		m.mu.Unlock()
	}
	return ls
}

// deviceLabels is labels for a series that only its device identifies.
func (m *desc) deviceLabels(d *gpu.Device, values []string) *labelSet {
	i := d.Index
	m.mu.RLock()
	var ls *labelSet
	if i >= 0 && i < len(m.byIndex) {
		ls = m.byIndex[i]
	}
	m.mu.RUnlock()
	if ls != nil && ls.d == d { // a device of this NVML session
		return ls
	}
	ls = m.newLabelSet(d, values)
	if i >= 0 && i < maxCached {
		m.mu.Lock()
		if i >= len(m.byIndex) {
			m.byIndex = append(m.byIndex, make([]*labelSet, i+1-len(m.byIndex))...)
		}
		m.byIndex[i] = ls
		m.mu.Unlock()
	}
	return ls
}

func (m *desc) newLabelSet(d *gpu.Device, values []string) *labelSet {
	all := values
	if m.perGPU {
		all = append([]string{d.Label, d.UUID}, values...)
	}
	p := make([]*dto.LabelPair, len(m.names))
	for i, name := range m.names {
		v := ""
		if i < len(all) {
			v = all[i]
		}
		p[i] = &dto.LabelPair{Name: proto.String(name), Value: proto.String(v)}
	}
	slices.SortFunc(p, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	var key, text strings.Builder
	text.WriteString(m.name)
	sep := byte('{')
	for _, lp := range p {
		key.WriteString(lp.GetValue())
		// NUL sorts before every other byte, so comparing keys compares the
		// values one by one, as prometheus.Registry orders series.
		key.WriteByte(0)
		text.WriteByte(sep)
		sep = ','
		text.WriteString(lp.GetName())
		text.WriteString(`="`)
		text.WriteString(valueEscaper.Replace(lp.GetValue()))
		text.WriteByte('"')
	}
	if len(p) > 0 {
		text.WriteByte('}')
	}
	text.WriteByte(' ')
	return &labelSet{pairs: p, key: key.String(), d: d, text: text.String()}
}

// sample is one series' value at this scrape. It carries the protobuf
// message that represents it, so that Exporter.Gather builds a scrape's
// metric families without allocating per sample beyond the sample itself.
type sample struct {
	desc   *desc
	labels *labelSet
	typ    prometheus.ValueType
	value  float64

	metric  dto.Metric
	gauge   dto.Gauge
	counter dto.Counter
}

var _ prometheus.Metric = (*sample)(nil)

func (s *sample) Desc() *prometheus.Desc { return s.desc.Desc }

// Write implements prometheus.Metric, for registries (tests compare the
// two paths). It leaves s unchanged, so a sample may be written any number
// of times.
func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels.pairs
	v := s.value
	if s.typ == prometheus.CounterValue {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// proto fills and returns s's own protobuf message (see Exporter.Gather).
func (s *sample) proto() *dto.Metric {
	s.metric.Label = s.labels.pairs
	if s.typ == prometheus.CounterValue {
		s.counter.Value = &s.value
		s.metric.Counter = &s.counter
	} else {
		s.gauge.Value = &s.value
		s.metric.Gauge = &s.gauge
	}
	return &s.metric
}

// samples recycles samples between scrapes: a transactional gather (see
// Transactional) gives its samples back once the scrape has been written.
var samples = sync.Pool{New: func() any { return new(sample) }}

func newSample(m *desc, labels *labelSet, typ prometheus.ValueType, v float64) *sample {
	s := samples.Get().(*sample)
	*s = sample{desc: m, labels: labels, typ: typ, value: v}
	return s
}

func gauge(ch chan<- prometheus.Metric, m *desc, v float64, d *gpu.Device, extra ...string) {
	ch <- newSample(m, m.labels(d, extra), prometheus.GaugeValue, v)
}

func counter(ch chan<- prometheus.Metric, m *desc, v float64, d *gpu.Device, extra ...string) {
	ch <- newSample(m, m.labels(d, extra), prometheus.CounterValue, v)
}
