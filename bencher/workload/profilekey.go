package workload

import (
	"strconv"
	"strings"
)

// CustomProfilePrefix begins the profile key of every custom load.
const CustomProfilePrefix = "custom-"

// CustomLoadKey returns the load part of a custom load's profile key:
// "custom-c300" (a closed loop of 300), "custom-r20" (an open loop of 20
// requests/s), "custom-r20-c8" (an open loop capped at 8 in flight).
// Concurrency 0 means no cap, rate 0 a closed loop.
func CustomLoadKey(concurrency int, rate float64) string {
	var b strings.Builder
	b.WriteString(CustomProfilePrefix)
	if rate > 0 {
		b.WriteString("r" + strconv.FormatFloat(rate, 'f', -1, 64))
		if concurrency > 0 {
			b.WriteString("-")
		}
	}
	if concurrency > 0 {
		b.WriteString("c" + strconv.Itoa(concurrency))
	}
	return b.String()
}

// CustomProfileKey returns the profile key of a custom load of synthetic
// prompts, such as custom-c300-in512-out128: the CLI and the Grafana
// plugin store runs without a named profile under it, so that trends and
// the regression alert compare like with like. Zero Dists stand for the
// default lengths (DefaultInputTokens, DefaultOutputTokens).
func CustomProfileKey(concurrency int, rate float64, input, output Dist) string {
	if input.IsZero() {
		input = Fixed(DefaultInputTokens)
	}
	if output.IsZero() {
		output = Fixed(DefaultOutputTokens)
	}
	return CustomLoadKey(concurrency, rate) + "-in" + input.String() + "-out" + output.String()
}
