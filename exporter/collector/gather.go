package collector

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Gather implements prometheus.Gatherer: one scrape of every collector,
// as metric families sorted by name with their series sorted by label
// values — what a prometheus.Registry holding only e would return.
//
// It is the scrape path the binary serves. prometheus.Registry spends
// about three allocations and most of a scrape's CPU on every series
// (a dto.Metric, a hash of its labels to find duplicates, its place in
// the family); here a series costs the one allocation of its sample, which
// carries its own dto.Metric, and duplicates are found while sorting.
// Metrics that are not the collectors' own samples (the batch collector's
// const metrics) take the Registry's path.
func (e *Exporter) Gather() ([]*dto.MetricFamily, error) {
	mfs, _, err := gather(e.Collect)
	return mfs, err
}

// Transactional returns e as a prometheus.TransactionalGatherer (for
// promhttp.HandlerForTransactional): what the families hold is reused by
// later scrapes once done is called, so a scrape leaves almost no garbage.
func (e *Exporter) Transactional() prometheus.TransactionalGatherer { return transactional(e.Collect) }

// transactional is a TransactionalGatherer made of a collect function.
type transactional func(chan<- prometheus.Metric)

func (t transactional) Gather() ([]*dto.MetricFamily, func(), error) {
	fams, done, err := t.families()
	return protos(fams), done, err
}

// families is Gather without the protobuf messages (see Scrape).
func (t transactional) families() ([]metricFamily, func(), error) {
	fams, used, err := collectFamilies(t)
	return fams, func() {
		for _, s := range used {
			samples.Put(s)
		}
	}, err
}

// gather runs collect and builds the families of what it sends. It also
// returns the samples in the families, which their caller may recycle once
// it is done with the families.
func gather(collect func(chan<- prometheus.Metric)) ([]*dto.MetricFamily, []*sample, error) {
	fams, used, err := collectFamilies(collect)
	return protos(fams), used, err
}

// metricFamily is one metric family of a scrape: the collectors' samples
// (series), or a family gathered another way (mf).
type metricFamily struct {
	name   string
	series *seriesFamily
	mf     *dto.MetricFamily
}

// proto returns f as a protobuf message.
func (f metricFamily) proto() *dto.MetricFamily {
	if f.mf != nil {
		return f.mf
	}
	return f.series.proto()
}

func protos(fams []metricFamily) []*dto.MetricFamily {
	mfs := make([]*dto.MetricFamily, len(fams))
	for i, f := range fams {
		mfs[i] = f.proto()
	}
	return mfs
}

// collectFamilies runs collect and returns the families of what it sends,
// sorted by name and checked as a Registry checks them: samples by the fast
// path, other metrics by a Registry. It also returns the samples in the
// families, which their caller may recycle once it is done with the
// families.
func collectFamilies(collect func(chan<- prometheus.Metric)) ([]metricFamily, []*sample, error) {
	ch := make(chan prometheus.Metric, 256)
	go func() {
		collect(ch)
		close(ch)
	}()
	byDesc := make(map[*desc]*seriesFamily, 64)
	var others []prometheus.Metric
	n := 0
	for m := range ch {
		s, ok := m.(*sample)
		if !ok {
			others = append(others, m)
			continue
		}
		n++
		f := byDesc[s.desc]
		if f == nil {
			f = &seriesFamily{desc: s.desc, typ: s.typ, samples: make([]*sample, 0, s.desc.lastSize.Load())}
			byDesc[s.desc] = f
		}
		f.samples = append(f.samples, s)
	}
	// Descs of the same name make one family, as in a Registry, if they
	// agree on help and type.
	byName := make(map[string]*seriesFamily, len(byDesc))
	var errs []error
	for _, f := range byDesc {
		g, ok := byName[f.desc.name]
		switch {
		case !ok:
			byName[f.desc.name] = f
		case g.desc.help != f.desc.help || g.typ != f.typ:
			errs = append(errs, fmt.Errorf("metric family %s collected with different help or type", f.desc.name))
		default:
			g.samples = append(g.samples, f.samples...)
		}
	}
	fams := make([]metricFamily, 0, len(byName)+8)
	used := make([]*sample, 0, n)
	for name, f := range byName {
		if err := f.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		fams = append(fams, metricFamily{name: name, series: f})
		used = append(used, f.samples...)
	}
	if len(others) > 0 {
		more, err := gatherMetrics(others)
		if err != nil {
			errs = append(errs, err)
		}
		for _, mf := range more {
			fams = append(fams, metricFamily{name: mf.GetName(), mf: mf})
		}
	}
	slices.SortFunc(fams, func(a, b metricFamily) int { return cmp.Compare(a.name, b.name) })
	for i := 1; i < len(fams); i++ {
		if fams[i].name == fams[i-1].name {
			errs = append(errs, fmt.Errorf("metric family %s collected both as samples and as other metrics", fams[i].name))
		}
	}
	if len(errs) > 0 {
		return fams, used, prometheus.MultiError(errs)
	}
	return fams, used, nil
}

