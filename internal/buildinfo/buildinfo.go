// Package buildinfo says which code a Benchstation binary was built from:
// the exporter's --version and benchstation_exporter_build_info, the
// bencher's --version and the bencher_version of run documents (the CLI
// and the Grafana plugin) all read it.
//
// A release build stamps the version at link time (Mage does, from `git
// describe --tags --always --dirty`):
//
//	go build -ldflags "-X github.com/benchstation/benchstation/internal/buildinfo.version=v1.2.3"
//
// Without a stamp, the values come from the build information that Go
// writes into every binary (runtime/debug.ReadBuildInfo): the main
// module's version (a tag, or a pseudo-version that `go build` and `go
// install` derive from the VCS), the VCS revision, its commit time and
// whether the working tree was modified. So a plain `go build` in a clone
// reports the truth, and a build that knows nothing (-buildvcs=false
// outside a module version, or a test binary) says "devel" and "unknown"
// rather than an empty string.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped at link time with -ldflags -X; each takes precedence over the
// build information. revision and date are for builds that cannot carry
// VCS information (-buildvcs=false, a source tree without .git).
var (
	version  string // e.g. v1.2.3 or v1.2.3-4-gabcdef0-dirty
	revision string // the full commit hash, "-modified" appended for a modified tree
	date     string // the commit time, RFC 3339
)

// Unknown is the revision of a binary that knows none.
const Unknown = "unknown"

// Devel is the version of a binary that knows neither a stamp, a module
// version nor a revision.
const Devel = "devel"

// Info is what a binary knows about its build.
type Info struct {
	// Version is the stamped version; else the main module's version (a
	// tag or a pseudo-version); else the revision's first 12 hex digits,
	// with "-dirty" for a modified tree; else Devel.
	Version string
	// Revision is the VCS commit (full hash), with "-modified" appended when
	// the working tree had changes (prometheus/common/version's style);
	// Unknown when not known.
	Revision string
	// Time is the commit's time (RFC 3339), "" when not known.
	Time string
	// Modified reports that the working tree had uncommitted changes.
	Modified bool
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo() // nil when the binary has none
	return From(Stamp{Version: version, Revision: revision, Time: date}, bi)
}

// Version returns Get().Version.
func Version() string { return Get().Version }

// Stamp holds the values set with -ldflags -X ("" when not set).
type Stamp struct{ Version, Revision, Time string }

// From combines a stamp and Go's build information (nil when there is
// none) as Get does; it is exported for tests of the rules.
func From(s Stamp, bi *debug.BuildInfo) Info {
	info := Info{GoVersion: runtime.Version()}
	var rev, vcsTime string
	var modVersion string
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "(devel)" {
			modVersion = v
		}
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.time":
				vcsTime = kv.Value
			case "vcs.modified":
				info.Modified = kv.Value == "true"
			}
		}
	}
	info.Time = firstNonBlank(s.Time, vcsTime)
	switch {
	case strings.TrimSpace(s.Revision) != "":
		info.Revision = strings.TrimSpace(s.Revision)
		info.Modified = info.Modified || strings.HasSuffix(info.Revision, "-modified")
	case rev != "" && info.Modified:
		info.Revision = rev + "-modified"
	case rev != "":
		info.Revision = rev
	default:
		info.Revision = Unknown
	}
	info.Version = firstNonBlank(s.Version, modVersion, shortRevision(rev, info.Modified), Devel)
	return info
}

// shortRevision is rev's first 12 hex digits, with "-dirty" when modified;
// "" without a revision.
func shortRevision(rev string, modified bool) string {
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += "-dirty"
	}
	return rev
}

func firstNonBlank(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
