package stats

import (
	"slices"
	"time"
)

// concurrency computes the achieved concurrency of the collected records
// beside the requested one. The means are exact: the integral of the
// number in flight over the window is the sum of the intervals' lengths.
// It sorts the collected interval bounds.
func concurrency(c *collected, requested int) Concurrency {
	out := Concurrency{Requested: requested}
	if c.requests == 0 {
		return out
	}
	window := c.end - c.start
	if window > 0 {
		out.ClientMean = float64(c.clientBusy) / float64(window)
		out.ServerMean = float64(c.serverBusy) / float64(window)
	}
	slices.Sort(c.endings)
	slices.Sort(c.scheduled)
	slices.Sort(c.sent)
	out.ClientMax = maxInFlight(c.scheduled, c.endings)
	out.ServerMax = maxInFlight(c.sent, c.endings)
	return out
}

// maxInFlight returns the largest number of half-open intervals
// [starts[i], ends[i]) that overlap at one instant, given both bounds
// sorted ascending, where every interval has end >= start. Where an
// interval ends as another starts, they do not overlap; an empty interval
// never counts.
func maxInFlight(starts, ends []time.Duration) int {
	best, cur, j := 0, 0, 0
	for _, s := range starts {
		for j < len(ends) && ends[j] <= s {
			cur--
			j++
		}
		cur++
		best = max(best, cur)
	}
	return best
}

// achievedRate returns (n − 1) / (span of the scheduled times) in requests
// per second, or 0 for fewer than two requests or a zero span.
func achievedRate(c *collected) float64 {
	span := c.lastScheduled - c.start
	if c.requests < 2 || span <= 0 {
		return 0
	}
	return float64(c.requests-1) / span.Seconds()
}
