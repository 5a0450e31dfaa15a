//go:build !linux

package bencher

import (
	"net"
	"sync/atomic"
	"time"
)

// kernelClockSupported: kernel receive timestamps are read on Linux only;
// elsewhere chunks are timed by the user-space clock (ClockUser).
const kernelClockSupported = false

// testRefuseTimestamping has nothing to refuse here.
var testRefuseTimestamping atomic.Bool

func stampConn(c net.Conn) net.Conn { return c }

func timestampsOn() bool { return false }

// processCPU is unknown here: ClientLoad.CPUUtilisation is absent.
func processCPU() (time.Duration, bool) { return 0, false }

// threadTimes is unknown here: ClientLoad.CPUWait is absent.
type threadTimes struct{}

func readThreadTimes() (threadTimes, bool) { return threadTimes{}, false }
func (threadTimes) waitSince(threadTimes) (float64, time.Duration, bool) {
	return 0, 0, false
}
