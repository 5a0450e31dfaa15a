package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type memoryCollector struct {
	gpus                        *gpu.Manager
	used, free, total, reserved *desc
}

func newMemory(d Deps) (Collector, error) {
	return &memoryCollector{
		gpus:     d.GPUs,
		used:     newDesc("memory_used_bytes", "Framebuffer memory used, in bytes (excluding reserved memory where the driver reports it)."),
		free:     newDesc("memory_free_bytes", "Framebuffer memory free, in bytes."),
		total:    newDesc("memory_total_bytes", "Framebuffer memory installed, in bytes."),
		reserved: newDesc("memory_reserved_bytes", "Framebuffer memory reserved by the driver and firmware, in bytes (drivers with nvmlDeviceGetMemoryInfo_v2)."),
	}, nil
}

func (c *memoryCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if readable(d, gpu.FieldMemoryInfoV2) {
			m, ret := d.Handle.GetMemoryInfo_v2()
			if r.ok(d, gpu.FieldMemoryInfoV2, ret) {
				gauge(ch, c.used, float64(m.Used), d)
				gauge(ch, c.free, float64(m.Free), d)
				gauge(ch, c.total, float64(m.Total), d)
				gauge(ch, c.reserved, float64(m.Reserved), d)
				continue
			}
		}
		if readable(d, gpu.FieldMemoryInfo) {
			m, ret := d.Handle.GetMemoryInfo()
			if r.ok(d, gpu.FieldMemoryInfo, ret) {
				gauge(ch, c.used, float64(m.Used), d)
				gauge(ch, c.free, float64(m.Free), d)
				gauge(ch, c.total, float64(m.Total), d)
			}
		}
	}
	return r.err()
}
