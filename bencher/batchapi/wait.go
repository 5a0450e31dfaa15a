package batchapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultPoll is the interval between two reads of a batch's status when
// none is given.
const DefaultPoll = time.Second

// maxPollFailures is the number of polls in a row that may fail for a
// transport error (a reset, a refused connection) before Wait gives up.
const maxPollFailures = 5

// Wait polls a batch every interval (0: DefaultPoll) until its status is
// terminal (see Terminal) or ctx ends, calling seen, when not nil, with
// every object read. An answer that asks to wait (429, 502, 503, 504) is
// waited out: for its Retry-After when it is longer than interval. It
// returns the last object read, and ctx's error when it ended first.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration, seen func(Batch)) (Batch, error) {
	if interval <= 0 {
		interval = DefaultPoll
	}
	var last Batch
	failures := 0
	for {
		b, err := c.GetBatch(ctx, id)
		wait := interval
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
