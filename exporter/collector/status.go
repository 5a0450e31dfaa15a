package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// status reports NVML's state, each GPU's state and identity. It is not a
// switchable collector: without it nothing else can be read.
type status struct {
	gpus      *gpu.Manager
	nvmlUp    *desc
	up, info  *desc
	simulated string
}

func newStatus(m *gpu.Manager) *status {
	sim := "false"
	if m.IsSimulated() {
		sim = "true"
	}
	s := &status{
		gpus: m,
		nvmlUp: newPlainDesc(Namespace+"_nvml_up",
			"Whether NVML is initialised (1) or not (0: no driver or library; retried)."),
		up: newDesc("up", "Whether the GPU can be read (1) or has been lost (0)."),
		info: newDesc("info", "GPU identity; value 1. simulated=\"true\" marks simulated data.",
			"name", "pci_bus_id", "vbios_version", "serial", "board_part_number",
			"driver_version", "cuda_version", "simulated"),
		simulated: sim,
	}
	// A device's identity and its session's driver are fixed: devices are
	// new objects in every NVML session.
	s.info.byDevice = true
	return s
}

func (s *status) update(ch chan<- prometheus.Metric) {
	sess := s.gpus.Session()
	if sess == nil {
		gauge(ch, s.nvmlUp, 0, nil)
		return
	}
	gauge(ch, s.nvmlUp, 1, nil)
	for _, d := range sess.Devices {
		gauge(ch, s.up, boolFloat(!d.Lost()), d)
		gauge(ch, s.info, 1, d, d.Name, d.PCIBusID, d.VBIOS, d.Serial, d.BoardPartNumber,
			sess.DriverVersion, sess.CUDAVersion, s.simulated)
	}
}
