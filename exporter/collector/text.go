package collector

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Scrape is one gathering of a Merged gatherer's families, to be written
// once.
//
// AppendText writes the collectors' own samples in the text format
// without expfmt: a series' name and labels are rendered once, when its
// label set is cached (see desc.labels), and a family's HELP and TYPE lines
// when its desc is made, so that a scrape appends those bytes and formats
// only the values. expfmt's encoder spent more CPU on each series (its
// name checked for escaping, its labels written and escaped one by one)
// than gathering it. Other families (the batch collector's, build_info)
// take expfmt's encoder, in the format asked for.
type Scrape struct {
	fams  []metricFamily
	dones []func()
}

// Len is the number of families in s.
func (s *Scrape) Len() int { return len(s.fams) }

// Done gives what the families hold back to later scrapes. s must not be
// used after.
func (s *Scrape) Done() {
	for _, d := range s.dones {
		d()
	}
	s.dones = nil
}

// AppendText appends s to b in f, a text format (text/plain, 0.0.4 or
// 1.0.0, any escaping scheme), exactly as expfmt's encoder for f would write
// the families of Merged.Gather, and returns the extended buffer. A family
// that fails to encode is left out, in part or whole, and its error
// returned; the others are written.
func (s *Scrape) AppendText(b []byte, f expfmt.Format) ([]byte, error) {
	if f.FormatType() != expfmt.TypeTextPlain {
		return b, fmt.Errorf("format %s is not a text format", f)
	}
	var (
		w    appender
		enc  expfmt.Encoder
		errs []error
	)
	for _, fam := range s.fams {
		if fam.series != nil && fam.series.desc.legacy {
			b = fam.series.appendText(b)
			continue
		}
		if enc == nil {
			enc = expfmt.NewEncoder(&w, f)
		}
		w.b = b
		if err := enc.Encode(fam.proto()); err != nil {
			errs = append(errs, err)
		}
		b = w.b
	}
	return b, errors.Join(errs...)
}

// appender is an io.Writer that appends to b.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// appendText appends the checked family of a legacy desc in the text
// format.
func (f *seriesFamily) appendText(b []byte) []byte {
	if f.typ == prometheus.CounterValue {
		b = append(b, f.desc.header[1]...)
	} else {
		b = append(b, f.desc.header[0]...)
	}
	for _, s := range f.samples {
		b = append(b, s.labels.text...)
		b = appendFloat(b, s.value)
		b = append(b, '\n')
	}
	return b
}

// appendFloat formats v as expfmt's text encoder does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 1:
		return append(b, '1')
	case v == 0:
		return append(b, '0')
	case v == -1:
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
