package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue #13, point 7: --version and benchstation_exporter_build_info showed
// an empty version and revision="unknown".

// buildWith builds the exporter into a temporary directory with extra
// arguments to go build and extra environment.
func buildWith(t *testing.T, env []string, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "benchstation-exporter")
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
	cmd.Env = append(append(os.Environ(), "CGO_CFLAGS=-O2 -Wno-deprecated-declarations"), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func versionOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// buildInfoLine returns the benchstation_exporter_build_info sample of the
// exporter built at bin.
func buildInfoLine(t *testing.T, bin string) string {
	t.Helper()
	url, _, _ := startBinaryAt(t, bin, "--nvml.simulate=dgxh100")
	for _, l := range strings.Split(get(t, url+"/metrics"), "\n") {
		if strings.HasPrefix(l, "benchstation_exporter_build_info{") {
			return l
		}
	}
	t.Fatal("no benchstation_exporter_build_info")
	return ""
}

// TestVersionIsStamped: a release build stamps the version the way Mage
// does; --version and build_info both show it.
func TestVersionIsStamped(t *testing.T) {
	t.Parallel()
	const pkg = "github.com/benchstation/benchstation/internal/buildinfo"
	bin := buildWith(t, []string{"GOFLAGS=-buildvcs=false"}, "-ldflags",
		"-X "+pkg+".version=v9.8.7-test -X "+pkg+".revision=0123456789abcdef0123456789abcdef01234567 -X "+pkg+".date=2026-11-20T10:00:00Z")
	v := versionOf(t, bin)
	assert.Contains(t, v, "benchstation-exporter, version v9.8.7-test (")
	assert.Contains(t, v, "revision: 0123456789abcdef0123456789abcdef01234567)")
	assert.Contains(t, v, "build date:       2026-11-20T10:00:00Z")
	line := buildInfoLine(t, bin)
	assert.Contains(t, line, `version="v9.8.7-test"`)
	assert.Contains(t, line, `revision="0123456789abcdef0123456789abcdef01234567"`)
}

// TestVersionFromBuildInfo: a plain go build in a clone (VCS stamping on)
// reports the commit it was built from, without any -X.
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	if _, err := exec.Command("git", "rev-parse", "HEAD").Output(); err != nil {
		t.Skip("not in a git work tree:", err)
	}
	bin := buildWith(t, []string{"GOFLAGS=-buildvcs=true"})
	v := versionOf(t, bin)
	m := regexp.MustCompile(`revision: ([0-9a-f]{40})(-modified)?\)`).FindStringSubmatch(v)
	require.NotNil(t, m, "a full commit hash as the revision:\n%s", v)
	typ, err := exec.Command("git", "cat-file", "-t", m[1]).Output()
	require.NoError(t, err)
	assert.Equal(t, "commit", strings.TrimSpace(string(typ)), "the revision is a commit of this repository")
	// Go derives a pseudo-version (or a tag) that names the same commit.
	assert.Regexp(t, `, version v\S*`+m[1][:12], v)
	assert.Regexp(t, `build date: +20\d\d-\d\d-\d\dT`, v, "the commit time")
	line := buildInfoLine(t, bin)
	assert.Contains(t, line, `revision="`+m[1])
	assert.NotContains(t, line, `version=""`)
}

// TestVersionIsNeverEmpty: a build that knows nothing (no stamp, no VCS
// information) says so in words.
func TestVersionIsNeverEmpty(t *testing.T) {
	t.Parallel()
	v := versionOf(t, exporterBinary(t)) // built with the environment's GOFLAGS
	assert.NotContains(t, v, "version  (")
	assert.Regexp(t, `version \S+ \(`, v)
}
