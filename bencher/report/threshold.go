package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher/stats"
)

// Direction says which way a value is better.
type Direction int

// The directions.
const (
	Neutral        Direction = 0  // neither (counts of requests or tokens)
	HigherIsBetter Direction = 1  // throughputs, success rate, goodput
	LowerIsBetter  Direction = -1 // latencies, error rates, errors
)

// String returns "higher", "lower" or "".
func (d Direction) String() string {
	switch d {
	case HigherIsBetter:
		return "higher"
	case LowerIsBetter:
		return "lower"
	}
	return ""
}

// MarshalText writes String's form.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads String's form.
func (d *Direction) UnmarshalText(text []byte) error {
	switch string(text) {
	case "higher":
		*d = HigherIsBetter
	case "lower":
		*d = LowerIsBetter
	case "":
		*d = Neutral
	default:
		return fmt.Errorf("report: unknown direction %q", text)
	}
	return nil
}

// Better returns which way a summary value (stats.Summary.Value's names)
// is better: lower for latency statistics (ttft_*, tpot_*, itl_*, e2el_*,
// queue_delay_*, server_ttft_*, failed_e2el_*, except their counts), error
// rates and counts (error_rate, failed, errors_*, http_status_*, retries)
// and duration_s; higher for throughputs, success_rate, succeeded,
// goodput, good_requests, slo_attainment and the achieved request_rate;
// neutral for the rest.
func Better(name string) Direction {
	switch name {
	case "request_throughput", "output_throughput", "total_token_throughput", "success_rate",
		"succeeded", "goodput", "good_requests", "slo_attainment", "request_rate":
		return HigherIsBetter
	case "error_rate", "failed", "retries", "duration_s":
		return LowerIsBetter
	}
	if strings.HasPrefix(name, "errors_") || strings.HasPrefix(name, "http_status_") {
		return LowerIsBetter
	}
	i := strings.LastIndexByte(name, '_')
	if i > 0 && name[i+1:] != "count" && stats.IsValueName(name) {
		switch name[:i] {
		case "ttft", "server_ttft", "queue_delay", "itl", "tpot", "e2el", "failed_e2el":
			return LowerIsBetter
		}
	}
	return Neutral
}

// Threshold is a limit on the relative change of a value between a base
// run and a new run.
type Threshold struct {
	// Name is a summary value name (stats.Summary.Value).
	Name string `json:"name"`
	// Sign is +1 to fail when the value grows by more than Limit, -1 when
	// it drops by more than Limit, and 0 when it moves by more than Limit
	// in its worse direction (either way for a neutral value).
	Sign int `json:"sign"`
	// Limit is the largest relative change allowed, 0.10 for 10%.
	Limit float64 `json:"limit"`
	// Text is the threshold as written.
	Text string `json:"text"`
}

// String returns the threshold as ParseThresholds reads it.
func (t Threshold) String() string {
	return t.Name + "=" + t.limitText()
}

// limitText returns "+10%", "-5%" or "10%".
func (t Threshold) limitText() string {
	sign := map[int]string{1: "+", -1: "-"}[t.Sign]
	return sign + strconv.FormatFloat(100*t.Limit, 'f', -1, 64) + "%"
}

// ErrThreshold is wrapped by every threshold parse error.
var ErrThreshold = errors.New("invalid threshold")

// DefaultThresholds are the thresholds of a comparison when none are
// given: latency p50 and p95 of TTFT, TPOT, ITL and E2EL may grow by 10%,
// request and output throughput may drop by 5%, and the success rate by 1%.
func DefaultThresholds() []Threshold {
	var out []Threshold
	add := func(sign int, limit float64, names ...string) {
		for _, n := range names {
			t := Threshold{Name: n, Sign: sign, Limit: limit}
			t.Text = t.String()
			out = append(out, t)
		}
	}
	add(1, 0.10, "ttft_p50", "ttft_p95", "tpot_p50", "tpot_p95", "itl_p50", "itl_p95", "e2el_p50", "e2el_p95")
	add(-1, 0.05, "request_throughput", "output_throughput")
	add(-1, 0.01, "success_rate")
	return out
}

// ParseThresholds reads comma-separated thresholds, NAME=[+|-]N%:
// "ttft_p95=+10%" fails when ttft_p95 grows by more than 10%,
// "output_throughput=-5%" when output_throughput drops by more than 5%,
// and "e2el_p99=20%" when e2el_p99 gets worse (see Better) by more than
// 20%. Spaces around the parts are allowed; names must be summary values.
func ParseThresholds(s string) ([]Threshold, error) {
	var out []Threshold
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, err := parseThreshold(part)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w %q: %s is given twice", ErrThreshold, part, t.Name)
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty, want e.g. 'ttft_p95=+10%%,output_throughput=-5%%'", ErrThreshold)
	}
	return out, nil
}

// parseThreshold reads one threshold.
func parseThreshold(text string) (Threshold, error) {
	name, limit, ok := strings.Cut(text, "=")
	name, limit = strings.TrimSpace(name), strings.TrimSpace(limit)
	if !ok || name == "" {
		return Threshold{}, fmt.Errorf("%w %q: want NAME=+N%%, NAME=-N%% or NAME=N%%", ErrThreshold, text)
	}
	if !stats.IsValueName(name) {
		return Threshold{}, fmt.Errorf("%w %q: unknown value %q", ErrThreshold, text, name)
	}
	t := Threshold{Name: name, Text: text}
	switch {
	case strings.HasPrefix(limit, "+"):
		t.Sign, limit = 1, limit[1:]
	case strings.HasPrefix(limit, "-"):
		t.Sign, limit = -1, limit[1:]
	}
	p, ok := strings.CutSuffix(limit, "%")
	if !ok {
		return Threshold{}, fmt.Errorf("%w %q: want a percentage such as +10%%", ErrThreshold, text)
	}
	v, err := strconv.ParseFloat(p, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(p, "+-") {
		return Threshold{}, fmt.Errorf("%w %q: bad percentage %q", ErrThreshold, text, limit)
	}
	t.Limit = v / 100
	return t, nil
}

// breached reports whether a relative change rel (±Inf from a base of 0)
// breaks the threshold for a value that is better in direction d.
func (t Threshold) breached(rel float64, d Direction) bool {
	sign := t.Sign
	if sign == 0 {
		sign = -int(d) // the worse direction; 0 (either) for neutral values
	}
	switch sign {
	case 1:
		return rel > t.Limit
	case -1:
		return rel < -t.Limit
	}
	return math.Abs(rel) > t.Limit
}
