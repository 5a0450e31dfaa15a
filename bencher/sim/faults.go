package sim

import (
	"log/slog"
	"time"
)

// Faults sets seeded fault injection. Each share is the probability, from 0
// to 1, that a request gets that fault; a request gets at most one fault, and
// the shares should add up to at most 1 (if they add up to more, they are
// scaled down to add up to 1).
type Faults struct {
	// RateLimit is the share answered 429 with a Retry-After header.
	RateLimit float64
	// ServerError is the share answered 500.
	ServerError float64
	// ContextTooLong is the share answered 400 with vLLM's context-length error.
	ContextTooLong float64
	// Abort is the share whose connection is closed mid-stream (a
	// non-streaming request's connection is closed without a response).
	Abort float64
	// ErrorEvent is the share that gets a data: {"error": ...} event mid-stream
	// after HTTP 200 (a non-streaming request gets a 500).
	ErrorEvent float64
	// Stall is the share that pauses for StallDuration mid-stream.
	Stall float64
	// RetryAfter is the Retry-After of 429 responses, rounded up to seconds.
	RetryAfter time.Duration
	// StallDuration is the pause of a stall.
	StallDuration time.Duration
}

// FaultKind names an injected fault in a Record.
type FaultKind string

// The injected faults.
const (
	FaultNone           FaultKind = ""
	FaultRateLimit      FaultKind = "rate_limit"
	FaultServerError    FaultKind = "server_error"
	FaultContextTooLong FaultKind = "context_too_long"
	FaultAbort          FaultKind = "abort"
	FaultErrorEvent     FaultKind = "error_event"
	FaultStall          FaultKind = "stall"
)

func (f *Faults) shares() []*float64 {
	return []*float64{&f.RateLimit, &f.ServerError, &f.ContextTooLong, &f.Abort, &f.ErrorEvent, &f.Stall}
}

func (f *Faults) normalize(log *slog.Logger) {
	sum := 0.0
	for _, p := range f.shares() {
		*p = min(max(*p, 0), 1)
		sum += *p
	}
	if sum > 1 {
		log.Warn("sim: fault shares add up to more than 1; scaled down", "sum", sum)
		for _, p := range f.shares() {
			*p /= sum
		}
	}
}

// draw picks the fault of the request with arrival index idx.
func (f *Faults) draw(seed, idx uint64) FaultKind {
	u := unitFloat(mix(seed ^ mix(idx^0xfa017)))
	kinds := [...]FaultKind{FaultRateLimit, FaultServerError, FaultContextTooLong, FaultAbort, FaultErrorEvent, FaultStall}
	acc := 0.0
	for i, p := range f.shares() {
		acc += *p
		if *p > 0 && u < acc {
			return kinds[i]
		}
	}
	return FaultNone
}

// faultPosition is where in an output of n tokens a mid-stream fault strikes:
// the number of tokens sent before it, in [1, n-1] when n > 1, else 0 for a
// stall and 1 for a cut (abort or error event).
func faultPosition(kind FaultKind, seed, idx uint64, n int) int {
	if n <= 1 {
		if kind == FaultStall {
			return 0
		}
		return n
	}
	return 1 + int(mix(seed^mix(idx^0x5ca1ab1e))%uint64(n-1))
}
