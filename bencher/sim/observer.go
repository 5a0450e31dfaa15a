package sim

import "time"

// Record is the server-side truth about one generation request that passed
// validation, for tests of a load generator's accuracy. Times are from the
// server's clock (time.Now, with its monotonic reading); zero when the
// request never got that far.
type Record struct {
	// ID is the response id ("cmpl-…" or "chatcmpl-…") the client sees.
	ID string
	// Index is the arrival index among validated requests, from 0.
	Index uint64
	// Endpoint is the request path (a batch request's: its batch's endpoint).
	Endpoint string
	// BatchID is the id of the batch the request belongs to; "" for an
	// online request.
	BatchID string
	// Stream tells whether the response was streamed.
	Stream bool
	// Status is the HTTP status sent (0 when the connection was closed
	// before any response).
	Status int
	// Fault is the injected fault, if any.
	Fault FaultKind
	// PromptTokens, MaxTokens: the request's prompt length and output limit.
	PromptTokens, MaxTokens int
	// CachedTokens is the prefix-cache hit of the request's last admission.
	CachedTokens int
	// OutputTokens is the number of tokens the engine generated.
	OutputTokens int
	// SentTokens is the number of tokens written to the client.
	SentTokens int
	// Preemptions counts how often the request was preempted.
	Preemptions int
	// FinishReason is "stop", "length", "abort" or "error" ("" when the
	// request never reached the engine).
	FinishReason string
	// Arrived is when the validated request was handed to the engine.
	Arrived time.Time
	// Scheduled is when the engine first scheduled it.
	Scheduled time.Time
	// FirstToken is when the engine generated its first token.
	FirstToken time.Time
	// FirstTokenSent is when the bytes carrying the first token were handed
	// to the connection (taken just before the write, so a client can never
	// receive the token earlier).
	FirstTokenSent time.Time
	// Finished is when the engine finished it.
	Finished time.Time
	// Done is when the handler returned.
	Done time.Time
}

// Observer receives a Record for every generation request that passed
// validation, when its handler is done (a batch request's: when its output
// line is written; its Stream is false, and its Status the status_code of
// its line). It is called from the request's
// goroutine: implementations must be safe for concurrent use and quick.
type Observer interface {
	Observe(Record)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Record)

// Observe calls f(r).
func (f ObserverFunc) Observe(r Record) { f(r) }

var _ Observer = ObserverFunc(nil)
