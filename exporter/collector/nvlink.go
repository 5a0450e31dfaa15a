package collector

import (
	"strconv"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/exporter/gpu"
)

var nvlinkErrorCounters = []struct {
	name    string
	counter nvml.NvLinkErrorCounter
}{
	{"replay", nvml.NVLINK_ERROR_DL_REPLAY},
	{"recovery", nvml.NVLINK_ERROR_DL_RECOVERY},
	{"crc_flit", nvml.NVLINK_ERROR_DL_CRC_FLIT},
	{"crc_data", nvml.NVLINK_ERROR_DL_CRC_DATA},
}

type nvlinkCollector struct {
	gpus   *gpu.Manager
	up     *desc
	errors *desc

	mu    sync.Mutex
	links map[*gpu.Device]int // links found on each device, learnt once
}

func newNVLink(d Deps) (Collector, error) {
	return &nvlinkCollector{
		gpus:   d.GPUs,
		up:     newDesc("nvlink_up", "Whether the NVLink link is active (1) or not (0).", "link"),
		errors: newDesc("nvlink_errors_total", "NVLink data-link errors, by type.", "link", "type"),
		links:  map[*gpu.Device]int{},
	}, nil
}

func (c *nvlinkCollector) Update(ch chan<- prometheus.Metric) error {
	devs, err := healthy(c.gpus)
	if err != nil {
		return err
	}
	var r readings
	for _, d := range devs {
		if !readable(d, gpu.FieldNVLinkState) {
			continue
		}
		for link := range c.linkCount(d) {
			state, ret := d.Handle.GetNvLinkState(link)
			if !r.ok(d, gpu.FieldNVLinkState, ret) {
				break
			}
			l := strconv.Itoa(link)
			gauge(ch, c.up, boolFloat(state == nvml.FEATURE_ENABLED), d, l)
			if !readable(d, gpu.FieldNVLinkErrors) {
				continue
			}
			for _, e := range nvlinkErrorCounters {
				n, ret := d.Handle.GetNvLinkErrorCounter(link, e.counter)
				if r.ok(d, gpu.FieldNVLinkErrors, ret) {
					counter(ch, c.errors, float64(n), d, l, e.name)
				}
			}
		}
	}
	return r.err()
}

// linkCount finds how many links d has: NVML answers NOT_SUPPORTED or
// INVALID_ARGUMENT past the last one.
func (c *nvlinkCollector) linkCount(d *gpu.Device) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.links[d]; ok {
		return n
	}
	n := 0
	for ; n < nvml.NVLINK_MAX_LINKS; n++ {
		if _, ret := d.Handle.GetNvLinkState(n); ret != nvml.SUCCESS {
			break
		}
	}
	c.links[d] = n
	return n
}
