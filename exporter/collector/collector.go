// Package collector holds the exporter's collectors in the node_exporter
// style: each metric group is a Collector with one Update method, switched
// on or off by flag, and the Exporter wraps them so that one failing
// collector never fails the scrape.
package collector

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

// SelfNamespace prefixes the exporter's metrics about itself.
const SelfNamespace = "benchstation_exporter"

// Namespace prefixes GPU metrics, so that existing queries for
// nvidia_gpu_temperature_celsius and nvidia_gpu_memory_used_bytes keep working.
const Namespace = "nvidia_gpu"

// Collector is one group of metrics, read at scrape time.
type Collector interface {
	// Update sends the group's current metrics to ch. An error marks the
	// collector failed for this scrape; metrics already sent are kept.
	Update(ch chan<- prometheus.Metric) error
}

// ErrNoData is returned by a collector that has nothing to report this
// scrape and has not failed (for example, no GPU process is running).
var ErrNoData = errors.New("collector returned no data")

// Deps are what collectors are built from.
type Deps struct {
	GPUs   *gpu.Manager
	Logger *slog.Logger
	Config Config
}

// Factory describes a collector that can be switched on by name.
type Factory struct {
	Name           string
	Help           string
	DefaultEnabled bool
	New            func(Deps) (Collector, error)
}

// Factories lists every collector the exporter knows, in exposition order.
func Factories() []Factory {
	return []Factory{
		{"temperature", "GPU and memory temperature", true, newTemperature},
		{"memory", "framebuffer memory used, free, total and reserved", true, newMemory},
		{"utilization", "GPU, memory, encoder and decoder utilisation", true, newUtilization},
		{"power", "power draw, power limits and energy consumed", true, newPower},
		{"clocks", "current and maximum clocks, clock-event (throttle) reasons and performance state", true, newClocks},
		{"fan", "fan speed", true, newFan},
		{"ecc", "ECC errors, remapped rows and PCIe replays", true, newECC},
		{"xid", "XID errors counted from NVML events", true, newXID},
		{"process", "GPU memory per process", true, newProcess},
		{"mig", "MIG mode and memory per MIG device", true, newMIG},
		{"pcie", "PCIe throughput (blocks about 20 ms per GPU)", false, newPCIe},
		{"nvlink", "NVLink state and error counters", false, newNVLink},
		{"batch", "OpenAI-compatible Batch API jobs, polled in the background; on by itself when --batch.endpoint or --batch.config-file is given", false, newBatch},
	}
}

var (
	scrapeDurationDesc = newPlainDesc(SelfNamespace+"_scrape_collector_duration_seconds",
		"Time the collector took for this scrape.", "collector")
	scrapeSuccessDesc = newPlainDesc(SelfNamespace+"_scrape_collector_success",
		"Whether the collector succeeded in this scrape (1) or failed (0).", "collector")
)

// named is a collector with its name.
type named struct {
	name string
	c    Collector

	mu      sync.Mutex
	lastErr string
}

// Exporter runs the enabled collectors at every scrape. It implements
// prometheus.Collector.
type Exporter struct {
	gpus       *gpu.Manager
	status     *status
	collectors []*named
	logger     *slog.Logger
}

var _ prometheus.Collector = (*Exporter)(nil)

// New builds the collectors named in enabled (in Factories order). An
// unknown name is an error.
func New(deps Deps, enabled map[string]bool) (*Exporter, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	known := map[string]bool{}
	e := &Exporter{gpus: deps.GPUs, status: newStatus(deps.GPUs), logger: deps.Logger}
	for _, f := range Factories() {
		known[f.Name] = true
		if !enabled[f.Name] {
			continue
		}
		c, err := f.New(deps)
		if err != nil {
			return nil, errorf("collector %s: %w", f.Name, err)
		}
		e.collectors = append(e.collectors, &named{name: f.Name, c: c})
	}
	for name := range enabled {
		if !known[name] {
			return nil, errorf("unknown collector %q", name)
		}
	}
	return e, nil
}

// DefaultEnabled returns the collectors that are on unless switched off.
func DefaultEnabled() map[string]bool {
	m := map[string]bool{}
	for _, f := range Factories() {
		if f.DefaultEnabled {
			m[f.Name] = true
		}
	}
	return m
}

// Describe sends the descriptors of the exporter's own metrics. The
// collectors' metrics are not described: the set of GPUs is only known at
// scrape time (the node_exporter's choice too).
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc.Desc
	ch <- scrapeSuccessDesc.Desc
}

// Collect initialises NVML if needed, reports its state, and runs every
// enabled collector concurrently.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.gpus.Refresh()
	var wg sync.WaitGroup
	for _, n := range e.collectors {
		wg.Go(func() { e.execute(n, ch) })
	}
	wg.Wait()
	// After the collectors, so that a GPU lost during this scrape is reported down in it.
	e.status.update(ch)
}

func (e *Exporter) execute(n *named, ch chan<- prometheus.Metric) {
	start := time.Now()
	err := n.c.Update(ch)
	gauge(ch, scrapeDurationDesc, time.Since(start).Seconds(), nil, n.name)
	success := 1.0
	if err != nil && !errors.Is(err, ErrNoData) {
		success = 0
	}
	gauge(ch, scrapeSuccessDesc, success, nil, n.name)
	e.logOutcome(n, err)
}

// logOutcome logs a collector's error when it changes, so a persistent
// failure is one line rather than one per scrape.
func (e *Exporter) logOutcome(n *named, err error) {
	msg := ""
	if err != nil && !errors.Is(err, ErrNoData) {
		msg = err.Error()
	}
	if errors.Is(err, gpu.ErrNVMLDown) {
		// The Manager logs that once; ten collectors repeating it is noise.
		e.logger.Debug("collector skipped", "collector", n.name, "err", err)
		return
	}
	n.mu.Lock()
	changed := msg != n.lastErr
	n.lastErr = msg
	n.mu.Unlock()
	switch {
	case changed && msg != "":
		e.logger.Warn("collector failed", "collector", n.name, "err", err)
	case changed:
		e.logger.Info("collector recovered", "collector", n.name)
	case msg != "":
		e.logger.Debug("collector failed", "collector", n.name, "err", err)
	}
}

// Close releases what the collectors hold (goroutines, NVML event sets).
func (e *Exporter) Close() error {
	var errs []error
	for _, n := range e.collectors {
		if c, ok := n.c.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
