package collector

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// maxPlausibleCelsius bounds temperatures: NVML has been seen returning
// 0xFFFFFFFF and other garbage, which must not become a data point.
const maxPlausibleCelsius = 200

type temperatureCollector struct {
	gpus       *gpu.Manager
	gpuTemp    *desc
	memoryTemp *desc
}

func newTemperature(d Deps) (Collector, error) {
	return &temperatureCollector{
		gpus:       d.GPUs,
		gpuTemp:    newDesc("temperature_celsius", "GPU die temperature in degrees Celsius."),
		memoryTemp: newDesc("memory_temperature_celsius", "GPU memory (HBM) temperature in degrees Celsius, where reported."),
	}, nil
}

func (c *temperatureCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if readable(d, gpu.FieldTemperature) {
			v, ret := d.Handle.GetTemperature(nvml.TEMPERATURE_GPU)
			if r.ok(d, gpu.FieldTemperature, ret) && v <= maxPlausibleCelsius {
				gauge(ch, c.gpuTemp, float64(v), d)
			}
		}
		if readable(d, gpu.FieldMemoryTemperature) {
			fv := []nvml.FieldValue{{FieldId: nvml.FI_DEV_MEMORY_TEMP}}
			if r.ok(d, gpu.FieldMemoryTemperature, d.Handle.GetFieldValues(fv)) &&
				r.ok(d, gpu.FieldMemoryTemperature, nvml.Return(fv[0].NvmlReturn)) {
				if v, ok := fieldValue(fv[0]); ok && v > 0 && v <= maxPlausibleCelsius {
					gauge(ch, c.memoryTemp, v, d)
				}
			}
		}
	}
	return r.err()
}
