package live

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, IsTerminal(w), "a pipe")
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, IsTerminal(f), "a file")
	assert.False(t, IsTerminal(devNull(t)), "/dev/null is a character device, not a terminal")
	assert.False(t, IsTerminal(nil))
	if pty := openPTY(t); pty != nil {
		assert.True(t, IsTerminal(pty), "a pseudo-terminal")
	}
}
