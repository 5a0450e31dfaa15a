//go:build !race

package stacktest

// e2eRace is true when the tests run with -race.
const e2eRace = false
