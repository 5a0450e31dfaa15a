//go:build race

package bencher

// raceSlack widens timing bounds under the race detector.
const raceSlack = 10

// raceEnabled is whether the race detector is on. The accuracy tests skip
// under it: it slows every goroutine, and with other packages' tests
// running beside them on a small machine they measure the machine, not the
// client. Mage's test target runs them in a separate pass without it.
const raceEnabled = true
