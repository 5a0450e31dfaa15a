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
	mfs, used, err := gather(t)
	return mfs, func() {
		for _, s := range used {
			samples.Put(s)
		}
	}, err
}

// gather runs collect and builds the families of what it sends: samples
// by the fast path, other metrics as a Registry would. It also returns
// the samples in the families, which their caller may recycle once it is
// done with the families.
func gather(collect func(chan<- prometheus.Metric)) ([]*dto.MetricFamily, []*sample, error) {
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
	mfs := make([]*dto.MetricFamily, 0, len(byName)+8)
	used := make([]*sample, 0, n)
	for _, f := range byName {
		mf, err := f.build()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mfs = append(mfs, mf)
		used = append(used, f.samples...)
	}
	if len(others) > 0 {
		more, err := gatherMetrics(others)
		if err != nil {
			errs = append(errs, err)
		}
		mfs = append(mfs, more...)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	for i := 1; i < len(mfs); i++ {
		if mfs[i].GetName() == mfs[i-1].GetName() {
			errs = append(errs, fmt.Errorf("metric family %s collected both as samples and as other metrics", mfs[i].GetName()))
		}
	}
	if len(errs) > 0 {
		return mfs, used, prometheus.MultiError(errs)
	}
	return mfs, used, nil
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

// build sorts the family's series as a Registry does, checks that no two
// are the same series and that they agree on their type, and returns the
// family.
func (f *seriesFamily) build() (*dto.MetricFamily, error) {
	slices.SortFunc(f.samples, func(a, b *sample) int { return cmp.Compare(a.labels.key, b.labels.key) })
	mf := &dto.MetricFamily{Name: &f.desc.name, Help: &f.desc.help, Type: &gaugeType,
		Metric: make([]*dto.Metric, len(f.samples))}
	if f.typ == prometheus.CounterValue {
		mf.Type = &counterType
	}
	for i, s := range f.samples {
		if s.typ != f.typ {
			return nil, fmt.Errorf("metric family %s collected as both gauge and counter", f.desc.name)
		}
		if i > 0 && s.labels.key == f.samples[i-1].labels.key {
			return nil, fmt.Errorf("metric %s collected twice with the same labels %v", f.desc.name, s.labels.pairs)
		}
		mf.Metric[i] = s.proto()
	}
	f.desc.lastSize.Store(int32(len(f.samples))) // the next scrape's capacity
	return mf, nil
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
// gatherer, sorted by name. Unlike prometheus.Gatherers it does not
// re-check every series (each gatherer checks its own); a family that two
// gatherers return is an error. Wrap a plain Gatherer with
// prometheus.ToTransactionalGatherer.
func Merge(gs ...prometheus.TransactionalGatherer) prometheus.TransactionalGatherer {
	return merged(gs)
}

type merged []prometheus.TransactionalGatherer

func (m merged) Gather() ([]*dto.MetricFamily, func(), error) {
	var all []*dto.MetricFamily
	var errs prometheus.MultiError
	dones := make([]func(), 0, len(m))
	for _, g := range m {
		mfs, done, err := g.Gather()
		dones = append(dones, done)
		if err != nil {
			errs.Append(err)
		}
		all = append(all, mfs...)
	}
	done := func() {
		for _, d := range dones {
			d()
		}
	}
	slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	for i := 1; i < len(all); i++ {
		if all[i].GetName() == all[i-1].GetName() {
			errs.Append(fmt.Errorf("metric family %s gathered from two sources", all[i].GetName()))
		}
	}
	return all, done, errs.MaybeUnwrap()
}
