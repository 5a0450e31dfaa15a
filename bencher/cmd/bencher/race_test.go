//go:build race

package main

// raceEnabled is true when the tests run with -race: the real binary is
// then built with -race too, which checks it and reuses the packages the
// test build compiled.
const raceEnabled = true
