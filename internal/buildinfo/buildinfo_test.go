package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGet(t *testing.T) {
	t.Parallel()
	got := Get()
	assert.NotEmpty(t, got.Version)
	assert.NotEmpty(t, got.Revision)
	assert.NotEmpty(t, got.GoVersion)
	assert.Equal(t, got.Version, Version())
}

func TestFrom(t *testing.T) {
	t.Parallel()
	info := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/benchstation/benchstation", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const rev = "7d23225a1b2c3d4e5f60718293a4b5c6d7e8f901"
	const when = "2026-11-20T10:00:00Z"
	tests := []struct {
		name  string
		stamp Stamp
		bi    *debug.BuildInfo
		want  Info
	}{
		{"stamped wins", Stamp{Version: "v1.2.3"}, info("v0.9.0", "vcs.revision", rev, "vcs.time", when),
			Info{Version: "v1.2.3", Revision: rev, Time: when, GoVersion: "go1.26.8"}},
		{"every stamp", Stamp{"v1.2.3-dirty", rev + "-modified", when}, info("(devel)"),
			Info{Version: "v1.2.3-dirty", Revision: rev + "-modified", Time: when, Modified: true, GoVersion: "go1.26.8"}},
		{"module version", Stamp{}, info("v0.9.0", "vcs.revision", rev),
			Info{Version: "v0.9.0", Revision: rev, GoVersion: "go1.26.8"}},
		{"pseudo-version", Stamp{}, info("v0.0.0-20261120100000-7d23225a1b2c+dirty", "vcs.revision", rev, "vcs.modified", "true"),
			Info{Version: "v0.0.0-20261120100000-7d23225a1b2c+dirty", Revision: rev + "-modified", Modified: true, GoVersion: "go1.26.8"}},
		{"revision", Stamp{}, info("(devel)", "vcs.revision", rev, "vcs.modified", "false", "vcs.time", when),
			Info{Version: "7d23225a1b2c", Revision: rev, Time: when, GoVersion: "go1.26.8"}},
		{"dirty revision", Stamp{}, info("(devel)", "vcs.modified", "true", "vcs.revision", rev),
			Info{Version: "7d23225a1b2c-dirty", Revision: rev + "-modified", Modified: true, GoVersion: "go1.26.8"}},
		{"short revision", Stamp{}, info("(devel)", "vcs.revision", "abc123"),
			Info{Version: "abc123", Revision: "abc123", GoVersion: "go1.26.8"}},
		{"nothing known", Stamp{}, info("(devel)"), Info{Version: Devel, Revision: Unknown, GoVersion: "go1.26.8"}},
		{"blank stamp", Stamp{Version: " "}, info("v0.9.0"), Info{Version: "v0.9.0", Revision: Unknown, GoVersion: "go1.26.8"}},
		{"empty module version", Stamp{}, info(""), Info{Version: Devel, Revision: Unknown, GoVersion: "go1.26.8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, From(tc.stamp, tc.bi))
		})
	}
	t.Run("no build info", func(t *testing.T) {
		t.Parallel()
		got := From(Stamp{}, nil)
		assert.Equal(t, Devel, got.Version)
		assert.Equal(t, Unknown, got.Revision)
		assert.NotEmpty(t, got.GoVersion)
	})
}
