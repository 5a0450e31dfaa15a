package stats

import (
	"slices"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher"
)

// Value returns the summary value called name, and whether there is one.
// Gates (such as the CLI's --slo 'ttft_p95<=500ms,success_rate>=0.99') and
// run comparisons use it. The names, with their units:
//
// Latency statistics, in milliseconds (counts are plain numbers):
//
//	METRIC_STAT   METRIC: ttft, server_ttft, queue_delay, itl, tpot, e2el,
//	              failed_e2el
//	              STAT: mean, std, min, max, p50, p90, p95, p99, count, or an
//	              extra percentile asked for with WithPercentiles, named by
//	              PercentileName ("ttft_p99.9"); "median" is p50
//
// Counts:
//
//	requests, warmup_requests, not_sent, succeeded, failed, attempts,
//	retries, input_tokens, output_tokens,
//	errors_CLASS (failed requests of an error class: errors_timeout,
//	errors_connection, errors_http_status, errors_stream_error,
//	errors_invalid_response, errors_canceled, errors_invalid_request,
//	errors_batch_expired, errors_batch_error),
//	http_status_CODE (http_status errors with that status: http_status_503)
//
// Ratios (0–1): success_rate, error_rate (failed / requests),
// slo_attainment.
//
// Rates: request_throughput, goodput, request_rate, requested_request_rate
// (req/s); output_throughput, total_token_throughput (tok/s).
//
// Concurrency (requests in flight): concurrency (the client view's mean),
// server_concurrency (the server view's mean), max_concurrency,
// max_server_concurrency, requested_concurrency.
//
// Time: duration_s, the window's length in seconds.
//
// goodput, good_requests and slo_attainment exist only when the summary
// was made with SLOs; an extra percentile only when it was asked for. A
// count of errors or statuses that did not occur is 0, found. Values that
// need measurements are absent without them: the statistics (all but the
// count) of a distribution without samples, and the ratios, rates and
// concurrencies of a summary that is not Measured.
func (s Summary) Value(name string) (float64, bool) {
	if s.absent(name) {
		return 0, false
	}
	if v, ok := s.scalar(name); ok {
		return v, true
	}
	if v, ok := s.goodputValue(name); ok {
		return v, true
	}
	if v, ok := s.countValue(name); ok {
		return v, true
	}
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return 0, false
	}
	d, ok := s.distribution(name[:i])
	if !ok {
		return 0, false
	}
	return d.stat(name[i+1:])
}

// IsValueName reports whether name can be a summary value, so that a gate
// with a typo fails before a run. It accepts every name [Summary.Value]
// documents, including any percentile METRIC_pX with 0 <= X <= 100 (see
// [ExtraPercentile]) and the goodput names, which need SLOs.
func IsValueName(name string) bool {
	if _, ok := (Summary{}).scalar(name); ok {
		return true
	}
	switch name {
	case "goodput", "good_requests", "slo_attainment":
		return true
	}
	if _, ok := (Summary{}).countValue(name); ok {
		return true
	}
	i := strings.LastIndexByte(name, '_')
	if i < 0 || !slices.Contains(distributionNames(), name[:i]) {
		return false
	}
	if _, ok := (Distribution{Count: 1}).stat(name[i+1:]); ok {
		return true
	}
	_, ok := parsePercentile(name[i+1:])
	return ok
}

// ExtraPercentile returns the percentile that a value name such as
// "ttft_p99.9" or "itl_p75" refers to, when it is not one of the fixed
// four: [Summarize] must be asked for it with [WithPercentiles] for the
// value to exist.
func ExtraPercentile(name string) (float64, bool) {
	i := strings.LastIndexByte(name, '_')
	if i < 0 || !slices.Contains(distributionNames(), name[:i]) {
		return 0, false
	}
	p, ok := parsePercentile(name[i+1:])
	if !ok || slices.Contains([]float64{P50, P90, P95, P99}, p) {
		return 0, false
	}
	return p, true
}

