//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package live

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal (and TERM is not "dumb"), so
// that the progress line is drawn only for a person watching, never into a
// pipe, a file or a CI log.
func IsTerminal(f *os.File) bool {
	if f == nil || os.Getenv("TERM") == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}
