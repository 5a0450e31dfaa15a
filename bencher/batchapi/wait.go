package batchapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultPoll is the longest interval between two reads of a batch's
// status when none is given.
const DefaultPoll = time.Second

// MinPoll is the shortest interval between two reads of a batch's status.
const MinPoll = 50 * time.Millisecond

// pollFraction sets the interval between polls to this fraction of the
// time waited so far (between MinPoll and the longest interval): a job
// seen ending is timed to within about 5 % of its length, or the longest
// interval, without polling a long job more often than that.
const pollFraction = 20

// pollInterval is the interval before the next poll, waited elapsed so far,
// longest at most.
func pollInterval(elapsed, longest time.Duration) time.Duration {
	return min(max(elapsed/pollFraction, min(MinPoll, longest)), longest)
}

// maxPollFailures is the number of polls in a row that may fail for a
// transport error (a reset, a refused connection) before Wait gives up.
const maxPollFailures = 5

// Wait polls a batch until its status is terminal (see Terminal) or ctx ends, calling seen, when not nil, with
// every object read. Polls come often at first and then further apart, a
// twentieth of the time waited so far, from MinPoll to interval (0:
// DefaultPoll) at most. An answer that asks to wait (429, 502, 503, 504) is
// waited out: for its Retry-After when that is longer. It
// returns the last object read, and ctx's error when it ended first.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration, seen func(Batch)) (Batch, error) {
	if interval <= 0 {
		interval = DefaultPoll
	}
	var last Batch
	failures := 0
	began := time.Now()
	for {
		b, err := c.GetBatch(ctx, id)
		wait := pollInterval(time.Since(began), interval)
		var apiErr *Error
		switch {
		case err == nil:
			failures = 0
			last = b
			if seen != nil {
				seen(b)
			}
			if Terminal(b.Status) {
				return b, nil
			}
		case ctx.Err() != nil:
			return last, ctx.Err()
		case errors.As(err, &apiErr) && apiErr.Temporary():
			wait = max(wait, apiErr.RetryAfter)
		case errors.As(err, &apiErr):
			return last, err
		default:
			if failures++; failures >= maxPollFailures {
				return last, fmt.Errorf("%w (%d polls in a row failed)", err, failures)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
	}
}