// parsePercentile reads "pX" with 0 <= X <= 100.
func parsePercentile(s string) (float64, bool) {
	x, ok := strings.CutPrefix(s, "p")
	if !ok || x == "" || strings.ContainsAny(x, "+-eEinfINFxX_") {
		return 0, false
	}
	p, err := strconv.ParseFloat(x, 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}

// ValueNames lists the names [Summary.Value] always knows, for help texts
// and for checking a gate's name before a run. Names that depend on the
// summary (goodput's, extra percentiles, errors_CLASS, http_status_CODE)
// are described in [Summary.Value]; the error classes are listed.
func ValueNames() []string {
	names := []string{
		"requests", "warmup_requests", "not_sent", "succeeded", "failed", "attempts", "retries",
		"input_tokens", "output_tokens", "success_rate", "error_rate",
		"request_throughput", "output_throughput", "total_token_throughput",
		"request_rate", "requested_request_rate", "concurrency", "server_concurrency",
		"max_concurrency", "max_server_concurrency", "requested_concurrency", "duration_s",
		"goodput", "good_requests", "slo_attainment",
	}
	for _, c := range errorClasses() {
		names = append(names, "errors_"+string(c))
	}
	for _, m := range distributionNames() {
		for _, st := range []string{"count", "mean", "std", "min", "max", "median", "p50", "p90", "p95", "p99"} {
			names = append(names, m+"_"+st)
		}
	}
	return names
}

// scalar looks up the plain values of the summary.
func (s Summary) scalar(name string) (float64, bool) {
	m := map[string]float64{
		"requests":               float64(s.Requests),
		"warmup_requests":        float64(s.WarmupRequests),
		"not_sent":               float64(s.NotSent),
		"succeeded":              float64(s.Succeeded),
		"failed":                 float64(s.Failed),
		"attempts":               float64(s.Attempts),
		"retries":                float64(s.Retries),
		"input_tokens":           float64(s.InputTokens),
		"output_tokens":          float64(s.OutputTokens),
		"success_rate":           s.SuccessRate,
		"error_rate":             ratio(s.Failed, s.Requests),
		"request_throughput":     s.RequestThroughput,
		"output_throughput":      s.OutputThroughput,
		"total_token_throughput": s.TotalTokenThroughput,
		"request_rate":           s.RequestRate.Achieved,
		"requested_request_rate": s.RequestRate.Requested,
		"concurrency":            s.Concurrency.ClientMean,
		"server_concurrency":     s.Concurrency.ServerMean,
		"max_concurrency":        float64(s.Concurrency.ClientMax),
		"max_server_concurrency": float64(s.Concurrency.ServerMax),
		"requested_concurrency":  float64(s.Concurrency.Requested),
		"duration_s":             s.Window.DurationS,
	}
	v, ok := m[name]
	return v, ok
}

// goodputValue looks up the goodput values, which exist only with SLOs.
func (s Summary) goodputValue(name string) (float64, bool) {
	if s.Goodput == nil {
		return 0, false
	}
	switch name {
	case "goodput":
		return s.Goodput.RequestGoodput, true
	case "good_requests":
		return float64(s.Goodput.GoodRequests), true
	case "slo_attainment":
		return s.Goodput.SLOAttainment, true
	}
	return 0, false
}

// countValue looks up errors_CLASS and http_status_CODE.
func (s Summary) countValue(name string) (float64, bool) {
	if class, ok := strings.CutPrefix(name, "errors_"); ok {
		for _, c := range errorClasses() {
			if string(c) == class {
				return float64(s.ErrorsByClass[c]), true
			}
		}
		return 0, false
	}
	if code, ok := strings.CutPrefix(name, "http_status_"); ok {
		n, ok := statusCode(code)
		if !ok {
			return 0, false
		}
		return float64(s.HTTPStatusCounts[n]), true
	}
	return 0, false
}

// statusCode parses a three-digit HTTP status code.
func statusCode(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n := 0
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
	}
	return n, n >= 100
}

// distribution returns the distribution whose value-name prefix is name.
func (s Summary) distribution(name string) (Distribution, bool) {
	switch name {
	case "ttft":
		return s.TTFT, true
	case "server_ttft":
		return s.ServerTTFT, true
	case "queue_delay":
		return s.QueueDelay, true
	case "itl":
		return s.ITL, true
	case "tpot":
		return s.TPOT, true
	case "e2el":
		return s.E2EL, true
	case "failed_e2el":
		return s.FailedE2EL, true
	}
	return Distribution{}, false
}

// distributionNames lists the value-name prefixes of the distributions.
func distributionNames() []string {
	return []string{"ttft", "server_ttft", "queue_delay", "itl", "tpot", "e2el", "failed_e2el"}
}

// stat returns one statistic of the distribution by its value-name suffix.
func (d Distribution) stat(name string) (float64, bool) {
	switch name {
	case "count":
		return float64(d.Count), true
	}
	if d.Count == 0 { // no samples: no statistics
		return 0, false
	}
	switch name {
	case "mean":
		return d.Mean, true
	case "std":
		return d.Std, true
	case "min":
		return d.Min, true
	case "max":
		return d.Max, true
	case "median", "p50":
		return d.P50, true
	case "p90":
		return d.P90, true
	case "p95":
		return d.P95, true
	case "p99":
		return d.P99, true
	}
	// "p99.90" finds "p99.9".
	p, ok := parsePercentile(name)
	if !ok {
		return 0, false
	}
	v, ok := d.ExtraPercentiles[PercentileName(p)]
	return v, ok
}

// errorClasses lists the error classes of failed requests.
func errorClasses() []bencher.ErrorClass {
	return []bencher.ErrorClass{
		bencher.ErrTimeout, bencher.ErrConnection, bencher.ErrHTTPStatus,
		bencher.ErrStream, bencher.ErrInvalidResponse, bencher.ErrCanceled, bencher.ErrInvalidRequest,
		bencher.ErrBatchExpired, bencher.ErrBatchError,
	}
}
