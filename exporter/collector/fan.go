package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// maxPlausibleFanPercent: NVML may report more than 100 % of the nominal
// maximum; values beyond this are garbage.
const maxPlausibleFanPercent = 200

type fanCollector struct {
	gpus  *gpu.Manager
	speed *desc
}

func newFan(d Deps) (Collector, error) {
	return &fanCollector{
		gpus:  d.GPUs,
		speed: newDesc("fan_speed_ratio", "Fan speed as a share of its maximum, 0-1 (may exceed 1 where NVML says so). Absent on passively cooled GPUs.", "fan"),
	}, nil
}

func (c *fanCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if readable(d, gpu.FieldFanCount) && d.Supports(gpu.FieldFanSpeedV2) {
			n, ret := d.Handle.GetNumFans()
			if r.ok(d, gpu.FieldFanCount, ret) {
				for i := range n {
					v, ret := d.Handle.GetFanSpeed_v2(i)
					if r.ok(d, gpu.FieldFanSpeedV2, ret) && v <= maxPlausibleFanPercent {
						gauge(ch, c.speed, float64(v)/100, d, strconv.Itoa(i))
					}
				}
				continue
			}
		}
		if readable(d, gpu.FieldFanSpeed) && !d.Supports(gpu.FieldFanCount) {
			v, ret := d.Handle.GetFanSpeed()
			if r.ok(d, gpu.FieldFanSpeed, ret) && v <= maxPlausibleFanPercent {
				gauge(ch, c.speed, float64(v)/100, d, "0")
			}
		}
	}
	return r.err()
}