// seriesFamily is one metric family of a scrape in the making.
type seriesFamily struct {
	desc    *desc
	typ     prometheus.ValueType
	samples []*sample
}

var (
	gaugeType   = dto.MetricType_GAUGE
	counterType = dto.MetricType_COUNTER
)

// check sorts the family's series as a Registry does, and checks that no
// two are the same series and that they agree on their type.
func (f *seriesFamily) check() error {
	slices.SortFunc(f.samples, func(a, b *sample) int { return cmp.Compare(a.labels.key, b.labels.key) })
	for i, s := range f.samples {
		if s.typ != f.typ {
			return fmt.Errorf("metric family %s collected as both gauge and counter", f.desc.name)
		}
		if i > 0 && s.labels.key == f.samples[i-1].labels.key {
			return fmt.Errorf("metric %s collected twice with the same labels %v", f.desc.name, s.labels.pairs)
		}
	}
	f.desc.lastSize.Store(int32(len(f.samples))) // the next scrape's capacity
	return nil
}

// proto returns the checked family as a protobuf message.
func (f *seriesFamily) proto() *dto.MetricFamily {
	mf := &dto.MetricFamily{Name: &f.desc.name, Help: &f.desc.help, Type: &gaugeType,
		Metric: make([]*dto.Metric, len(f.samples))}
	if f.typ == prometheus.CounterValue {
		mf.Type = &counterType
	}
	for i, s := range f.samples {
		mf.Metric[i] = s.proto()
	}
	return mf
}

// gatherMetrics turns metrics of any kind into families the way a
// Registry does, checks included.
func gatherMetrics(ms []prometheus.Metric) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(replay(ms)); err != nil {
		return nil, err
	}
	return reg.Gather()
}

// replay is an unchecked collector that sends metrics already collected.
type replay []prometheus.Metric

func (r replay) Describe(chan<- *prometheus.Desc) {}

func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// Merge returns a TransactionalGatherer of the families of every
// gatherer, sorted by name, which also writes them in the text format
// without building protobuf messages (see Scrape). Unlike
// prometheus.Gatherers it does not re-check every series (each gatherer
// checks its own); a family that two gatherers return is an error. Wrap a
// plain Gatherer with prometheus.ToTransactionalGatherer.
func Merge(gs ...prometheus.TransactionalGatherer) *Merged {
	return &Merged{gs: gs}
}

// Merged is what Merge returns.
type Merged struct {
	gs []prometheus.TransactionalGatherer
}

// familyGatherer is a gatherer of families (transactional).
type familyGatherer interface {
	families() ([]metricFamily, func(), error)
}

// Gather implements prometheus.TransactionalGatherer.
func (m *Merged) Gather() ([]*dto.MetricFamily, func(), error) {
	s, err := m.Scrape()
	return protos(s.fams), s.Done, err
}

// Scrape gathers every gatherer once. The error is Gather's: the scrape
// holds what could be gathered. Call Done once the scrape is written.
func (m *Merged) Scrape() (*Scrape, error) {
	s := &Scrape{dones: make([]func(), 0, len(m.gs))}
	var errs prometheus.MultiError
	for _, g := range m.gs {
		var (
			fams []metricFamily
			done func()
			err  error
		)
		if fg, ok := g.(familyGatherer); ok {
			fams, done, err = fg.families()
		} else {
			var mfs []*dto.MetricFamily
			mfs, done, err = g.Gather()
			fams = make([]metricFamily, len(mfs))
			for i, mf := range mfs {
				fams[i] = metricFamily{name: mf.GetName(), mf: mf}
			}
		}
		if done != nil {
			s.dones = append(s.dones, done)
		}
		if err != nil {
			errs.Append(err)
		}
		s.fams = append(s.fams, fams...)
	}
	slices.SortFunc(s.fams, func(a, b metricFamily) int { return cmp.Compare(a.name, b.name) })
	for i := 1; i < len(s.fams); i++ {
		if s.fams[i].name == s.fams[i-1].name {
			errs.Append(fmt.Errorf("metric family %s gathered from two sources", s.fams[i].name))
		}
	}
	return s, errs.MaybeUnwrap()
}
