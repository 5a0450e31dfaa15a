//go:build race

package stacktest

// e2eRace is true when the tests run with -race: the end-to-end test then
// builds the bencher with -race too, as the bencher's own binary tests do
// (so that both use the same build cache), and fails on a data race it
// reports.
const e2eRace = true
