package collector

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type eccCollector struct {
	gpus                              *gpu.Manager
	errors, remapped, pending, failed *desc
	replays                           *desc
}

func newECC(d Deps) (Collector, error) {
	return &eccCollector{
		gpus: d.GPUs,
		errors: newDesc("ecc_errors_total",
			"ECC memory errors since the driver was loaded (volatile counters), by type: corrected or uncorrected.", "type"),
		remapped: newDesc("remapped_rows", "Memory rows remapped over the GPU's life, by the cause: correctable or uncorrectable errors.", "cause"),
		pending:  newDesc("remapped_rows_pending", "Whether a row remapping is pending until the GPU is reset (1) or not (0)."),
		failed:   newDesc("remapped_rows_failed", "Whether a row remapping has failed (1) or not (0); the GPU needs attention."),
		replays:  newDesc("pcie_replay_errors_total", "PCIe replay errors (link-level retransmissions) since the driver was loaded."),
	}, nil
}

func (c *eccCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if readable(d, gpu.FieldECCErrors) {
			c.ecc(ch, &r, d)
		}
		if readable(d, gpu.FieldRemappedRows) {
			corr, unc, pending, failed, ret := d.Handle.GetRemappedRows()
			if r.ok(d, gpu.FieldRemappedRows, ret) {
				gauge(ch, c.remapped, float64(corr), d, "correctable")
				gauge(ch, c.remapped, float64(unc), d, "uncorrectable")
				gauge(ch, c.pending, boolFloat(pending), d)
				gauge(ch, c.failed, boolFloat(failed), d)
			}
		}
		if readable(d, gpu.FieldPCIeReplay) {
			n, ret := d.Handle.GetPcieReplayCounter()
			if r.ok(d, gpu.FieldPCIeReplay, ret) && n >= 0 {
				counter(ch, c.replays, float64(n), d)
			}
		}
	}
	return r.err()
}

func (c *eccCollector) ecc(ch chan<- prometheus.Metric, r *readings, d *gpu.Device) {
	corr, ret := d.Handle.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC)
	if !r.ok(d, gpu.FieldECCErrors, ret) {
		return
	}
	unc, ret := d.Handle.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
	if !r.ok(d, gpu.FieldECCErrors, ret) {
		return
	}
	counter(ch, c.errors, float64(corr), d, "corrected")
	counter(ch, c.errors, float64(unc), d, "uncorrected")
}
