//go:build mage

// The Benchstation build. Run `go tool mage -l` to list the targets; Mage is
// pinned in go.mod as a tool, so Go is all a machine needs.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
)

// Default is what `go tool mage` runs without a target.
var Default = Build

// binaries maps each command to its package.
var binaries = map[string]string{
	"benchstation-exporter": "./exporter/cmd/benchstation-exporter",
}

// env quiets go-nvml's cgo build, which otherwise prints a warning for
// every deprecated NVML function it wraps.
func env() map[string]string {
	flags := os.Getenv("CGO_CFLAGS")
	if !strings.Contains(flags, "-Wno-deprecated-declarations") {
		flags = strings.TrimSpace("-O2 -g -Wno-deprecated-declarations " + flags)
	}
	return map[string]string{"CGO_CFLAGS": flags, "CGO_ENABLED": "1"}
}

// Build compiles every binary into bin/.
func Build() error {
	for name, pkg := range binaries {
		if err := sh.RunWithV(env(), "go", "build", "-trimpath", "-o", "bin/"+name, pkg); err != nil {
			return err
		}
	}
	return nil
}

// Lint checks formatting (gofmt) and runs go vet.
func Lint() error {
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change these files (run gofmt -w):\n%s", out)
	}
	return sh.RunWithV(env(), "go", "vet", "./...")
}

// Test runs everything CI runs: lint, then every Go test with the race
// detector. Integration tests need promtool and prometheus (Debian's
// prometheus package); .ci/run installs them.
func Test() error {
	mg.Deps(Lint)
	return sh.RunWithV(env(), "go", "test", "-race", "-count=1", "./...")
}

// Bench runs the Go benchmarks of the hot paths.
func Bench() error {
	return sh.RunWithV(env(), "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "./...")
}

// Clean removes build outputs.
func Clean() error {
	return os.RemoveAll("bin")
}

