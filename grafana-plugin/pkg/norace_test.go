//go:build !race

package main

// raceEnabled is whether the test runs with the race detector; the
// executable is then built with it too, reusing the compiled packages.
const raceEnabled = false
