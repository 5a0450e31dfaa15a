package bencher

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Clock sources of a run's stream times (Result.ClockSource).
const (
	// ClockKernel: every content chunk was timed by the kernel's receive
	// timestamp of the read that brought it (Linux, SO_TIMESTAMPING).
	ClockKernel = "kernel"
	// ClockUser: every chunk was timed when the client's goroutine got to
	// it (other systems, a refused socket option, WithKernelTimestamps(false),
	// WithHTTPClient).
	ClockUser = "user"
	// ClockMixed: some chunks were timed each way (some connections
	// refused the option, or some reads carried no timestamp).
	ClockMixed = "mixed"
)

// maxKernelRead caps one read of a timestamped connection. The kernel
// stamps a read with the receive time of the newest segment it returns, so
// a read that spans two token events gives the first the second's time.
// A vLLM token event is 150–300 bytes with its chunk framing; the cap keeps
// most reads within one or two events without a syscall per few bytes.
// (When events queue up behind a starved reader the kernel merges their
// segments into one buffer stamped with the newest arrival, so no read size
// separates them then: see the README's "How accurate is it".)
const maxKernelRead = 512

// maxKernelLag is the longest gap between a kernel receive time and the
// moment a chunk is handled that is believed; more means a step of the
// wall clock, and the chunk is timed by the user-space clock.
const maxKernelLag = time.Minute

// WithKernelTimestamps turns the kernel receive timestamps of stream data
// on (the default, where the system has them) or off. Off, or where the
// socket option is refused, chunks are timed when the client reads them.
// Only the client's own transport has them (not WithHTTPClient).
func WithKernelTimestamps(on bool) Option { return func(c *config) { c.userClock = !on } }

// rxStamper is a connection that knows the kernel receive time of the
// newest data its last read returned.
type rxStamper interface {
	// lastRx returns that time in Unix nanoseconds (CLOCK_REALTIME), or 0
	// when the last read carried none.
	lastRx() int64
}

// rxState is a worker's view of the connection of its current attempt.
type rxState struct {
	conn  rxStamper // nil: user-space clock
	trace *httptrace.ClientTrace
	prev  time.Duration // the attempt's last kernel-timed event
}

// clockCounts counts the chunks timed by each clock, and the read lags.
type clockCounts struct {
	kernel, user atomic.Int64
	lag          lagHistogram
}

// source returns the run's clock source ("" when no stream event was timed).
func (cc *clockCounts) source() string {
	k, u := cc.kernel.Load(), cc.user.Load()
	switch {
	case k > 0 && u == 0:
		return ClockKernel
	case k > 0:
		return ClockMixed
	}
	if u > 0 {
		return ClockUser
	}
	return "" // nothing was streamed
}

// dialer returns the DialContext of the client's transport: d's, with
// kernel receive timestamps turned on where kernel says so.
func dialer(d *net.Dialer, kernel bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !kernel || !kernelClockSupported {
		return d.DialContext
	}
	timestampsOn()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return stampConn(c), nil
	}
}

// traced returns ctx with a trace that tells st which connection carries
// the attempt, when the client has kernel timestamps.
func (c *Client) traced(ctx context.Context, st *state) context.Context {
	st.rx.conn, st.rx.prev = nil, 0
	if !c.kernelClock {
		return ctx
	}
	if st.rx.trace == nil {
		rx := &st.rx
		rx.trace = &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			rx.conn = stamperOf(info.Conn)
		}}
	}
	return httptrace.WithClientTrace(ctx, st.rx.trace)
}

// stamperOf returns the timestamping connection under conn (a TLS
// connection's own), or nil.
func stamperOf(conn net.Conn) rxStamper {
	for range 4 {
		if s, ok := conn.(rxStamper); ok {
			return s
		}
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		conn = u.NetConn()
	}
	return nil
}

// chunkTime is the time of the chunk just decoded, as an offset from start:
// when the kernel received the data of the last read, where known, else
// now. It counts the clock used and the read lag (now minus the kernel's
// time): how late the client handled data the kernel already had.
//
// The kernel's time is CLOCK_REALTIME, the run's base is monotonic: each
// conversion pairs them afresh through time.Now, which reads both clocks
// back to back (tens of nanoseconds apart), so the offset is now's
// monotonic offset minus the lag measured on the wall clock; the times of
// an attempt's events never go back (events of one read share its time, up
// to that pairing's jitter). Only a step
// of the wall clock between the receive and now would be taken in: a
// negative or implausibly long lag (maxKernelLag) falls back to now.
func (c *Client) chunkTime(st *state, start time.Time) time.Duration {
	if c.chunkLate != nil {
		c.chunkLate() // tests: a client late by design
	}
	now := time.Now()
	user := now.Sub(start)
	if st.rx.conn == nil {
		c.clocks.user.Add(1)
		return user
	}
	k := st.rx.conn.lastRx()
	lag := time.Duration(now.UnixNano() - k)
	if k == 0 || lag < 0 || lag > maxKernelLag {
		c.clocks.user.Add(1)
		st.rx.prev = max(user, st.rx.prev)
		return st.rx.prev
	}
	c.clocks.kernel.Add(1)
	c.clocks.lag.add(lag)
	// Events that came in one read share its time, which the two clocks'
	// readings (tens of ns apart) could put out of order.
	st.rx.prev = max(user-lag, st.rx.prev)
	return st.rx.prev
}
