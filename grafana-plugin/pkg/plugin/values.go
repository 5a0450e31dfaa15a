package plugin

import (
	"slices"
	"strings"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// ProfileCustom is the profile key of the runs whose document names no
// profile (documents written before custom loads had keys of their own).
const ProfileCustom = "custom"

// profileKey returns the profile a run is grouped under: its profile, or
// ProfileCustom when it has none.
func profileKey(h *results.Header) string {
	if h.Profile == "" {
		return ProfileCustom
	}
	return h.Profile
}

// perRequestValues are the summary values that mean nothing without a
// measured request: stats.Summary writes them as 0 for a run without
// measurements, which would read as a real 0.
func perRequestValues() []string {
	return []string{
		"success_rate", "error_rate", "request_throughput", "output_throughput", "total_token_throughput",
		"goodput", "slo_attainment", "request_rate", "concurrency", "server_concurrency",
		"max_concurrency", "max_server_concurrency",
	}
}

// summaryValue returns the summary value name of s, and whether the run
// has one. It is stats.Summary.Value, except that a value that needs
// measurements is absent when there are none: the rates and ratios of a
// run without measured requests, and the statistics (other than the count)
// of a latency distribution without samples, which the summary writes as
// 0. Views write an absent value as null, never as 0.
func summaryValue(s *stats.Summary, name string) (float64, bool) {
	v, ok := s.Value(name)
	if !ok {
		return 0, false
	}
	if s.Requests == 0 && slices.Contains(perRequestValues(), name) {
		return 0, false
	}
	if i := strings.LastIndexByte(name, '_'); i > 0 && !strings.HasSuffix(name, "_count") {
		if n, ok := s.Value(name[:i] + "_count"); ok && n == 0 {
			return 0, false
		}
	}
	return v, true
}

// optionalValue is summaryValue as a pointer, nil when absent.
func optionalValue(s *stats.Summary, name string) *float64 {
	v, ok := summaryValue(s, name)
	if !ok {
		return nil
	}
	return &v
}

// measured reports whether a run can stand for "latest" or "previous" and
// be a point of a trend: it completed, and measured at least one request.
func measured(h *results.Header) bool {
	return h.Status == results.StatusCompleted && h.Summary.Requests > 0
}
