package stats

import (
	"fmt"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// Metric names a per-request latency metric (see the package
// documentation for the definitions).
type Metric string

// The latency metrics.
const (
	MetricTTFT       Metric = "ttft"        // FirstToken − Scheduled
	MetricServerTTFT Metric = "server_ttft" // FirstToken − Sent
	MetricQueueDelay Metric = "queue_delay" // Sent − Scheduled
	MetricITL        Metric = "itl"         // gaps between successive content chunks
	MetricTPOT       Metric = "tpot"        // (E2EL − TTFT) / (output tokens − 1)
	MetricE2EL       Metric = "e2el"        // End − Scheduled
)

// Metrics lists the latency metrics in the order the summary reports them.
func Metrics() []Metric {
	return []Metric{MetricTTFT, MetricServerTTFT, MetricQueueDelay, MetricITL, MetricTPOT, MetricE2EL}
}

// SLO is a per-request service-level objective: the request's value of
// Metric must be at most Max. For [MetricITL] the request's largest gap
// between content chunks must be at most Max.
type SLO struct {
	Metric Metric
	Max    time.Duration
}

// String returns the SLO in the form [ParseSLO] reads, e.g. "ttft<=500ms".
func (s SLO) String() string {
	return string(s.Metric) + "<=" + s.Max.String()
}

// ParseSLO reads one per-request SLO, "METRIC<=DURATION", where METRIC is
// one of [Metrics] and DURATION is a Go duration with its unit ("500ms",
// "2s", "1m30s"). Spaces around the parts are allowed.
//
// These are per-request thresholds, used for goodput. Gates on the
// summary's values, such as "ttft_p95<=500ms", are not SLOs of this kind
// and are rejected (see [Summary.Value]).
func ParseSLO(s string) (SLO, error) {
	name, limit, ok := strings.Cut(s, "<=")
	if !ok {
		return SLO{}, fmt.Errorf("stats: SLO %q: want METRIC<=DURATION, e.g. ttft<=500ms", s)
	}
	m := Metric(strings.TrimSpace(name))
	if !isMetric(m) {
		return SLO{}, fmt.Errorf("stats: SLO %q: unknown per-request metric %q (want one of %s)",
			s, m, metricList())
	}
	d, err := time.ParseDuration(strings.TrimSpace(limit))
	if err != nil {
		return SLO{}, fmt.Errorf("stats: SLO %q: %w", s, err)
	}
	if d < 0 {
		return SLO{}, fmt.Errorf("stats: SLO %q: negative threshold", s)
	}
	return SLO{Metric: m, Max: d}, nil
}

// ParseSLOs reads a comma-separated list of SLOs ("ttft<=500ms,tpot<=50ms");
// an empty or blank string gives none.
func ParseSLOs(s string) ([]SLO, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []SLO
	for part := range strings.SplitSeq(s, ",") {
		slo, err := ParseSLO(part)
		if err != nil {
			return nil, err
		}
		out = append(out, slo)
	}
	return out, nil
}

// Met reports whether r meets the SLO. A failed request never meets it.
// Where the metric is undefined for a successful request, a TTFT
// threshold (ttft, server_ttft) is not met (no content came), while a tpot
// or itl threshold is met (one chunk or one token has no gap to miss).
func (s SLO) Met(r *bencher.Record) bool {
	if !r.OK() {
		return false
	}
	switch s.Metric {
	case MetricTTFT, MetricServerTTFT:
		if r.FirstToken == 0 {
			return false
		}
		start := r.Scheduled
		if s.Metric == MetricServerTTFT {
			start = r.LastSent()
		}
		return r.FirstToken-start <= s.Max
	case MetricQueueDelay:
		return r.QueueDelay() <= s.Max
	case MetricITL:
		return maxGap(r.ChunkTimes) <= s.Max
	case MetricTPOT:
		tpot, ok := tpotNS(r)
		return !ok || tpot <= float64(s.Max)
	case MetricE2EL:
		return r.E2E() <= s.Max
	}
	return false
}

// metMany reports whether r meets every SLO of slos.
func metMany(r *bencher.Record, slos []SLO) bool {
	for _, s := range slos {
		if !s.Met(r) {
			return false
		}
	}
	return true
}

// maxGap returns the largest difference between successive times.
func maxGap(times []time.Duration) time.Duration {
	var g time.Duration
	for i := 1; i < len(times); i++ {
		g = max(g, times[i]-times[i-1])
	}
	return g
}

// tpotNS returns the record's TPOT in nanoseconds as a float (not
// truncated to whole nanoseconds, unlike [bencher.Record.TPOT]) and whether
// it is defined.
func tpotNS(r *bencher.Record) (float64, bool) {
	ttft, ok := r.TTFT()
	if !ok || !r.OK() || r.OutputTokens < 2 {
		return 0, false
	}
	return float64(r.E2E()-ttft) / float64(r.OutputTokens-1), true
}

func isMetric(m Metric) bool {
	for _, x := range Metrics() {
		if x == m {
			return true
		}
	}
	return false
}

func metricList() string {
	var names []string
	for _, m := range Metrics() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}
