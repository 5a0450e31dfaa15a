package bencher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// errIdleTimeout is the cause of an attempt cancelled by its idle timeout.
var errIdleTimeout = errors.New("idle timeout")

// idleWatch cancels an attempt when no byte came for its idle timeout: a
// timer that every read which returns bytes pushes back.
type idleWatch struct {
	d      time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	fired  atomic.Bool
}

// watchIdle returns a context that is cancelled (cause errIdleTimeout) d
// after the last touch, the first being now.
func watchIdle(ctx context.Context, d time.Duration) (context.Context, *idleWatch) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &idleWatch{d: d, cancel: cancel}
	w.timer = time.AfterFunc(d, func() {
		w.fired.Store(true)
		cancel(errIdleTimeout)
	})
	return ctx, w
}

// touch says a byte came: the idle time starts again.
func (w *idleWatch) touch() {
	if !w.fired.Load() {
		w.timer.Reset(w.d)
	}
}

// stop ends the watch and releases its context.
func (w *idleWatch) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// idleReader touches its watch on every read that returns bytes.
type idleReader struct {
	r io.Reader
	w *idleWatch
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.touch()
	}
	return n, err
}

// timeoutStage sets the stage of a streamed attempt's timeout, and says so
// in the message of one that its idle timeout ended. A timed-out attempt
// ends when the client gave up on it (not with the last byte it read).
func (c *Client) timeoutStage(rec *Record, w *idleWatch, start time.Time) {
	if rec.Error != ErrTimeout {
		rec.TimeoutStage = ""
		return
	}
	rec.End = max(rec.End, time.Since(start))
	stage, what := StageFirstToken, "before the first token"
	if rec.FirstToken != 0 {
		stage, what = StageBetweenTokens, "between tokens"
	}
	rec.TimeoutStage = stage
	if w.fired.Load() {
		rec.ErrorMessage = fmt.Sprintf("idle timeout: no byte for %v %s", w.d, what)
	}
}
