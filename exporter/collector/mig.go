package collector

import (
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type migCollector struct {
	gpus              *gpu.Manager
	enabled           *desc
	memUsed, memTotal *desc
}

func newMIG(d Deps) (Collector, error) {
	extra := []string{"mig_uuid", "gpu_instance", "compute_instance"}
	return &migCollector{
		gpus:     d.GPUs,
		enabled:  newDesc("mig_enabled", "Whether MIG (Multi-Instance GPU) mode is on (1) or off (0)."),
		memUsed:  newDesc("mig_memory_used_bytes", "Memory used by a MIG device, in bytes.", extra...),
		memTotal: newDesc("mig_memory_total_bytes", "Memory of a MIG device, in bytes.", extra...),
	}, nil
}

func (c *migCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if !readable(d, gpu.FieldMIGMode) {
			continue
		}
		current, _, ret := d.Handle.GetMigMode()
		if !r.ok(d, gpu.FieldMIGMode, ret) {
			continue
		}
		on := current == nvml.DEVICE_MIG_ENABLE
		gauge(ch, c.enabled, boolFloat(on), d)
		if on && readable(d, gpu.FieldMIGDevices) {
			c.instances(ch, &r, d)
		}
	}
	return r.err()
}

func (c *migCollector) instances(ch chan<- prometheus.Metric, r *readings, d *gpu.Device) {
	n, ret := d.Handle.GetMaxMigDeviceCount()
	if !r.ok(d, gpu.FieldMIGDevices, ret) {
		return
	}
	for i := range n {
		mig, ret := d.Handle.GetMigDeviceHandleByIndex(i)
		if ret == nvml.ERROR_NOT_FOUND || ret == nvml.ERROR_INVALID_ARGUMENT {
			continue // an empty slot
		}
		if !r.ok(d, gpu.FieldMIGDevices, ret) {
			return
		}
		uuid, _ := mig.GetUUID()
		gi, _ := mig.GetGpuInstanceId()
		ci, _ := mig.GetComputeInstanceId()
		mem, ret := mig.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			continue
		}
		labels := []string{uuid, strconv.Itoa(gi), strconv.Itoa(ci)}
		gauge(ch, c.memUsed, float64(mem.Used), d, labels...)
		gauge(ch, c.memTotal, float64(mem.Total), d, labels...)
	}
}
