package bencher

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryPolicy is exponential backoff with jitter, deterministic from the
// seed, the request index and the attempt: the wait before retry k (from
// 1) is
//
//	min(max, base·2^(k−1)) · (1 + 0.15·u),  u uniform in [0, 1)
//
// so it is never shorter than the schedule (1 s, 2 s, 4 s, ... for the
// inngest-style profile) and at most 15 % longer. This is the shape of
// Inngest's own exponential backoff with jitter, which stretches each
// doubling wait by up to 15 % (inngest/inngest pkg/backoff/backoff.go,
// ExponentialJitterBackoff: backoff = 2^(n−1); backoff += backoff ·
// 0.15·rand; ×10 s), here with the base and cap as configured.
// (Inngest's default for functions is a fixed table, 15 s, 30 s, 1 min,
// ... plus up to 30 s of jitter, too slow for a benchmark.)
type retryPolicy struct {
	max           int
	base, ceiling time.Duration
	maxRetryAfter time.Duration
	seed          uint64
}

// retryJitter is the largest stretch of a backoff wait, as a share of it.
const retryJitter = 0.15

func newRetryPolicy(cfg *config) retryPolicy {
	return retryPolicy{max: cfg.retries, base: cfg.retryBase, ceiling: cfg.retryMax,
		maxRetryAfter: cfg.maxRetryAfter, seed: cfg.seed}
}

// delay is the wait before retrying after failed attempt number attempt
// (from 1) of request index: the server's Retry-After when it sent one
// (capped), else min(ceiling, base·2^(attempt−1)) stretched by a jitter of
// up to 15 % (see retryPolicy).
func (p *retryPolicy) delay(index, attempt int, res attemptResult) time.Duration {
	if res.hasRetryAfter {
		return min(res.retryAfter, p.maxRetryAfter)
	}
	ceil := p.base
	for i := 1; i < attempt && ceil < p.ceiling; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.ceiling)
	return time.Duration((1 + retryJitter*unitFloat(p.seed, uint64(index), uint64(attempt))) * float64(ceil))
}

// unitFloat hashes its inputs (SplitMix64) into [0, 1).
func unitFloat(seed, a, b uint64) float64 {
	x := seed ^ a*0x9e3779b97f4a7c15 ^ b*0xbf58476d1ce4e5b9
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<30)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// do sends req with retries and fills rec. halt, when closed, stops waiting
// for a retry (the run is stopping); cancelling ctx aborts everything.
func (c *Client) do(ctx context.Context, halt <-chan struct{}, req *Request, rec *Record, start time.Time) {
	st := c.getState()
	defer c.putState(st)
	b, maxTokens, err := c.spec.appendBody(st.scratch[:0], req)
	st.keep(b)
	if err != nil {
		c.fail(rec, ErrInvalidRequest, err.Error())
		rec.End = time.Since(start)
		return
	}
	if ctx.Err() != nil {
		// Stopped before the first attempt: never sent, not a failure.
		rec.Error, rec.ErrorMessage = ErrNotSent, "not sent: the run stopped (interrupted)"
		rec.End = time.Since(start)
		return
	}
	// A copy: the transport may still read a body after the answer came.
	body := newReqBody(bytes.Clone(b))
	for attempt := 1; ; attempt++ {
		rec.Attempts = attempt
		res := c.attempt(ctx, st, body, maxTokens, req, rec, start)
		if rec.OK() || !res.retryable || attempt > c.retries.max {
			return
		}
		d := c.retries.delay(rec.Index, attempt, res)
		c.logger.Debug("bencher: retrying", "index", rec.Index, "attempt", attempt, "error", rec.Error, "wait", d)
		if !c.waitRetry(ctx, halt, rec, d, start) {
			return
		}
	}
}

// waitRetry waits d before a retry. It returns false when the run stops
// meanwhile: on halt the record keeps its last failure; on cancellation it
// is marked ErrCanceled.
func (c *Client) waitRetry(ctx context.Context, halt <-chan struct{}, rec *Record, d time.Duration, start time.Time) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-halt:
		if ctx.Err() == nil {
			return false
		}
	case <-ctx.Done():
	}
	rec.ErrorMessage = c.message("run interrupted while waiting to retry after: " + rec.ErrorMessage)
	rec.Error = ErrCanceled
	rec.End = time.Since(start)
	return false
}
