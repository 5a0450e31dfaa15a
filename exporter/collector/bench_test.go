package collector

import (
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
)

// BenchmarkScrape measures one full scrape of 8 GPUs with the default
// collectors, as Prometheus sees it: collect, gather and encode to text.
//
// "mock" is go-nvml's DGX A100 mock with every reading filled in; the mock
// records each call it receives, which this benchmark pays for too.
// "simulated" is gpusim's DGX H100, which computes its values and records
// nothing.
func BenchmarkScrape(b *testing.B) {
	tb := newTestbed(b)
	sim, err := gpusim.New("dgxh100")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		mgr  *gpu.Manager
		cfg  Config
	}{
		{"mock", gpu.NewManager(tb.server), Config{ProcessName: func(uint32) string { return "python3" }}},
		{"simulated", gpu.NewManager(sim.Library(), gpu.Simulated()), Config{ProcessName: sim.ProcessName}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, reg := newExporter(b, bc.mgr, bc.cfg, nil)
			scrapeOnce(b, reg) // initialise NVML and learn unsupported fields first
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				scrapeOnce(b, reg)
			}
		})
	}
}

func scrapeOnce(b *testing.B, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			b.Fatal(err)
		}
	}
}
