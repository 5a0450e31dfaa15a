// Package gate checks a benchmark's summary against thresholds given on the
// command line, such as --slo 'ttft_p95<=500ms,success_rate>=0.99', so a CI
// pipeline fails when a run is too slow or too flaky.
//
// A gate is NAME OP VALUE. NAME is a summary value (see stats.Summary.Value:
// ttft_p95, e2el_p99, success_rate, output_throughput, ...); OP is one of
// <=, <, >=, >; VALUE is a number in the value's own unit, or for latency
// values (which are in milliseconds) a Go duration such as 500ms, 1.5s or
// 250us, or for ratios a percentage such as 99%. Gates are separated by
// commas; spaces are allowed around each part.
package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Valuer is what a gate reads: a summary that knows its values by name.
type Valuer interface {
	Value(name string) (float64, bool)
}

// Op compares a value with a threshold.
type Op string

// The comparison operators.
const (
	LE Op = "<="
	LT Op = "<"
	GE Op = ">="
	GT Op = ">"
)

// holds reports whether v op threshold.
func (o Op) holds(v, threshold float64) bool {
	switch o {
	case LE:
		return v <= threshold
	case LT:
		return v < threshold
	case GE:
		return v >= threshold
	default:
		return v > threshold
	}
}

// Gate is one threshold.
type Gate struct {
	Name      string  `json:"name"`
	Op        Op      `json:"op"`
	Threshold float64 `json:"threshold"`
	// Text is the gate as written.
	Text string `json:"text"`
}

// Outcome is a gate checked against a summary.
type Outcome struct {
	Gate
	// Actual is the run's value; it is meaningless (and left out of the
	// JSON) when Found is false.
	Actual float64 `json:"actual"`
	// Found is false when the summary has no such value: a statistic
	// without samples (ttft_p95 of a run that measured no first token, or
	// of a --no-stream run), or goodput of a run without SLOs. Such a gate
	// fails: a gate never passes on nothing.
	Found bool `json:"found"`
	// NotMeasured says that the run's mode cannot measure the value at
	// all (ttft_p95 of a batch-api run, whose requests answer whole); the
	// gate fails, as for any value not found.
	NotMeasured bool `json:"not_measured,omitempty"`
	Pass        bool `json:"pass"`
}

// MarshalJSON writes the outcome, without "actual" when the value was not
// found: a value without samples is absent, never 0.
func (o Outcome) MarshalJSON() ([]byte, error) {
	type plain Outcome
	if o.Found {
		return marshal(plain(o))
	}
	return marshal(struct {
		Gate
		Found       bool `json:"found"`
		NotMeasured bool `json:"not_measured,omitempty"`
		Pass        bool `json:"pass"`
	}{o.Gate, false, o.NotMeasured, false})
}

// marshal is json.Marshal without HTML escaping (gates hold < and >): the
// encoder that calls a MarshalJSON escapes its output itself when asked to.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Reason says in a few words why an outcome failed ("" when it passed):
// "no samples" when the run has no value, else the value against the
// threshold.
func (o Outcome) Reason() string {
	switch {
	case o.Name == ClientSaturated && !o.Pass:
		return "the client was saturated: its own delays are in the latencies measured"
	case o.NotMeasured:
		return NotMeasured + ": " + o.Name
	case !o.Found:
		return NoSamples + " for " + o.Name
	case !o.Pass:
		return fmt.Sprintf("%s is %s, want %s %s", o.Name, strconv.FormatFloat(o.Actual, 'g', 6, 64), o.Op,
			strconv.FormatFloat(o.Threshold, 'g', 6, 64))
	}
	return ""
}

// NoSamples is the reason of a gate on a value the run did not measure.
const NoSamples = "no samples"

// NotMeasured is the reason of a gate on a value the run's mode cannot
// measure.
const NotMeasured = "not measured in this mode"

