package collector

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
)

// collectFunc is a Collector made of a function.
type collectFunc func(ch chan<- prometheus.Metric)

func (f collectFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestGatherRejectsWhatARegistryRejects(t *testing.T) {
	t.Parallel()
	d := newPlainDesc("test_metric", "A test metric.", "kind")
	for _, tc := range []struct {
		name    string
		collect func(ch chan<- prometheus.Metric)
		want    string
	}{
		{"same series twice", func(ch chan<- prometheus.Metric) {
			gauge(ch, d, 1, nil, "a")
			gauge(ch, d, 2, nil, "a")
		}, "metric test_metric collected twice with the same labels"},
		{"gauge and counter", func(ch chan<- prometheus.Metric) {
			gauge(ch, d, 1, nil, "a")
			counter(ch, d, 2, nil, "b")
		}, "metric family test_metric collected as both gauge and counter"},
		{"one name, two helps", func(ch chan<- prometheus.Metric) {
			gauge(ch, d, 1, nil, "a")
			gauge(ch, newPlainDesc("test_metric", "Another help.", "kind"), 1, nil, "b")
		}, "metric family test_metric collected with different help or type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := gather(tc.collect)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			// A Registry rejects the same.
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectFunc(tc.collect))
			_, err = reg.Gather()
			assert.Error(t, err)
		})
	}
}

// TestGatherOrdersAsARegistry: series sorted by label values compared one
// by one ("1" before "10"), families by name, other metrics alongside.
func TestGatherOrdersAsARegistry(t *testing.T) {
	t.Parallel()
	d := newPlainDesc("test_b", "B.", "x", "y")
	other := prometheus.NewDesc("test_a", "A.", []string{"k"}, nil)
	d2 := newPlainDesc("test_b", "B.", "x", "y") // same family, another desc
	collect := func(ch chan<- prometheus.Metric) {
		for _, v := range [][2]string{{"10", "a"}, {"1", "z"}, {"1", "b"}, {"2", ""}, {"", "q"}} {
			gauge(ch, d, 1, nil, v[0], v[1])
		}
		gauge(ch, d2, 5, nil, "11", "c")
		ch <- prometheus.MustNewConstMetric(other, prometheus.CounterValue, 3, "v")
	}
	got, _, err := gather(collect)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectFunc(collect))
	want, err := reg.Gather()
	require.NoError(t, err)
	assert.Equal(t, textOf(t, want), textOf(t, got))
}

func textOf(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestMerge(t *testing.T) {
	t.Parallel()
	a := prometheus.NewRegistry()
	a.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "m_b", Help: "B."}))
	b := prometheus.NewRegistry()
	b.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "m_a", Help: "A."}),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "m_c", Help: "C."}))
	ta, tb := prometheus.ToTransactionalGatherer(a), prometheus.ToTransactionalGatherer(b)
	mfs, done, err := Merge(ta, tb).Gather()
	require.NoError(t, err)
	done()
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	assert.Equal(t, []string{"m_a", "m_b", "m_c"}, names)

	_, _, err = Merge(ta, tb, ta).Gather()
	assert.ErrorContains(t, err, "metric family m_b gathered from two sources")
}

// TestConcurrentGathers: scrapes at once share label sets and caches but
// not samples (run with -race).
func TestConcurrentGathers(t *testing.T) {
	t.Parallel()
	sys, err := gpusim.New("dgxh100")
	require.NoError(t, err)
	e, reg := newExporter(t, gpu.NewManager(sys.Library(), gpu.Simulated()), Config{ProcessName: sys.ProcessName}, nil)
	want := family(withoutDurations(scrape(t, reg)), "nvidia_gpu_info")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				got := scrape(t, e)
				assert.Equal(t, want, family(got, "nvidia_gpu_info"))
				assert.Equal(t, 8, strings.Count(got, "nvidia_gpu_temperature_celsius{"))
			}
		})
	}
	wg.Wait()
}

// TestLabelCacheIsBounded: series whose labels come and go (processes)
// never grow a desc's cache past maxCached.
func TestLabelCacheIsBounded(t *testing.T) {
	t.Parallel()
	d := newDesc("process_test", "Test.", "pid")
	dev := &gpu.Device{Label: "0", UUID: "GPU-0"}
	ch := make(chan prometheus.Metric, 1)
	for pid := range 3 * maxCached {
		gauge(ch, d, 1, dev, strings.Repeat("1", 1+pid%7)+string(rune('a'+pid%26))+time.Duration(pid).String())
		<-ch
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	assert.LessOrEqual(t, len(d.cache), maxCached)
}

// TestSelfMatchesClientGolang: the series Self keeps have the names and
// types of client_golang's process and Go collectors, and sane values.
func TestSelfMatchesClientGolang(t *testing.T) {
	t.Parallel()
	ours, err := NewSelf().Gather()
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	theirs, err := reg.Gather()
	require.NoError(t, err)
	types := map[string]dto.MetricType{}
	for _, mf := range theirs {
		types[mf.GetName()] = mf.GetType()
	}
	values := map[string]float64{}
	for _, mf := range ours {
		typ, ok := types[mf.GetName()]
		if assert.True(t, ok, "client_golang has no %s", mf.GetName()) {
			assert.Equal(t, typ, mf.GetType(), mf.GetName())
		}
		require.Len(t, mf.Metric, 1)
		m := mf.Metric[0]
		values[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	assert.Len(t, ours, 13)
	assert.Greater(t, values["process_cpu_seconds_total"], 0.0)
	assert.Greater(t, values["process_resident_memory_bytes"], 1e6)
	assert.Greater(t, values["process_virtual_memory_bytes"], values["process_resident_memory_bytes"])
	assert.Greater(t, values["process_open_fds"], 2.0) // stdin, stdout, stderr at least
	assert.GreaterOrEqual(t, values["process_max_fds"], values["process_open_fds"])
	assert.InDelta(t, float64(time.Now().Unix()), values["process_start_time_seconds"], 3600, "started within the hour")
	assert.Greater(t, values["go_goroutines"], 0.0)
	assert.Greater(t, values["go_memstats_heap_alloc_bytes"], 0.0)
	assert.Greater(t, values["go_threads"], 0.0)
	assert.Equal(t, 1.0, values["go_info"])
}

// TestTransactionalGathersRecycleSafely: scrapes at once, each giving its
// samples back when done, never see one another's series (run with -race).
func TestTransactionalGathersRecycleSafely(t *testing.T) {
	t.Parallel()
	sys, err := gpusim.New("dgxh100")
	require.NoError(t, err)
	e, reg := newExporter(t, gpu.NewManager(sys.Library(), gpu.Simulated()), Config{ProcessName: sys.ProcessName}, nil)
	want := family(scrape(t, reg), "nvidia_gpu_info")
	g := Merge(e.Transactional(), NewSelf().Transactional())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				mfs, done, err := g.Gather()
				assert.NoError(t, err)
				var b strings.Builder
				enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, mf := range mfs {
					assert.NoError(t, enc.Encode(mf))
				}
				got := b.String()
				assert.Equal(t, want, family(got, "nvidia_gpu_info"))
				assert.Equal(t, 8, strings.Count(got, "\nnvidia_gpu_temperature_celsius{"))
				assert.Equal(t, 8*len(clockEventReasons), strings.Count(got, "\nnvidia_gpu_clock_event_active{"))
				assert.Equal(t, 1, strings.Count(got, "\nprocess_cpu_seconds_total "))
				done()
			}
		})
	}
	wg.Wait()
}
