package collector

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type powerCollector struct {
	gpus                                *gpu.Manager
	draw, limit, enforced, defaultLimit *desc
	energy                              *desc
}

func newPower(d Deps) (Collector, error) {
	return &powerCollector{
		gpus:         d.GPUs,
		draw:         newDesc("power_draw_watts", "Power drawn by the GPU board, in watts."),
		limit:        newDesc("power_limit_watts", "Power management limit set on the GPU, in watts."),
		enforced:     newDesc("power_limit_enforced_watts", "Power limit the GPU enforces (the lowest of all limits), in watts."),
		defaultLimit: newDesc("power_limit_default_watts", "Default power management limit of the GPU, in watts."),
		energy:       newDesc("energy_consumed_joules_total", "Energy consumed by the GPU since the driver was loaded, in joules."),
	}, nil
}

func (c *powerCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		c.milliwatts(ch, &r, d, gpu.FieldPowerUsage, c.draw, d.Handle.GetPowerUsage)
		c.milliwatts(ch, &r, d, gpu.FieldPowerLimit, c.limit, d.Handle.GetPowerManagementLimit)
		c.milliwatts(ch, &r, d, gpu.FieldEnforcedPowerLimit, c.enforced, d.Handle.GetEnforcedPowerLimit)
		c.milliwatts(ch, &r, d, gpu.FieldDefaultPowerLimit, c.defaultLimit, d.Handle.GetPowerManagementDefaultLimit)
		if readable(d, gpu.FieldEnergy) {
			mj, ret := d.Handle.GetTotalEnergyConsumption()
			if r.ok(d, gpu.FieldEnergy, ret) && mj != ^uint64(0) {
				counter(ch, c.energy, float64(mj)/1000, d)
			}
		}
	}
	return r.err()
}

func (c *powerCollector) milliwatts(ch chan<- prometheus.Metric, r *readings, d *gpu.Device, f gpu.Field,
	desc *desc, read func() (uint32, nvml.Return)) {
	if !readable(d, f) {
		return
	}
	mw, ret := read()
	if r.ok(d, f, ret) && mw != notAvailable32 {
		gauge(ch, desc, float64(mw)/1000, d)
	}
}