// MeasureTeller is a Valuer that knows the values its run's mode cannot
// measure (stats.Summary does).
type MeasureTeller interface {
	NotMeasured(name string) bool
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid gate")

// Parse reads a comma-separated list of gates. known, when not nil,
// rejects names that no summary can have, so a typo fails before a run.
func Parse(s string, known func(name string) bool) ([]Gate, error) {
	var gates []Gate
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		g, err := parseOne(part)
		if err != nil {
			return nil, err
		}
		if known != nil && !known(g.Name) {
			return nil, fmt.Errorf("%w %q: unknown value %q", ErrSyntax, part, g.Name)
		}
		gates = append(gates, g)
	}
	if len(gates) == 0 {
		return nil, fmt.Errorf("%w: empty, want e.g. 'ttft_p95<=500ms,success_rate>=0.99'", ErrSyntax)
	}
	return gates, nil
}

func parseOne(text string) (Gate, error) {
	i := strings.IndexAny(text, "<>")
	if i <= 0 {
		return Gate{}, fmt.Errorf("%w %q: want NAME<=VALUE, NAME>=VALUE, NAME<VALUE or NAME>VALUE", ErrSyntax, text)
	}
	g := Gate{Name: strings.TrimSpace(text[:i]), Text: text}
	rest := text[i:]
	switch {
	case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, ">="):
		g.Op, rest = Op(rest[:2]), rest[2:]
	default:
		g.Op, rest = Op(rest[:1]), rest[1:]
	}
	if strings.ContainsAny(g.Name, " \t=!") || g.Name == "" {
		return Gate{}, fmt.Errorf("%w %q: bad name %q", ErrSyntax, text, g.Name)
	}
	v, err := parseValue(strings.TrimSpace(rest))
	if err != nil {
		return Gate{}, fmt.Errorf("%w %q: %v", ErrSyntax, text, err)
	}
	g.Threshold = v
	return g, nil
}

// parseValue reads a number, a percentage (to a ratio) or a duration (to
// milliseconds, the unit of latency values).
func parseValue(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("missing value")
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("bad percentage %q", s)
		}
		return v / 100, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("bad value %q: want a finite number", s)
		}
		return v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q: want a number, a percentage (99%%) or a duration (500ms)", s)
	}
	return float64(d) / float64(time.Millisecond), nil
}

// Check evaluates gates against v.
func Check(gates []Gate, v Valuer) []Outcome {
	out := make([]Outcome, len(gates))
	for i, g := range gates {
		actual, found := v.Value(g.Name)
		out[i] = Outcome{Gate: g, Actual: actual, Found: found, Pass: found && g.Op.holds(actual, g.Threshold)}
		if t, ok := v.(MeasureTeller); ok && !found {
			out[i].NotMeasured = t.NotMeasured(g.Name)
		}
	}
	return out
}

// ClientSaturated is the name of the outcome that refuses a run whose
// client was saturated (the bottleneck of its own measurements): gates
// never pass on latencies the client itself inflated.
const ClientSaturated = "client_saturated"

// Saturated is the failing outcome added to the gates of a run whose
// client was saturated, for the reasons given (such as "read_lag").
func Saturated(reasons []string) Outcome {
	text := ClientSaturated
	if len(reasons) > 0 {
		text += " (" + strings.Join(reasons, ", ") + ")"
	}
	return Outcome{Gate: Gate{Name: ClientSaturated, Op: LE, Threshold: 0, Text: text}, Actual: 1, Found: true}
}

// Passed reports whether every outcome passed.
func Passed(outcomes []Outcome) bool {
	for _, o := range outcomes {
		if !o.Pass {
			return false
		}
	}
	return true
}

// String describes an outcome in one line, e.g.
// "FAIL ttft_p95<=500ms: 612.4".
func (o Outcome) String() string {
	verdict := "ok  "
	if !o.Pass {
		verdict = "FAIL"
	}
	if o.NotMeasured {
		return fmt.Sprintf("%s %s: %s (the run's mode cannot measure %s)", verdict, o.Text, NotMeasured, o.Name)
	}
	if !o.Found {
		return fmt.Sprintf("%s %s: %s (the run measured no %s)", verdict, o.Text, NoSamples, o.Name)
	}
	return fmt.Sprintf("%s %s: %s", verdict, o.Text, strconv.FormatFloat(o.Actual, 'g', 6, 64))
}
