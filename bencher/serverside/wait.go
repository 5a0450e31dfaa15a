package serverside

import (
	"context"
	"time"
)

// waitScraped waits until Prometheus holds a sample taken after end of
// every group of series (GPUs, vLLM) it has, so that every scrape of the
// window is stored: at most c.wait, and not at all for a group without
// series. Only Prometheus's errors and ctx end it early with an error.
func (c *Client) waitScraped(ctx context.Context, end time.Time) error {
	if c.wait <= 0 {
		return nil
	}
	deadline := time.NewTimer(c.wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	began := time.Now()
	for {
		done, err := c.scrapedPast(ctx, end)
		if err != nil {
			return err
		}
		if done {
			c.log.Debug("Prometheus has scraped past the run's end", "waited", time.Since(began).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			c.log.Warn("Prometheus has not scraped past the run's end yet; the last seconds of the run may be missing",
				"waited", c.wait, "prometheus", c.source)
			return nil
		case <-tick.C:
		}
	}
}

// scrapedPast says whether the latest sample of every group of series is
// later than end.
func (c *Client) scrapedPast(ctx context.Context, end time.Time) (bool, error) {
	for _, expr := range c.sel.probes() {
		latest, ok, err := c.instant(ctx, expr, time.Time{})
		if err != nil {
			return false, err
		}
		if ok && latest <= float64(end.UnixNano())/1e9 {
			return false, nil
		}
	}
	return true, nil
}
