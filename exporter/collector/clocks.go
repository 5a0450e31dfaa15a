package collector

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

var clockTypes = []struct {
	name string
	typ  nvml.ClockType
}{
	{"graphics", nvml.CLOCK_GRAPHICS},
	{"sm", nvml.CLOCK_SM},
	{"memory", nvml.CLOCK_MEM},
	{"video", nvml.CLOCK_VIDEO},
}

// clockEventReasons are the bits of nvmlDeviceGetCurrentClocksEventReasons
// (formerly ...ThrottleReasons), each reported as its own 0/1 series.
var clockEventReasons = []struct {
	name string
	bit  uint64
}{
	{"gpu_idle", nvml.ClocksEventReasonGpuIdle},
	{"applications_clocks_setting", nvml.ClocksEventReasonApplicationsClocksSetting},
	{"sw_power_cap", nvml.ClocksEventReasonSwPowerCap},
	{"hw_slowdown", nvml.ClocksThrottleReasonHwSlowdown},
	{"sync_boost", nvml.ClocksEventReasonSyncBoost},
	{"sw_thermal_slowdown", nvml.ClocksEventReasonSwThermalSlowdown},
	{"hw_thermal_slowdown", nvml.ClocksThrottleReasonHwThermalSlowdown},
	{"hw_power_brake_slowdown", nvml.ClocksThrottleReasonHwPowerBrakeSlowdown},
	{"display_clock_setting", nvml.ClocksEventReasonDisplayClockSetting},
}

type clocksCollector struct {
	gpus                           *gpu.Manager
	clock, maxClock, event, pstate *desc
}

func newClocks(d Deps) (Collector, error) {
	return &clocksCollector{
		gpus:     d.GPUs,
		clock:    newDesc("clock_hertz", "Current clock frequency, in hertz.", "clock"),
		maxClock: newDesc("clock_max_hertz", "Maximum clock frequency, in hertz.", "clock"),
		event: newDesc("clock_event_active",
			"Whether a reason for lowering clocks is active (1) or not (0); reasons are NVML's clock-event (throttle) reasons.", "reason"),
		pstate: newDesc("performance_state", "Performance state: 0 (P0, maximum) to 15 (P15, minimum)."),
	}, nil
}

func (c *clocksCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		for _, ct := range clockTypes {
			c.mhz(ch, &r, d, gpu.FieldClock, c.clock, ct.name, ct.typ, d.Handle.GetClockInfo)
			c.mhz(ch, &r, d, gpu.FieldMaxClock, c.maxClock, ct.name, ct.typ, d.Handle.GetMaxClockInfo)
		}
		if readable(d, gpu.FieldPerformanceState) {
			p, ret := d.Handle.GetPerformanceState()
			if r.ok(d, gpu.FieldPerformanceState, ret) && p <= nvml.PSTATE_15 {
				gauge(ch, c.pstate, float64(p), d)
			}
		}
		c.reasons(ch, &r, d)
	}
	return r.err()
}

func (c *clocksCollector) mhz(ch chan<- prometheus.Metric, r *readings, d *gpu.Device, f gpu.Field,
	desc *desc, name string, typ nvml.ClockType, read func(nvml.ClockType) (uint32, nvml.Return)) {
	if !readable(d, f) {
		return
	}
	v, ret := read(typ)
	if ret == nvml.ERROR_NOT_SUPPORTED || ret == nvml.ERROR_INVALID_ARGUMENT {
		return // one clock domain (e.g. video) missing says nothing of the others
	}
	if r.ok(d, f, ret) && v != notAvailable32 {
		gauge(ch, desc, float64(v)*1e6, d, name)
	}
}

// reasons prefers the current symbol and falls back to the name that
// drivers before 535 export.
func (c *clocksCollector) reasons(ch chan<- prometheus.Metric, r *readings, d *gpu.Device) {
	var bits uint64
	switch {
	case readable(d, gpu.FieldClockEventReasons):
		v, ret := d.Handle.GetCurrentClocksEventReasons()
		if !r.ok(d, gpu.FieldClockEventReasons, ret) {
			return
		}
		bits = v
	case readable(d, gpu.FieldClockThrottleReasons):
		v, ret := d.Handle.GetCurrentClocksThrottleReasons()
		if !r.ok(d, gpu.FieldClockThrottleReasons, ret) {
			return
		}
		bits = v
	default:
		return
	}
	for _, reason := range clockEventReasons {
		gauge(ch, c.event, boolFloat(bits&reason.bit != 0), d, reason.name)
	}
}
