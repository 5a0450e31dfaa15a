package stats

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/benchstation/benchstation/bencher"
)

// A value that needs measurements is absent when there are none, never 0:
// a distribution without samples has only its count (JSON {"count": 0}),
// and a summary without a measured request that ended on its own (none, or
// only requests canceled by a stop of the run) has no success rate and no
// throughputs. Summary.Value reports them absent as well.

// MarshalJSON writes the distribution, or only its count when it has no
// samples: its statistics do not exist then.
func (d Distribution) MarshalJSON() ([]byte, error) {
	type plain Distribution
	if d.Count == 0 {
		return marshal(struct {
			Count int `json:"count"`
		}{0})
	}
	return marshal(plain(d))
}

// Measured reports whether a measured request ended on its own (succeeded
// or failed), rather than being canceled by a stop of the run: without
// one, the rates, ratios and throughputs of the summary do not exist.
func (s Summary) Measured() bool {
	return s.Requests-s.ErrorsByClass[bencher.ErrCanceled] > 0
}

// MarshalJSON writes the summary; without a measured request (see
// Measured) success_rate and the throughputs are left out.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	if s.Measured() {
		return marshal(plain(s))
	}
	return marshal(struct {
		plain
		SuccessRate          *float64 `json:"success_rate,omitempty"`
		RequestThroughput    *float64 `json:"request_throughput,omitempty"`
		OutputThroughput     *float64 `json:"output_throughput,omitempty"`
		TotalTokenThroughput *float64 `json:"total_token_throughput,omitempty"`
	}{plain: plain(s)})
}

// perRequestValues are the value names that need a measured request.
var perRequestValues = []string{
	"success_rate", "error_rate", "request_throughput", "output_throughput", "total_token_throughput",
	"goodput", "slo_attainment", "request_rate", "concurrency", "server_concurrency",
	"max_concurrency", "max_server_concurrency",
}

// absent reports whether the value name, found in s, does not exist for
// lack of measurements.
func (s Summary) absent(name string) bool {
	return !s.Measured() && slices.Contains(perRequestValues, name)
}

// marshal is json.Marshal without HTML escaping: the encoder that calls a
// MarshalJSON escapes its output itself when it is asked to.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
