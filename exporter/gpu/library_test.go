package gpu

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/testkit"
)

// stubWithoutCount exports what a library needs to look like NVML at a
// glance (nvmlInit_v2 and friends) but not nvmlDeviceGetCount(_v2).
const stubWithoutCount = `
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) { (void)r; return "stub"; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d) { (void)i; *d = 0; return 0; }
int nvmlDeviceGetUUID(void *d, char *u, unsigned int n) { (void)d; (void)u; (void)n; return 0; }
`

func TestCheckLibrary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "text.so")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("not a shared library\n", 8)), 0o644))
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nonexistent.so"),
			"cannot load " + filepath.Join(dir, "nonexistent.so") + ": cannot open shared object file: No such file or directory"},
		{"directory", dir, "cannot load " + dir + ": cannot read file data: Is a directory"},
		{"not ELF", text, "cannot load " + text + ": invalid ELF header"},
	}
	for _, libz := range []string{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib64/libz.so.1"} {
		if _, err := os.Stat(libz); err == nil {
			tests = append(tests, struct{ name, path, want string }{"zlib", libz,
				libz + " is not an NVML library: it has no nvmlInit_v2 or nvmlInit"})
			break
		}
	}
	if gcc, err := exec.LookPath("gcc"); err == nil {
		src := filepath.Join(dir, "stub.c")
		lib := filepath.Join(dir, "stub.so")
		require.NoError(t, os.WriteFile(src, []byte(stubWithoutCount), 0o644))
		out, err := exec.Command(gcc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput()
		require.NoError(t, err, "%s", out)
		tests = append(tests, struct{ name, path, want string }{"stub without count", lib,
			lib + " lacks NVML functions that start-up calls: nvmlDeviceGetCount_v2 or nvmlDeviceGetCount"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckLibrary(tc.path)
			var le *LibraryError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.path, le.Path)
			assert.EqualError(t, err, tc.want)
		})
	}
}

// refuseInit is a library whose every call fails the test: the Manager
// must not touch it when the check fails.
type refuseInit struct {
	nvml.Interface
	t *testing.T
}

func (r refuseInit) Init() nvml.Return {
	r.t.Error("Init called although the library check failed")
	return nvml.ERROR_UNKNOWN
}

func TestManagerChecksTheLibraryFirst(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	now := time.Unix(1e9, 0)
	checks := 0
	m := NewManager(refuseInit{t: t}, WithLogger(logs.Logger()), WithRetryInterval(time.Second),
		WithClock(func() time.Time { return now }),
		WithLibraryCheck(func() error { checks++; return errors.New("/x/libz.so.1 is not an NVML library") }))
	for range 3 {
		assert.False(t, m.Refresh())
		now = now.Add(2 * time.Second)
	}
	assert.Equal(t, 3, checks, "checked again at every retry")
	assert.Equal(t, 1, strings.Count(logs.String(), "NVML unavailable"), "one line, not one per retry")
	assert.Contains(t, logs.String(), "/x/libz.so.1 is not an NVML library")
}
