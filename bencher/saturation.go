package bencher

import (
	"math"
	"math/bits"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// The saturation rule: a run is client_saturated when any of these
// figures of the client's own lateness is over its limit. Each is a delay
// that goes straight into the latencies measured, or a sign that the
// client had no CPU to spare.
const (
	// SaturatedReadLagP99: stream data waited this long in the kernel
	// before the client handled it (p99; kernel clock only). An idle
	// 2-vCPU VM read 0.46-3.15 ms over eight runs (a CPU woken from idle
	// is slow to run the reader), so 2 ms flagged idle machines.
	SaturatedReadLagP99 = 5 * time.Millisecond
	// SaturatedSchedLatencyP99: runnable goroutines waited this long for a
	// thread (p99 of Go's /sched/latencies:seconds over the run; the same
	// idle VM read 0.39-1.57 ms).
	SaturatedSchedLatencyP99 = 5 * time.Millisecond
	// SaturatedPacerLatenessP99: the open-loop scheduler woke this late.
	SaturatedPacerLatenessP99 = 5 * time.Millisecond
	// SaturatedCPUWaitPerRun: each time one of the client's threads
	// became ready to run, it waited this long on average for a CPU on the
	// kernel's run queue (Linux). It is the delay a wake-up adds to what
	// the client measures. (The share of the ready time spent waiting,
	// ClientLoad.CPUWait, is no verdict: an idle client that runs in
	// bursts of tens of microseconds shows a large share for waits of the
	// same size: 0.35-0.47 for runs on an idle 2-vCPU VM, whose waits
	// per run were 0.035-0.08 ms.)
	SaturatedCPUWaitPerRun = 500 * time.Microsecond
	// SaturatedCPUUtilisation: the client used this fraction of the CPUs it
	// may use (GOMAXPROCS).
	SaturatedCPUUtilisation = 0.9
)

// The reasons of ClientLoad.Reasons.
const (
	ReasonReadLag        = "read_lag"
	ReasonSchedLatency   = "sched_latency"
	ReasonPacerLateness  = "pacer_lateness"
	ReasonCPUWait        = "cpu_wait"
	ReasonCPUUtilisation = "cpu_utilisation"
)

// ClientLoad is how late the client itself was during a run, and whether
// that makes it the bottleneck: when Saturated, the latencies include the
// client's own delays and say more about the client's machine than about
// the server. Figures that could not be measured are absent.
type ClientLoad struct {
	// Saturated is true when any figure is past its limit (the
	// Saturated* constants); Reasons names those figures.
	Saturated bool     `json:"saturated"`
	Reasons   []string `json:"reasons,omitempty"`
	// ReadLagP50Ms and ReadLagP99Ms: how long stream data had been in the
	// kernel when the client handled it (kernel clock only).
	ReadLagP50Ms *float64 `json:"read_lag_p50_ms,omitempty"`
	ReadLagP99Ms *float64 `json:"read_lag_p99_ms,omitempty"`
	// SchedLatencyP99Ms is the p99 of the Go scheduler's latency (a
	// runnable goroutine's wait for a thread) over the run.
	SchedLatencyP99Ms *float64 `json:"sched_latency_p99_ms,omitempty"`
	// PacerLatenessP99Ms is the open-loop scheduler's lateness p99.
	PacerLatenessP99Ms *float64 `json:"pacer_lateness_p99_ms,omitempty"`
	// CPUWait is the fraction of the time the client's threads were ready
	// to run that they waited for a CPU (Linux: /proc/self/task/*/schedstat).
	CPUWait *float64 `json:"cpu_wait,omitempty"`
	// CPUWaitPerRunMs is their mean wait for a CPU each time they became
	// ready to run (schedstat's run-queue time over its count of runs).
	CPUWaitPerRunMs *float64 `json:"cpu_wait_per_run_ms,omitempty"`
	// CPUUtilisation is the process's CPU time over the run's length times
	// GOMAXPROCS (capped by the number of CPUs).
	CPUUtilisation *float64 `json:"cpu_utilisation,omitempty"`
}

// loadProbe takes the readings at a run's start that ClientLoad compares
// with those at its end.
type loadProbe struct {
	start time.Time
	sched metrics.Float64Histogram
	cpu   time.Duration
	cpuOK bool
	ts    threadTimes
	tsOK  bool
}

const schedMetric = "/sched/latencies:seconds"

func startLoadProbe() *loadProbe {
	p := &loadProbe{start: time.Now()}
	p.sched = readSched()
	p.cpu, p.cpuOK = processCPU()
	p.ts, p.tsOK = readThreadTimes()
	return p
}

func readSched() metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return metrics.Float64Histogram{}
	}
	h := s[0].Value.Float64Histogram()
	return metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
}

