package stats

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

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
// Measured) success_rate and the throughputs are left out, and so are the
// concurrency and the request rate when the mode cannot measure them
// (Unmeasured).
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	if s.Measured() && len(s.Unmeasured) == 0 {
		return marshal(plain(s))
	}
	out := struct {
		plain
		SuccessRate          *float64     `json:"success_rate,omitempty"`
		RequestThroughput    *float64     `json:"request_throughput,omitempty"`
		OutputThroughput     *float64     `json:"output_throughput,omitempty"`
		TotalTokenThroughput *float64     `json:"total_token_throughput,omitempty"`
		Concurrency          *Concurrency `json:"concurrency,omitempty"`
		RequestRate          *RequestRate `json:"request_rate,omitempty"`
	}{plain: plain(s)}
	if s.Measured() {
		out.SuccessRate, out.RequestThroughput = &s.SuccessRate, &s.RequestThroughput
		out.OutputThroughput, out.TotalTokenThroughput = &s.OutputThroughput, &s.TotalTokenThroughput
	}
	if !s.NotMeasured("concurrency") {
		out.Concurrency = &s.Concurrency
	}
	if !s.NotMeasured("request_rate") {
		out.RequestRate = &s.RequestRate
	}
	return marshal(out)
}

// NotMeasured reports whether the value name is one the run's mode cannot
// measure (Unmeasured): a name listed, or a statistic of a metric listed.
func (s Summary) NotMeasured(name string) bool {
	for _, u := range s.Unmeasured {
		if name == u || strings.HasPrefix(name, u+"_") {
			return true
		}
	}
	return false
}

// SetUnmeasured marks the values names as ones the run's mode cannot
// measure (see Unmeasured), and clears them: their distributions lose
// their samples, the concurrency and the request rate their figures.
func (s *Summary) SetUnmeasured(names ...string) {
	for _, n := range names {
		if slices.Contains(s.Unmeasured, n) {
			continue
		}
		s.Unmeasured = append(s.Unmeasured, n)
		if d := s.distributionField(n); d != nil {
			*d = Distribution{}
		}
		switch n {
		case "concurrency":
			s.Concurrency = Concurrency{Requested: s.Concurrency.Requested}
		case "request_rate":
			s.RequestRate = RequestRate{Requested: s.RequestRate.Requested}
		}
	}
}

// distributionField returns the distribution of a metric name (ttft,
// e2el, …), nil for another name.
func (s *Summary) distributionField(metric string) *Distribution {
	switch metric {
	case "ttft":
		return &s.TTFT
	case "server_ttft":
		return &s.ServerTTFT
	case "queue_delay":
		return &s.QueueDelay
	case "itl":
		return &s.ITL
	case "tpot":
		return &s.TPOT
	case "e2el":
		return &s.E2EL
	case "failed_e2el":
		return &s.FailedE2EL
	}
	return nil
}

// SetWindow makes w the window the throughputs (and the goodput) divide
// by: a batch job's makespan rather than the span of its records.
func (s *Summary) SetWindow(w Window) {
	s.Window = w
	s.RequestThroughput = perSecond(float64(s.Succeeded), w.DurationS)
	s.OutputThroughput = perSecond(float64(s.OutputTokens), w.DurationS)
	s.TotalTokenThroughput = perSecond(float64(s.InputTokens+s.OutputTokens), w.DurationS)
	if s.Goodput != nil {
		s.Goodput.RequestGoodput = perSecond(float64(s.Goodput.GoodRequests), w.DurationS)
	}
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
	return s.NotMeasured(name) || !s.Measured() && slices.Contains(perRequestValues, name)
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
