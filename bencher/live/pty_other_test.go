//go:build !linux

package live

import (
	"os"
	"testing"
)

// openPTY is implemented on Linux only.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	t.Log("no pseudo-terminal test on this system")
	return nil
}
