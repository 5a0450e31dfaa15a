//go:build linux

package bencher

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelClockSupported: Linux has SO_TIMESTAMPING.
const kernelClockSupported = true

// testRefuseTimestamping, when set, makes the socket option fail as a
// kernel without it would: tests check the fallback with it.
var testRefuseTimestamping atomic.Bool

// timestampsOn keeps the kernel's receive timestamping on for the process.
// The kernel stamps packets only while some socket asks for it, and turns
// that on (and off, when the last such socket closes) with a deferred
// work: the first packets of a connection opened when no other socket
// had the option would come without a time. A UDP socket that keeps the
// option, never closed, and a datagram to itself until it comes back
// stamped (at most about 100 ms, once) make every connection's first
// packets stamped.
var timestampsOn = sync.OnceValue(func() bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING,
		unix.SOF_TIMESTAMPING_RX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	}
	var self unix.Sockaddr
	if err == nil {
		self, err = unix.Getsockname(fd)
	}
	if err == nil {
		err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 10_000})
	}
	if err != nil {
		unix.Close(fd)
		return false
	}
	var b [1]byte
	var oob [128]byte
	for range 10 {
		if unix.Sendto(fd, b[:], 0, self) != nil {
			break
		}
		if _, oobn, _, _, err := unix.Recvmsg(fd, b[:], oob[:], 0); err == nil && rxTime(oob[:oobn]) != 0 {
			return true // fd stays open
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true // fd stays open: stamping comes on soon
})

// stampConn returns c reading with kernel receive timestamps, or c itself
// when it is not TCP or the kernel refuses the option.
func stampConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	timestampsOn()
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if testRefuseTimestamping.Load() {
			serr = unix.ENOPROTOOPT
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPING,
			unix.SOF_TIMESTAMPING_RX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE)
	})
	if err != nil || serr != nil {
		return c
	}
	sc := &stampedConn{TCPConn: tc, rc: rc}
	sc.recvFn = sc.recv
	return sc
}

// stampedConn is a TCP connection whose reads use recvmsg and keep the
// kernel's receive time of the data they return (the software receive
// timestamp of the newest segment read, CLOCK_REALTIME).
type stampedConn struct {
	*net.TCPConn
	rc syscall.RawConn

	mu     sync.Mutex // one read at a time; guards what follows
	p      []byte
	n      int
	err    error
	oob    [128]byte
	recvFn func(fd uintptr) bool

	last atomic.Int64 // the last read's receive time, Unix ns; 0: none
}

func (c *stampedConn) lastRx() int64 { return c.last.Load() }

// Read reads at most maxKernelRead bytes and keeps their receive time.
func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p, c.n, c.err = p[:min(len(p), maxKernelRead)], 0, nil
	err := c.rc.Read(c.recvFn)
	c.p = nil
	switch {
	case err != nil:
		return 0, c.opError(err)
	case c.err != nil:
		return 0, c.opError(os.NewSyscallError("recvmsg", c.err))
	case c.n == 0:
		return 0, io.EOF
	}
	return c.n, nil
}

// recv is the RawConn read function: false asks to wait for data.
func (c *stampedConn) recv(fd uintptr) bool {
	n, oobn, _, _, err := unix.Recvmsg(int(fd), c.p, c.oob[:], 0)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return false
	}
	c.n, c.err = max(n, 0), err
	if err == nil {
		raceAcquireIO(int(fd))
	}
	if err == nil && n > 0 {
		// 0 when the read carried no time: its data are timed by the
		// user-space clock, never by an older read's time.
		c.last.Store(rxTime(c.oob[:oobn]))
	}
	return true
}

func (c *stampedConn) opError(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// WriteTo and ReadFrom hide *net.TCPConn's (splice, sendfile): reads must
// go through Read.
func (c *stampedConn) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{c})
}

func (c *stampedConn) ReadFrom(r io.Reader) (int64, error) { return c.TCPConn.ReadFrom(r) }

// rxTime returns the software receive time of an SCM_TIMESTAMPING control
// message in oob, in Unix nanoseconds, or 0.
func rxTime(oob []byte) int64 {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPING &&
			l >= unix.CmsgLen(int(unsafe.Sizeof(unix.ScmTimestamping{}))) {
			var ts unix.ScmTimestamping
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts)), oob[unix.CmsgLen(0):])
			return ts.Ts[0].Nano()
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// processCPU returns the process's CPU time (user and system).
func processCPU() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// threadTimes are the schedstat times of the process's threads: time on a
// CPU and time waiting on a run queue, in ns, by thread id.
// threadTimes holds each thread's schedstat: time on a CPU, time waiting
// on a run queue (ns), and the number of times it ran.
type threadTimes map[int][3]uint64

func readThreadTimes() (threadTimes, bool) {
	dirs, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(dirs) == 0 {
		return nil, false
	}
	tt := make(threadTimes, len(dirs))
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended
		}
		f := bytes.Fields(b)
		if len(f) < 3 {
			continue
		}
		run, err1 := strconv.ParseUint(string(f[0]), 10, 64)
		wait, err2 := strconv.ParseUint(string(f[1]), 10, 64)
		runs, err3 := strconv.ParseUint(string(f[2]), 10, 64)
		tid, err4 := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		tt[tid] = [3]uint64{run, wait, runs}
	}
	return tt, len(tt) > 0
}

// waitSince returns, since old, the fraction of the threads' ready time
// (on a CPU or waiting for one) that they spent waiting, and their mean
// wait each time they became ready to run.
func (tt threadTimes) waitSince(old threadTimes) (share float64, perRun time.Duration, ok bool) {
	var run, wait, runs uint64
	for tid, now := range tt {
		was := old[tid]
		if now[0] < was[0] || now[1] < was[1] || now[2] < was[2] {
			continue // a reused thread id
		}
		run += now[0] - was[0]
		wait += now[1] - was[1]
		runs += now[2] - was[2]
	}
	if run+wait == 0 || runs == 0 {
		return 0, 0, false
	}
	return round3(float64(wait) / float64(run+wait)), time.Duration(wait / runs), true
}