// finish measures the run's figures. lag is the client's read lags,
// lateness the open-loop scheduler's (nil for a closed loop).
func (p *loadProbe) finish(lag *lagHistogram, lateness *Lateness) *ClientLoad {
	wall := time.Since(p.start)
	cl := &ClientLoad{}
	if lag.count() > 0 {
		cl.ReadLagP50Ms, cl.ReadLagP99Ms = ms(lag.quantile(0.5)), ms(lag.quantile(0.99))
	}
	if q, ok := schedQuantile(p.sched, readSched(), 0.99); ok {
		cl.SchedLatencyP99Ms = ms(q)
	}
	if lateness != nil && lateness.Samples > 0 {
		cl.PacerLatenessP99Ms = ms(lateness.P99)
	}
	if p.tsOK {
		if end, ok := readThreadTimes(); ok {
			if f, perRun, ok := end.waitSince(p.ts); ok {
				cl.CPUWait, cl.CPUWaitPerRunMs = &f, ms(perRun)
			}
		}
	}
	if cpu, ok := processCPU(); ok && p.cpuOK && wall > 0 {
		procs := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
		u := round3(float64(cpu-p.cpu) / float64(wall) / float64(procs))
		cl.CPUUtilisation = &u
	}
	cl.judge()
	return cl
}

// judge sets Saturated and Reasons from the figures.
func (cl *ClientLoad) judge() {
	over := func(v *float64, limit float64, reason string) {
		if v != nil && *v > limit {
			cl.Reasons = append(cl.Reasons, reason)
		}
	}
	cl.Reasons = cl.Reasons[:0]
	over(cl.ReadLagP99Ms, msf(SaturatedReadLagP99), ReasonReadLag)
	over(cl.SchedLatencyP99Ms, msf(SaturatedSchedLatencyP99), ReasonSchedLatency)
	over(cl.PacerLatenessP99Ms, msf(SaturatedPacerLatenessP99), ReasonPacerLateness)
	over(cl.CPUWaitPerRunMs, msf(SaturatedCPUWaitPerRun), ReasonCPUWait)
	over(cl.CPUUtilisation, SaturatedCPUUtilisation, ReasonCPUUtilisation)
	cl.Saturated = len(cl.Reasons) > 0
	if !cl.Saturated {
		cl.Reasons = nil
	}
}

func msf(d time.Duration) float64 { return float64(d) / 1e6 }

func ms(d time.Duration) *float64 {
	v := round3(msf(d))
	return &v
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// schedQuantile is the q-quantile of the scheduler latencies recorded
// between two readings of the histogram: the upper bound of its bucket.
func schedQuantile(a, b metrics.Float64Histogram, q float64) (time.Duration, bool) {
	if len(a.Counts) != len(b.Counts) || len(b.Buckets) != len(b.Counts)+1 {
		return 0, false
	}
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range b.Counts {
		if seen += b.Counts[i] - a.Counts[i]; seen >= rank {
			up := b.Buckets[i+1]
			if math.IsInf(up, 1) {
				up = b.Buckets[i]
			}
			return time.Duration(up * 1e9), true
		}
	}
	return 0, false
}

// lagHistogram counts durations in buckets of a quarter of a power of two
// (25 % wide at most), without locks.
type lagHistogram struct {
	n       atomic.Int64
	buckets [65 * 4]atomic.Int64
}

func lagBucket(d time.Duration) int {
	v := uint64(max(d, 0))
	b := bits.Len64(v)
	if b < 3 {
		return int(v)
	}
	return b*4 + int(v>>(b-3))&3
}

// lagUpper is the largest duration of bucket i.
func lagUpper(i int) time.Duration {
	if i < 12 {
		return time.Duration(min(i, 3))
	}
	b, sub := i/4, uint64(i%4)
	lo := uint64(1)<<(b-1) | sub<<(b-3)
	return time.Duration(lo + 1<<(b-3) - 1)
}

func (h *lagHistogram) add(d time.Duration) {
	h.n.Add(1)
	h.buckets[lagBucket(d)].Add(1)
}

func (h *lagHistogram) count() int64 { return h.n.Load() }

// quantile is the upper bound of the bucket of the q-quantile.
func (h *lagHistogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= rank && seen > 0 {
			return lagUpper(i)
		}
	}
	return 0
}

// finishLoad records the run's clock source and client load in res, and
// warns when the client was saturated.
func (c *Client) finishLoad(p *loadProbe, res *Result) {
	res.ClockSource = c.clocks.source()
	res.Client = p.finish(&c.clocks.lag, res.Lateness)
	if cl := res.Client; cl.Saturated {
		c.logger.Warn("bencher: the client was saturated: its own delays are in the latencies measured",
			"reasons", cl.Reasons)
	}
}
