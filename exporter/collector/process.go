package collector

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type processCollector struct {
	gpus   *gpu.Manager
	max    int
	name   func(pid uint32) string
	memory *desc
	count  *desc

	mu    sync.Mutex
	names map[uint32]string // pid -> name, for the pids seen last scrape
}

func newProcess(d Deps) (Collector, error) {
	c := &processCollector{
		gpus: d.GPUs,
		max:  d.Config.MaxProcessesPerGPU,
		memory: newDesc("process_memory_used_bytes",
			"GPU memory used by a process, in bytes. Only the processes using the most memory on each GPU are listed (see --collector.process.max-per-gpu); pid is the host PID.",
			"pid", "process_name"),
		count: newDesc("processes", "Number of processes running on the GPU (compute and graphics)."),
		names: map[uint32]string{},
	}
	if c.max <= 0 {
		c.max = DefaultMaxProcessesPerGPU
	}
	c.name = d.Config.ProcessName
	if c.name == nil {
		proc := cmp.Or(d.Config.ProcPath, DefaultProcPath)
		c.name = func(pid uint32) string { return procComm(proc, pid) }
	}
	return c, nil
}

type gpuProcess struct {
	pid    uint32
	memory uint64
}

func (c *processCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	seen := map[uint32]string{}
	for _, d := range devs {
		procs, ok := c.list(&r, d)
		if !ok {
			continue
		}
		gauge(ch, c.count, float64(len(procs)), d)
		slices.SortFunc(procs, func(a, b gpuProcess) int { return cmp.Compare(b.memory, a.memory) })
		for _, p := range procs[:min(len(procs), c.max)] {
			name := c.lookup(p.pid)
			seen[p.pid] = name
			gauge(ch, c.memory, float64(p.memory), d, strconv.FormatUint(uint64(p.pid), 10), name)
		}
	}
	c.mu.Lock()
	c.names = seen // forget processes that ended
	c.mu.Unlock()
	return r.err()
}

// list merges compute and graphics processes; a process in both lists
// (nvidia-smi's "C+G") is counted once.
func (c *processCollector) list(r *readings, d *gpu.Device) ([]gpuProcess, bool) {
	var all []nvml.ProcessInfo
	any := false
	for _, src := range []struct {
		f    gpu.Field
		read func() ([]nvml.ProcessInfo, nvml.Return)
	}{{gpu.FieldComputeProcesses, d.Handle.GetComputeRunningProcesses}, {gpu.FieldGraphicsProcesses, d.Handle.GetGraphicsRunningProcesses}} {
		if !readable(d, src.f) {
			continue
		}
		ps, ret := src.read()
		if r.ok(d, src.f, ret) {
			any = true
			all = append(all, ps...)
		}
	}
	byPID := map[uint32]uint64{}
	for _, p := range all {
		if p.UsedGpuMemory == ^uint64(0) { // not available (no permission, WDDM)
			continue
		}
		byPID[p.Pid] = max(byPID[p.Pid], p.UsedGpuMemory)
	}
	out := make([]gpuProcess, 0, len(byPID))
	for pid, mem := range byPID {
		out = append(out, gpuProcess{pid, mem})
	}
	return out, any
}

func (c *processCollector) lookup(pid uint32) string {
	c.mu.Lock()
	name, ok := c.names[pid]
	c.mu.Unlock()
	if !ok {
		name = c.name(pid)
	}
	return name
}

// procComm reads a process's command name from procfs; a process the
// exporter cannot see (another PID namespace, no /proc mount) is "unknown".
func procComm(proc string, pid uint32) string {
	b, err := os.ReadFile(filepath.Join(proc, strconv.FormatUint(uint64(pid), 10), "comm"))
	if err != nil {
		return "unknown"
	}
	return string(bytes.TrimSpace(b))
}
