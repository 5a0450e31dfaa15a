package collector

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type utilizationCollector struct {
	gpus                       *gpu.Manager
	gpuUtil, memUtil, enc, dec *desc
}

func newUtilization(d Deps) (Collector, error) {
	return &utilizationCollector{
		gpus:    d.GPUs,
		gpuUtil: newDesc("utilization_ratio", "Share of the last sample period (1/6 s to 1 s) in which a kernel ran on the GPU, 0-1."),
		memUtil: newDesc("memory_utilization_ratio", "Share of the last sample period in which device memory was read or written, 0-1."),
		enc:     newDesc("encoder_utilization_ratio", "Video encoder utilisation, 0-1."),
		dec:     newDesc("decoder_utilization_ratio", "Video decoder utilisation, 0-1."),
	}, nil
}

func (c *utilizationCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if readable(d, gpu.FieldUtilization) {
			u, ret := d.Handle.GetUtilizationRates()
			if r.ok(d, gpu.FieldUtilization, ret) {
				percent(ch, c.gpuUtil, u.Gpu, d)
				percent(ch, c.memUtil, u.Memory, d)
			}
		}
		c.codec(ch, &r, d, gpu.FieldEncoderUtilization, c.enc, d.Handle.GetEncoderUtilization)
		c.codec(ch, &r, d, gpu.FieldDecoderUtilization, c.dec, d.Handle.GetDecoderUtilization)
	}
	return r.err()
}

func (c *utilizationCollector) codec(ch chan<- prometheus.Metric, r *readings, d *gpu.Device, f gpu.Field,
	desc *desc, read func() (uint32, uint32, nvml.Return)) {
	if !readable(d, f) {
		return
	}
	v, _, ret := read()
	if r.ok(d, f, ret) {
		percent(ch, desc, v, d)
	}
}

// percent sends a 0-100 NVML percentage as a 0-1 ratio, dropping garbage.
func percent(ch chan<- prometheus.Metric, desc *desc, v uint32, d *gpu.Device) {
	if v <= 100 {
		gauge(ch, desc, float64(v)/100, d)
	}
}
