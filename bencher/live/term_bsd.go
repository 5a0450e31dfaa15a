//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package live

import "golang.org/x/sys/unix"

const ioctlReadTermios = unix.TIOCGETA
