package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

type xidCollector struct {
	gpus    *gpu.Manager
	watcher *gpu.XIDWatcher
	errors  *desc
}

func newXID(d Deps) (Collector, error) {
	wait := d.Config.XIDWait
	if wait <= 0 {
		wait = gpu.DefaultXIDWait
	}
	return &xidCollector{
		gpus:    d.GPUs,
		watcher: gpu.NewXIDWatcher(d.Logger, wait),
		errors: newDesc("xid_errors_total",
			"XID critical errors reported by the driver since the exporter started, by XID code. A series appears with the first event.", "xid"),
	}, nil
}

// Update starts watching NVML events the first time NVML is up, and reports
// the counts so far.
func (c *xidCollector) Update(ch chan<- prometheus.Metric) error {
	s := c.gpus.Session()
	if s == nil {
		return gpu.ErrNVMLDown
	}
	err := c.watcher.Ensure(c.gpus.Library(), s)
	c.watcher.Each(func(k gpu.XIDKey, n uint64) {
		counter(ch, c.errors, float64(n), k.Device, strconv.FormatUint(k.XID, 10))
	})
	return err
}

// Close stops the event-waiting goroutine.
func (c *xidCollector) Close() error { return c.watcher.Close() }
