package stats

import (
	"math"
	"slices"
)

// Option configures [Summarize].
type Option func(*config)

// config holds what the options set.
type config struct {
	slos        []SLO
	percentiles []float64
	concurrency int
	rate        float64
}

// WithSLOs sets the per-request service-level objectives that goodput
// counts against: a request is "good" when it meets every one of them.
// Without SLOs the summary has no goodput section.
func WithSLOs(slos ...SLO) Option {
	return func(c *config) { c.slos = append(c.slos, slos...) }
}

// WithPercentiles asks every distribution for extra percentiles, reported
// in [Distribution.ExtraPercentiles] (the fixed p50, p90, p95 and p99 are
// always there and are not repeated). Values outside [0, 100] and NaN are
// ignored.
func WithPercentiles(ps ...float64) Option {
	return func(c *config) {
		for _, p := range ps {
			if p >= 0 && p <= 100 && !slices.Contains([]float64{P50, P90, P95, P99}, p) &&
				!slices.Contains(c.percentiles, p) {
				c.percentiles = append(c.percentiles, p)
			}
		}
		slices.Sort(c.percentiles)
	}
}

// WithRequestedConcurrency records the concurrency the run asked for (its
// number of closed-loop workers, or its cap), reported beside the achieved
// one. 0, the default, means none was given; negative values count as 0.
func WithRequestedConcurrency(n int) Option {
	return func(c *config) { c.concurrency = max(n, 0) }
}

// WithRequestedRate records the request rate (requests per second) the run
// asked for, reported beside the achieved one. 0, the default, means none
// was given or an unlimited rate; negative, NaN and infinite values count
// as 0, so the summary's JSON stays valid.
func WithRequestedRate(r float64) Option {
	return func(c *config) {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			r = 0
		}
		c.rate = r
	}
}
