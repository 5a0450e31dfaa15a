package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of issue #13, points 1-4: the exporter never crashes on a library
// that is not NVML, nor on a bad flag, and says precisely why NVML is down.

// nonNVMLLibrary returns a real shared library of this machine that is not
// NVML (zlib).
func nonNVMLLibrary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
		"/lib/aarch64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1", "/lib64/libz.so.1", "/usr/lib/libz.so.1"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no libz.so.1 found")
	return ""
}

// buildStub compiles testdata/nvmlstub.c into dir with extra gcc flags.
func buildStub(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	lib := filepath.Join(dir, "libnvidia-ml.so.1")
	args := append([]string{"-shared", "-fPIC", "-o", lib}, flags...)
	out, err := exec.Command(gcc, append(args, "testdata/nvmlstub.c")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return lib
}

// linesWith returns the lines of log that contain s.
func linesWith(log, s string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestNotNVMLLibraryDoesNotCrash: a library that is not NVML (a real
// one, zlib), or a stub that exports nvmlInit_v2 but not
// nvmlDeviceGetCount_v2, used to kill the process ("undefined symbol:
// nvmlInit", exit 127). Now the exporter keeps serving nvidia_gpu_nvml_up 0
// through several retries and says once, naming the path, what is wrong.
func TestNotNVMLLibraryDoesNotCrash(t *testing.T) {
	t.Parallel()
	libz := nonNVMLLibrary(t)
	for _, tc := range []struct {
		name string
		lib  func(t *testing.T) string
		want string
	}{
		{"zlib", func(*testing.T) string { return libz }, libz + " is not an NVML library: it has no nvmlInit_v2 or nvmlInit"},
		{"stub without nvmlDeviceGetCount", func(t *testing.T) string { return buildStub(t, t.TempDir(), "-DNVMLSTUB_NO_COUNT") },
			"lacks NVML functions that start-up calls: nvmlDeviceGetCount_v2 or nvmlDeviceGetCount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lib := tc.lib(t)
			url, logs := startExporter(t, "--nvml.library-path="+lib, "--nvml.retry-interval=50ms")
			for range 5 { // each scrape past the retry interval tries again
				assert.Contains(t, get(t, url+"/metrics"), "nvidia_gpu_nvml_up 0\n")
				time.Sleep(60 * time.Millisecond)
			}
			// Still running, through every retry.
			assert.Contains(t, get(t, url+"/healthz"), "NVML not initialised")
			lines := linesWith(logs(), "NVML")
			require.Len(t, lines, 1, "one line says NVML is down, not one per retry:\n%s", logs())
			assert.Contains(t, lines[0], lib)
			assert.Contains(t, lines[0], tc.want)
			assert.NotContains(t, logs(), "symbol lookup error")
		})
	}
}

// TestLibraryLoadErrorsSayWhy: a path that does not exist, a directory and
// a file that is not ELF used to log "libnvidia-ml.so.1 not found" alike;
// the line now names the path and the dynamic loader's reason.
func TestLibraryLoadErrorsSayWhy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "libnvidia-ml.so.1")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("this is a text file, not a shared library\n", 8)), 0o644))
	for _, tc := range []struct {
		name, path, reason string
	}{
		{"missing", filepath.Join(dir, "nonexistent", "libnvidia-ml.so.1"), "cannot open shared object file: No such file or directory"},
		{"directory", dir, "Is a directory"},
		{"not ELF", text, "invalid ELF header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, logs := startExporter(t, "--nvml.library-path="+tc.path)
			assert.Contains(t, get(t, url+"/metrics"), "nvidia_gpu_nvml_up 0\n")
			lines := linesWith(logs(), "NVML")
			require.Len(t, lines, 1, logs())
			assert.Contains(t, lines[0], "cannot load "+tc.path+": ")
			assert.Contains(t, lines[0], tc.reason)
			assert.NotContains(t, lines[0], "libnvidia-ml.so.1 not found")
		})
	}
}

// TestOneLogLineWithoutDriver: the README promises one log line when there
// is no driver or library; there used to be two ("starting without NVML"
// and "NVML unavailable").
func TestOneLogLineWithoutDriver(t *testing.T) {
	t.Parallel()
	lib := filepath.Join(t.TempDir(), "libnvidia-ml.so.1") // absent, as without a driver
	url, logs := startExporter(t, "--nvml.library-path="+lib, "--nvml.retry-interval=50ms")
	for range 3 {
		get(t, url+"/metrics")
		time.Sleep(60 * time.Millisecond)
	}
	lines := linesWith(logs(), "NVML")
	require.Len(t, lines, 1, logs())
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], "nvidia_gpu_nvml_up 0")
	assert.Contains(t, lines[0], lib)
}

// TestTelemetryPathIsValidated: these values used to panic with a
// goroutine trace (http.ServeMux rejects them or they collide with
// another endpoint). They are usage errors: exit 2, naming flag and value.
func TestTelemetryPathIsValidated(t *testing.T) {
	t.Parallel()
	bin := exporterBinary(t)
	for _, tc := range []struct{ value, want string }{
		{"nometrics", `--web.telemetry-path "nometrics": must be a URL path starting with "/"`},
		{"", `--web.telemetry-path "": must be a URL path starting with "/"`},
		{"/healthz", `--web.telemetry-path "/healthz": is the health endpoint's path`},
		{"/a b", `--web.telemetry-path "/a b": must not contain spaces or control characters`},
		{"/", `--web.telemetry-path "/": is the landing page's path`},
		{"/{x}", `--web.telemetry-path "/{x}": must not contain "{", "}", "?", "#" or "%"`},
		{"/a/../metrics", `--web.telemetry-path "/a/../metrics": must be a clean path`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--web.listen-address=127.0.0.1:0", "--web.telemetry-path="+tc.value)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
			assert.Equal(t, 2, exit.ExitCode())
			assert.Contains(t, string(out), tc.want)
			assert.NotContains(t, string(out), "goroutine ")
			assert.NotContains(t, string(out), "panic")
		})
	}
}

func TestCheckTelemetryPath(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"/metrics", "/prometheus/metrics", "/metrics/", "/gpu-metrics_2"} {
		assert.NoError(t, checkTelemetryPath(ok, false), ok)
	}
	assert.NoError(t, checkTelemetryPath("/debug/pprof/x", false))
	assert.EqualError(t, checkTelemetryPath("/debug/pprof/x", true),
		`--web.telemetry-path "/debug/pprof/x": is under /debug/pprof/, served by --web.enable-pprof`)
	assert.Error(t, checkTelemetryPath("/healthz/", false))
	assert.Error(t, checkTelemetryPath("//metrics", false))
	assert.Error(t, checkTelemetryPath("/metrics\t", false))
}
