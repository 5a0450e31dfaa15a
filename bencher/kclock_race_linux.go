//go:build linux && race

package bencher

import "syscall"

// raceAcquireIO gives the race detector the ordering that syscall.Read
// gives it (what a peer wrote to a descriptor happens before what is read
// from it), which recvmsg lacks: a read of no bytes returns at once and
// consumes nothing.
func raceAcquireIO(fd int) { _, _ = syscall.Read(fd, nil) }
