package collector

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/batch/batchtest"
	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
)

// textFormats are the text formats a scraper may negotiate: 0.0.4 and
// 1.0.0, under every escaping scheme.
var textFormats = []expfmt.Format{
	expfmt.FmtText + "; escaping=underscores",
	expfmt.FmtText + "; escaping=values",
	expfmt.FmtText + "; escaping=dots",
	expfmt.FmtText_1_0_0 + "; escaping=allow-utf-8",
	expfmt.FmtText_1_0_0 + "; escaping=underscores",
}

// checkAppendText has one scrape of m written by Scrape.AppendText and by
// expfmt's encoder from the families Merged.Gather would return (the path
// served before AppendText), and wants the same bytes; and it parses
// AppendText's output with expfmt's text parser and wants the families
// back (if parse; the text format cannot tell -0 from 0, nor an empty
// help from none). It returns the text in text format 1.0.0 with UTF-8
// names.
func checkAppendText(t *testing.T, m *Merged, parse bool) string {
	t.Helper()
	s, err := m.Scrape()
	require.NoError(t, err)
	defer s.Done()
	require.NotZero(t, s.Len())
	mfs := protos(s.fams)
	var text []byte
	for i, f := range textFormats {
		got, err := s.AppendText(nil, f)
		require.NoError(t, err, f)
		var want bytes.Buffer
		enc := expfmt.NewEncoder(&want, f)
		for _, mf := range mfs {
			require.NoError(t, enc.Encode(mf), f)
		}
		require.Equal(t, want.String(), string(got), "format %s", f)
		if i == 3 {
			text = got
		}
	}
	if !parse {
		return string(text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(bytes.NewReader(text))
	require.NoError(t, err)
	require.Len(t, parsed, len(mfs))
	for _, mf := range mfs {
		got := parsed[mf.GetName()]
		if assert.NotNil(t, got, mf.GetName()) {
			assert.Equal(t, mf.String(), got.String(), mf.GetName())
		}
	}
	return string(text)
}

// TestAppendTextIsExpfmtsText: the text of a simulated DGX H100 (every
// collector), the exporter's own process, build information from a
// Registry and the batch collector is what expfmt writes of the same
// families, in every text format.
func TestAppendTextIsExpfmtsText(t *testing.T) {
	t.Parallel()
	t.Run("dgxh100", func(t *testing.T) {
		t.Parallel()
		sys, err := gpusim.New("dgxh100")
		require.NoError(t, err)
		all := DefaultEnabled()
		var extra []string
		for name := range all {
			extra = append(extra, name)
		}
		e, _ := newExporter(t, gpu.NewManager(sys.Library(), gpu.Simulated()), Config{ProcessName: sys.ProcessName}, nil, extra...)
		build := prometheus.NewRegistry()
		build.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "test_build_info", Help: "Build.",
			ConstLabels: prometheus.Labels{"version": `v1 "quoted" \ back`}}, func() float64 { return 1 }))
		text := checkAppendText(t, Merge(e.Transactional(), NewSelf().Transactional(), prometheus.ToTransactionalGatherer(build)), true)
		assert.Contains(t, text, "\nnvidia_gpu_temperature_celsius{")
		assert.Contains(t, text, "\nprocess_cpu_seconds_total ")
		assert.Contains(t, text, `test_build_info{version="v1 \"quoted\" \\ back"} 1`)
	})
	t.Run("batch", func(t *testing.T) {
		t.Parallel()
		main := batchtest.NewServer(t, batchKey, goldenBatches()...)
		s := newBatchSetup(t, batch.Config{PageSize: 4, StaleAfter: 5 * time.Minute}, nil, nil, "main="+main.URL)
		text := checkAppendText(t, Merge(s.exp.Transactional()), true)
		assert.Contains(t, text, `benchstation_batch_job_info{`)
	})
}

// TestAppendTextEscapesAsExpfmt: awkward help, label values and values,
// and a UTF-8 name (written by expfmt, escaped per format).
func TestAppendTextEscapesAsExpfmt(t *testing.T) {
	t.Parallel()
	odd := newPlainDesc("test_odd", "Help with \\ a backslash,\na newline and \"quotes\".", "a", "b")
	utf8 := newPlainDesc("test.utf8_metric", "A UTF-8 name.", "label.with.dots")
	require.False(t, utf8.legacy)
	bare := newPlainDesc("test_bare", "")
	collect := func(ch chan<- prometheus.Metric) {
		for i, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-300, 1e21, 123456789, -2.5e-7,
			math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64} {
			gauge(ch, odd, v, nil, string(rune('a'+i)), "")
		}
		gauge(ch, odd, 2, nil, `quote " backslash \ newline`+"\n", "ünïcode ✓")
		counter(ch, utf8, 3, nil, "x")
		gauge(ch, bare, 7, nil)
	}
	text := checkAppendText(t, Merge(transactional(collect)), false)
	assert.Contains(t, text, `test_odd{a="quote \" backslash \\ newline\n",b="ünïcode ✓"} 2`)
	assert.Contains(t, text, `test_odd{a="b",b=""} 0`+"\n")
	assert.Contains(t, text, `test_odd{a="j",b=""} NaN`+"\n")
	assert.Contains(t, text, `{"test.utf8_metric","label.with.dots"="x"} 3`)
	assert.Contains(t, text, "# HELP test_bare \n")
}

// TestScrapeRecyclesOnce: Done may be called twice (the handler calls it
// once the text is written and again on return); samples go back once.
func TestScrapeRecyclesOnce(t *testing.T) {
	t.Parallel()
	n := 0
	m := Merge(fakeTransactional{done: func() { n++ }})
	s, err := m.Scrape()
	require.NoError(t, err)
	s.Done()
	s.Done()
	assert.Equal(t, 1, n)
}

type fakeTransactional struct{ done func() }

func (f fakeTransactional) Gather() ([]*dto.MetricFamily, func(), error) { return nil, f.done, nil }
