//go:build race

package bencher

// raceSlack widens timing bounds under the race detector.
const raceSlack = 10
