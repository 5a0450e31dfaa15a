package batchapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults of the retries of an upload and a create (WithSubmitRetries).
const (
	// DefaultSubmitAttempts is the most attempts of one upload or create.
	DefaultSubmitAttempts = 5
	// DefaultSubmitBackoff is the wait before the second attempt when the
	// server gave no Retry-After; it doubles at each attempt, up to
	// maxSubmitBackoff.
	DefaultSubmitBackoff = 500 * time.Millisecond
)

// maxSubmitBackoff bounds the exponential backoff (not a Retry-After).
const maxSubmitBackoff = 30 * time.Second

// WithSubmitRetries sets how an upload (POST /files) and a create (POST
// /batches) answered "not now" are repeated: at most attempts tries in
// all (0: DefaultSubmitAttempts; 1: no retry), waiting for the server's
// Retry-After, or without one backoff (0: DefaultSubmitBackoff) doubled
// at each attempt.
func WithSubmitRetries(attempts int, backoff time.Duration) Option {
	return func(s *settings) { s.attempts, s.backoff = attempts, backoff }
}

// retryable says which answers of a call are repeated: those that say
// the server did not act on it.
type retryable func(*Error) bool

// transportError is a call that got no answer: the connection was
// refused, reset or closed, or the exchange timed out.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// isTransport reports whether err is a call that got no answer.
func isTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// uploadRetryable: a rate limit, an overloaded or unavailable server, or a
// gateway that gave up. A 502 or 504 may hide an upload that succeeded;
// repeating it leaves at worst an unused input file on the server, and so
// does repeating one that got no answer at all (withRetries' transport).
func uploadRetryable(e *Error) bool { return e.Temporary() }

// createRetryable: a rate limit or an unavailable server only (429, 503),
// answers that say the batch was not created. A 502 or 504 comes from a
// gateway that lost its wait for the server, which may have created the
// batch all the same: repeating the create could run the workload twice,
// so it is not repeated.
func createRetryable(e *Error) bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable
}

// withRetries calls call until it succeeds, fails for an answer that
// retry refuses (or for no answer at all, unless transport), or has been
// tried c.attempts times; between tries it waits for the server's
// Retry-After, or the doubling backoff without one. It returns ctx's
// error, wrapped with the last answer, when ctx ends during a wait. The
// error of the last try names the attempts made.
func (c *Client) withRetries(ctx context.Context, retry retryable, transport bool, call func() error) error {
	began := time.Now()
	backoff := c.backoff
	for attempt := 1; ; attempt++ {
		err := call()
		var apiErr *Error
		answered := errors.As(err, &apiErr)
		unanswered := transport && isTransport(err) && ctx.Err() == nil
		switch {
		case err == nil:
			return nil
		case !unanswered && (!answered || !retry(apiErr)):
			if attempt > 1 {
				return fmt.Errorf("%w (attempt %d of %d)", err, attempt, c.attempts)
			}
			return err
		case attempt >= c.attempts:
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts over %s)", err, attempt,
				time.Since(began).Round(time.Millisecond))
		}
		var wait time.Duration
		if answered {
			wait = apiErr.RetryAfter
		}
		if wait <= 0 {
			wait = backoff
			backoff = min(2*backoff, maxSubmitBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting to repeat it after attempt %d of %d: %w)", err, attempt, c.attempts, ctx.Err())
		case <-t.C:
		}
	}
}
