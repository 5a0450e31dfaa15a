package stats

import (
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// Summary is the analysis of one run's records. It is a plain value that
// goes into the run's result document as JSON; field names are stable.
// Maps are never nil, so they encode as {} when empty.
type Summary struct {
	// Requests is the number of measured (non-warm-up) records of
	// requests that were sent; WarmupRequests the number of warm-up records
	// left out of everything.
	Requests       int `json:"requests"`
	WarmupRequests int `json:"warmup_requests"`
	// NotSent is the number of measured records of requests that were
	// scheduled but never sent, because the run stopped first
	// (bencher.ErrNotSent). They are not failures: they are left out of
	// Requests, the failures, the success rate and every other figure.
	NotSent int `json:"not_sent"`
	// Succeeded and Failed split Requests by [bencher.Record.OK].
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// SuccessRate is Succeeded / Requests (0–1; 0 when there are none).
	SuccessRate float64 `json:"success_rate"`
	// ErrorsByClass counts the failed requests by error class.
	ErrorsByClass map[bencher.ErrorClass]int `json:"errors_by_class"`
	// HTTPStatusCounts counts the HTTP statuses of the failed requests of
	// class http_status (JSON keys are the status codes as strings).
	HTTPStatusCounts map[int]int `json:"http_status_counts"`
	// Attempts is the total number of attempts of the measured requests;
	// Retries the attempts beyond each request's first.
	Attempts int `json:"attempts"`
	Retries  int `json:"retries"`

	// InputTokens and OutputTokens are the token totals of the successful
	// measured requests (the ones the throughputs count).
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// TokenSources counts the successful measured records by where their
	// output token count came from ("usage" or "chunks"); records that say
	// nothing are not counted.
	TokenSources map[bencher.TokenSource]int `json:"token_sources"`

	// Window is the measured window the throughputs divide by.
	Window Window `json:"window"`
	// RequestThroughput is Succeeded per second of the window (req/s).
	RequestThroughput float64 `json:"request_throughput"`
	// OutputThroughput is OutputTokens per second of the window (tok/s).
	OutputThroughput float64 `json:"output_throughput"`
	// TotalTokenThroughput is InputTokens + OutputTokens per second of the
	// window (tok/s).
	TotalTokenThroughput float64 `json:"total_token_throughput"`
	// Goodput is present only when SLOs were given ([WithSLOs]), even for
	// no records.
	Goodput *Goodput `json:"goodput,omitempty"`

	// Concurrency compares the requested and achieved concurrency;
	// RequestRate the requested and achieved request rate.
	Concurrency Concurrency `json:"concurrency"`
	RequestRate RequestRate `json:"request_rate"`

	// The latency distributions of the successful measured requests, in
	// milliseconds (see the package documentation for the definitions).
	TTFT       Distribution `json:"ttft_ms"`
	ServerTTFT Distribution `json:"server_ttft_ms"`
	QueueDelay Distribution `json:"queue_delay_ms"`
	ITL        Distribution `json:"itl_ms"`
	TPOT       Distribution `json:"tpot_ms"`
	E2EL       Distribution `json:"e2el_ms"`
	// FailedE2EL is the distribution of End − Scheduled of the failed
	// measured requests, in milliseconds.
	FailedE2EL Distribution `json:"failed_e2el_ms"`

	// Unmeasured names what the run's mode cannot measure (see
	// [Summary.SetUnmeasured]): value names (concurrency, request_rate)
	// and metrics whose every statistic is meant (ttft: ttft_p95,
	// ttft_mean, …). Their values are absent; omitted for the online
	// modes, which measure everything.
	Unmeasured []string `json:"unmeasured,omitempty"`
}

// Window is the measured window: from the earliest Scheduled time to the
// latest End of the measured records, as offsets from the run's start.
type Window struct {
	// StartMS and EndMS are the window's bounds in milliseconds from the
	// run's start.
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	// DurationS is EndMS − StartMS in seconds.
	DurationS float64 `json:"duration_s"`
}

// Goodput reports the requests that met every per-request SLO.
type Goodput struct {
	// SLOs are the objectives, as [SLO.String] writes them.
	SLOs []string `json:"slos"`
	// GoodRequests is the number of measured requests that met every SLO
	// (a failed request meets none).
	GoodRequests int `json:"good_requests"`
	// RequestGoodput is GoodRequests per second of the window (req/s).
	RequestGoodput float64 `json:"request_goodput"`
	// SLOAttainment is GoodRequests / Requests (0–1).
	SLOAttainment float64 `json:"slo_attainment"`
}

// Concurrency is the requested and the achieved number of requests in
// flight.
type Concurrency struct {
	// Requested is the value given with [WithRequestedConcurrency] (0: none).
	Requested int `json:"requested"`
	// ClientMean is the time-weighted mean number of measured requests in
	// flight over the window, each from Scheduled to End; ServerMean the
	// same from Sent to End.
	ClientMean float64 `json:"client_mean"`
	ServerMean float64 `json:"server_mean"`
	// ClientMax and ServerMax are the largest numbers in flight at once in
	// the same two views.
	ClientMax int `json:"client_max"`
	ServerMax int `json:"server_max"`
}

// RequestRate is the requested and the achieved request rate (req/s).
type RequestRate struct {
	// Requested is the value given with [WithRequestedRate] (0: none, or
	// unlimited).
	Requested float64 `json:"requested"`
	// Achieved is (n − 1) / (last Scheduled − first Scheduled) in seconds
	// for the n measured requests; 0 for fewer than two or a zero span.
	Achieved float64 `json:"achieved"`
}

// Summarize computes the summary of a run's records. It neither modifies
// records nor keeps them, and they must not change while it runs. Its cost
// is linear in the number of records and chunks (a few passes over the
// chunk times, none of them copied), plus sorting the records' start and
// end times.
func Summarize(records []bencher.Record, opts ...Option) Summary {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	c := collect(records, cfg.slos)
	s := Summary{
		Requests:         c.requests,
		WarmupRequests:   c.warmup,
		NotSent:          c.notSent,
		Succeeded:        c.succeeded,
		Failed:           c.requests - c.succeeded,
		SuccessRate:      ratio(c.succeeded, c.requests),
		ErrorsByClass:    c.errors,
		HTTPStatusCounts: c.statuses,
		Attempts:         c.attempts,
		Retries:          c.retries,
		InputTokens:      c.inputTokens,
		OutputTokens:     c.outputTokens,
		TokenSources:     c.sources,
	}
	s.setThroughput(c, cfg.slos)
	s.Concurrency = concurrency(c, cfg.concurrency)
	s.RequestRate = RequestRate{Requested: cfg.rate, Achieved: achievedRate(c)}
	s.setDistributions(c, cfg.percentiles)
	return s
}

// setThroughput fills the window, the throughputs and the goodput.
func (s *Summary) setThroughput(c *collected, slos []SLO) {
	secs := seconds(c.end - c.start)
	s.Window = Window{StartMS: ms(c.start), EndMS: ms(c.end), DurationS: secs}
	s.RequestThroughput = perSecond(float64(c.succeeded), secs)
	s.OutputThroughput = perSecond(float64(c.outputTokens), secs)
	s.TotalTokenThroughput = perSecond(float64(c.inputTokens+c.outputTokens), secs)
	if len(slos) > 0 {
		g := &Goodput{
			SLOs:           make([]string, len(slos)),
			GoodRequests:   c.good,
			RequestGoodput: perSecond(float64(c.good), secs),
			SLOAttainment:  ratio(c.good, c.requests),
		}
		for i, slo := range slos {
			g.SLOs[i] = slo.String()
		}
		s.Goodput = g
	}
}

// setDistributions fills the latency distributions. The pooled ITLs, by
// far the largest set, are summarised in a goroutine of their own, reading
// the records' chunk times in place.
func (s *Summary) setDistributions(c *collected, extra []float64) {
	done := make(chan Distribution)
	go func() { done <- gapDistribution(c.chunks, extra) }()
	s.TTFT = distribution(c.ttft, extra)
	s.ServerTTFT = distribution(c.serverTTFT, extra)
	s.QueueDelay = distribution(c.queue, extra)
	s.TPOT = distribution(c.tpot, extra)
	s.E2EL = distribution(c.e2el, extra)
	s.FailedE2EL = distribution(c.failedE2EL, extra)
	s.ITL = <-done
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// seconds converts a duration to float seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }

// perSecond returns n / secs, or 0 for a window that is not positive.
func perSecond(n, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return n / secs
}

// ratio returns a / b, or 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
