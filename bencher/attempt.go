package bencher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/benchstation/benchstation/bencher/sse"
	"github.com/benchstation/benchstation/internal/secret"
)

// attemptResult says whether a failed attempt may be retried, and when.
type attemptResult struct {
	retryable     bool
	retryAfter    time.Duration
	hasRetryAfter bool
}

// attempt sends body once and fills rec with what it measured. rec.Attempts
// is already the number of this attempt.
func (c *Client) attempt(ctx context.Context, st *state, body *reqBody, maxTokens int, req *Request, rec *Record, start time.Time) attemptResult {
	resetAttempt(rec, maxTokens)
	actx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var idle *idleWatch
	if c.idle > 0 && c.spec.stream {
		actx, idle = watchIdle(actx, c.idle)
		defer idle.stop()
		defer c.timeoutStage(rec, idle, start)
	}
	hreq := c.newHTTPRequest(c.traced(actx, st), body)
	switch sent := time.Since(start); rec.Attempts {
	case 1:
		rec.Sent = sent
	case 2:
		rec.AttemptSent = append(rec.AttemptSent[:0], rec.Sent, sent)
	default:
		rec.AttemptSent = append(rec.AttemptSent, sent)
	}
	resp, err := c.send(hreq)
	if err != nil {
		rec.End = time.Since(start)
		if errors.Is(err, secret.ErrNotAllowed) {
			// A redirect to another origin that a WithHTTPClient client
			// refused: the server's answer, not a connection error.
			if resp != nil {
				rec.HTTPStatus = resp.StatusCode
			}
			c.fail(rec, ErrHTTPStatus, urlCause(err).Error())
			return attemptResult{}
		}
		class := classify(ctx, actx, err)
		c.fail(rec, class, urlCause(err).Error())
		return attemptResult{retryable: class == ErrConnection}
	}
	defer resp.Body.Close()
	rbody := io.Reader(resp.Body)
	if idle != nil {
		idle.touch() // the headers came
		rbody = &idleReader{r: resp.Body, w: idle}
	}
	rec.HTTPStatus = resp.StatusCode
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		drain(st, rbody)
		rec.End = time.Since(start)
		c.fail(rec, ErrHTTPStatus, c.redirectMessage(resp))
		return attemptResult{}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.readErrorAnswer(st, resp, rbody, rec, start)
	}
	if c.spec.stream && !isJSON(resp.Header) {
		c.readStream(ctx, actx, st, rbody, req, rec, start)
	} else {
		c.readJSON(ctx, actx, st, rbody, req, rec, start)
	}
	return attemptResult{retryable: rec.Error == ErrConnection}
}

// resetAttempt clears what a previous attempt measured.
func resetAttempt(rec *Record, maxTokens int) {
	rec.FirstToken, rec.End = 0, 0
	rec.InputTokens, rec.OutputTokens, rec.TokenSource = 0, 0, ""
	rec.HTTPStatus, rec.Error, rec.ErrorMessage, rec.FinishReason, rec.Output = 0, ErrNone, "", "", ""
	rec.TimeoutStage = ""
	switch {
	case rec.ChunkTimes != nil:
		rec.ChunkTimes = rec.ChunkTimes[:0]
	case maxTokens > 0:
		rec.ChunkTimes = make([]time.Duration, 0, min(maxTokens, DefaultMaxChunkTimes))
	}
}

// isJSON reports a JSON answer (to a request that asked for a stream, a
// server that does not stream).
func isJSON(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "application/json")
}

// classify gives the class of a transport or read error. ctx is the run's
// context, actx the attempt's (with the timeout).
func classify(ctx, actx context.Context, err error) ErrorClass {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return ErrCanceled
	case actx != ctx && errors.Is(actx.Err(), context.DeadlineExceeded),
		actx != ctx && errors.Is(context.Cause(actx), errIdleTimeout):
		return ErrTimeout
	case errors.Is(err, sse.ErrMalformed), errors.Is(err, sse.ErrEventTooLarge):
		return ErrInvalidResponse
	case errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	}
	return ErrConnection
}

// fail records a failure, with the message scrubbed of every credential
// (see [Client.message]).
func (c *Client) fail(rec *Record, class ErrorClass, msg string) {
	rec.Error = class
	rec.ErrorMessage = c.message(msg)
}

// message returns msg, which may hold what the server said, scrubbed of
// every credential the client knows and then cut to
// DefaultMaxErrorMessage bytes (scrubbing first, so that no cut leaves a
// credential's start behind).
func (c *Client) message(msg string) string { return clipMessage(c.red.String(msg)) }

// clipMessage cuts msg to DefaultMaxErrorMessage bytes, at a rune's start.
func clipMessage(msg string) string {
	if len(msg) <= DefaultMaxErrorMessage {
		return msg
	}
	cut := DefaultMaxErrorMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// redirectMessage says why a 3xx answer failed: the client follows no
// redirect. It names the other origin of a redirect that leaves the
// target's, since credentials are never sent there, but never the rest of
// the Location, which a hostile server may fill with the echo of a key.
func (c *Client) redirectMessage(resp *http.Response) string {
	loc, err := resp.Location()
	switch {
	case err != nil:
		return fmt.Sprintf("HTTP %s without a usable Location: redirects are not followed", resp.Status)
	case !secret.SameOrigin(loc, c.tmpl.URL):
		return fmt.Sprintf("HTTP %s: a redirect to another origin, %s, not followed: credentials are never sent "+
			"to another origin (point the target at the final server)", resp.Status, secret.Origin(loc))
	}
	return fmt.Sprintf("HTTP %s: a redirect to %s, not followed (point the target at the final URL)",
		resp.Status, DisplayTarget(loc.Path))
}

// readErrorAnswer reads a non-2xx answer: its OpenAI error message, and
// whether and when to retry.
func (c *Client) readErrorAnswer(st *state, resp *http.Response, body io.Reader, rec *Record, start time.Time) attemptResult {
	b, _ := readLimited(st.scratch[:0], body, maxErrorBody)
	st.keep(b)
	rec.End = time.Since(start)
	c.fail(rec, ErrHTTPStatus, errorMessage(b, resp.Status))
	res := attemptResult{retryable: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.retryAfter, res.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

// errorMessage is the OpenAI error of an error body (nested or flat), or
// the status and the body's start.
func errorMessage(body []byte, status string) string {
	body = bytes.TrimSpace(body)
	if ch, err := sse.Parse(body); err == nil && ch.Kind == sse.KindError {
		return ch.Err.Error()
	}
	if len(body) == 0 {
		return "HTTP " + status
	}
	// Whole (at most maxErrorBody): the message is scrubbed, then cut.
	return "HTTP " + status + ": " + string(body)
}

// readLimited appends up to limit bytes of r to dst.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for len(dst) < limit {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// keep retains a grown scratch buffer for reuse, unless it grew very large.
func (st *state) keep(b []byte) {
	if cap(b) <= 1<<20 {
		st.scratch = b[:0]
	}
}

// drain reads what is left of a response (the end of a chunked body) so
// that its connection can be reused.
func drain(st *state, body io.Reader) {
	if cap(st.scratch) < 512 {
		st.scratch = make([]byte, 0, 4096)
	}
	buf := st.scratch[:cap(st.scratch)]
	for range 16 {
		if _, err := body.Read(buf); err != nil {
			return
		}
	}
}
