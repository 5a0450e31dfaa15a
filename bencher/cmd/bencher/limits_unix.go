//go:build unix

package main

import (
	"math"
	"syscall"
)

// openFileLimit returns the process's soft limit of open files (Go raises
// it to the hard limit at start-up).
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > math.MaxInt32 {
		return maxConcurrencyCap + reservedFiles
	}
	return int(l.Cur)
}
