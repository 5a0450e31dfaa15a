package collector

import (
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type pcieCollector struct {
	gpus       *gpu.Manager
	throughput *desc
}

func newPCIe(d Deps) (Collector, error) {
	return &pcieCollector{
		gpus: d.GPUs,
		throughput: newDesc("pcie_throughput_bytes_per_second",
			"PCIe throughput over NVML's last 20 ms sample, in bytes per second, by direction: tx (from the GPU) or rx (to the GPU).", "direction"),
	}, nil
}

// Update reads the GPUs concurrently: each NVML call blocks about 20 ms.
func (c *pcieCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		r  readings
	)
	for _, d := range devs {
		if !readable(d, gpu.FieldPCIeThroughput) {
			continue
		}
		wg.Go(func() {
			var local readings
			for _, dir := range []struct {
				name    string
				counter nvml.PcieUtilCounter
			}{{"tx", nvml.PCIE_UTIL_TX_BYTES}, {"rx", nvml.PCIE_UTIL_RX_BYTES}} {
				kb, ret := d.Handle.GetPcieThroughput(dir.counter)
				if local.ok(d, gpu.FieldPCIeThroughput, ret) && kb != notAvailable32 {
					gauge(ch, c.throughput, float64(kb)*1024, d, dir.name)
				}
			}
			mu.Lock()
			r.errs = append(r.errs, local.errs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return r.err()
}
