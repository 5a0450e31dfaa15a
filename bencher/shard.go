package bencher

import (
	"context"
	"fmt"
	"time"
)

// Shard says which part of a sharded run a runner sent (see WithShard).
type Shard struct {
	// Index is the shard's number, from 0; Count the number of shards.
	Index int `json:"index"`
	Count int `json:"count"`
	// Concurrency is this shard's part of the run's concurrency (its
	// workers, or its cap on requests in flight; 0: no cap).
	Concurrency int `json:"concurrency"`
	// Requests is this shard's part of the run's requests (0: until the
	// duration is over).
	Requests int `json:"requests"`
}

// Owns reports whether schedule index i belongs to the shard: request i
// goes to shard i mod Count.
func (s Shard) Owns(i int) bool { return i%s.Count == s.Index }

// ShareOf returns shard index's part of n things dealt round-robin over
// count shards: the number of i in [0, n) with i mod count = index. The
// parts of all shards add up to n and differ by at most one (50 over 4:
// 13, 13, 12, 12).
func ShareOf(n, index, count int) int {
	if count <= 1 {
		return n
	}
	share := n / count
	if index < n%count {
		share++
	}
	return share
}

// WithShard makes the runner send shard index (from 0) of a run that count
// runners send together, each with the same options and the same seed:
// every shard computes the whole run's schedule (the same requests and,
// for an open loop, the same arrival times) and sends request i only when
// i mod count = index, so that the shards together send exactly the
// requests, at exactly the times, of one unsharded run. The requests
// (WithRequests, or the workload's length) are the run's total; the
// concurrency (the closed loop's workers, or the open loop's cap) is
// divided over the shards (ShareOf: 50 over 4 gives 13, 13, 12, 12); the
// rate stays the run's, and each shard sends its 1/count of the arrivals.
// Records keep the run's schedule indices. Use WithStartAt to start the
// shards at one instant. Shard 0 of 1 sends the whole run, as a shard
// (its result says so, and merges alone); count 0 is an unsharded run.
func WithShard(index, count int) Option {
	return func(c *config) { c.shard, c.shards = index, count }
}

// WithStartAt starts the run's clock at the wall-clock instant t rather
// than when Run is called: Run prepares (detects the model, opens the
// connections), measures the target's clock against this host's (see
// Result.ClockOffset) while it waits, and its schedule's offsets count
// from t. Runs on several hosts given the same t and WithShard start
// together, as far as their clocks agree. An instant already past starts
// the run at once, with its clock still at t: an open loop is then behind
// its schedule, and sends the overdue requests first (their lateness is in
// their latencies). A zero t starts at once (the default).
func WithStartAt(t time.Time) Option { return func(c *config) { c.startAt = t } }

// validateShard checks the shard options.
func validateShard(c *config) []error {
	if c.shards == 0 && c.shard == 0 {
		return nil
	}
	var errs []error
	switch {
	case c.shards < 1:
		errs = append(errs, fmt.Errorf("shard count %d must be >= 1", c.shards))
	case c.shard < 0 || c.shard >= c.shards:
		errs = append(errs, fmt.Errorf("shard %d/%d: the index must be from 0 to %d", c.shard, c.shards, c.shards-1))
	default:
		if c.rate == 0 && c.concurrency < c.shards {
			errs = append(errs, fmt.Errorf("concurrency %d over %d shards leaves a shard without a worker: want a concurrency of at least %d",
				c.concurrency, c.shards, c.shards))
		}
		if c.rate > 0 && c.concurrency > 0 && c.concurrency < c.shards {
			errs = append(errs, fmt.Errorf("a cap of %d requests in flight over %d shards leaves a shard without a slot: want 0 (no cap) or at least %d",
				c.concurrency, c.shards, c.shards))
		}
		if c.requests > 0 && c.requests < c.shards {
			errs = append(errs, fmt.Errorf("%d requests over %d shards leaves a shard without a request: want at least %d",
				c.requests, c.shards, c.shards))
		}
	}
	return errs
}

// sharded reports whether the run is a shard (of one or more).
func (c *config) sharded() bool { return c.shards > 0 }

// shardOf returns the shard of a run of total requests (0: unbounded),
// the whole run when unsharded.
func (c *config) shardOf(total int) Shard {
	n := max(c.shards, 1)
	return Shard{Index: c.shard, Count: n, Concurrency: ShareOf(c.concurrency, c.shard, n), Requests: ShareOf(total, c.shard, n)}
}

// resultShard is Result.Shard of a run of total requests: nil unsharded.
func (c *config) resultShard(total int) *Shard {
	if !c.sharded() {
		return nil
	}
	sh := c.shardOf(total)
	return &sh
}

// waitUntil waits until the wall-clock instant t, or until ctx ends; it
// returns ctx's error then.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startAt returns the run's start: t, with a monotonic reading that
// matches it, so that offsets measured from it (time.Since) count from t
// on this host's clock even when t is past.
func startAt(t time.Time) time.Time {
	now := time.Now()
	return now.Add(t.Sub(now))
}
