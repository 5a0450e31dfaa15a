// Package bencher is a load generator for OpenAI-compatible LLM servers.
//
// It follows "measure, then analyse": the load loop records one Record per
// request with raw timestamps, and every summary (TTFT, ITL, TPOT, E2EL,
// throughput, goodput) is computed afterwards from the records (package
// stats). The definitions are those of the project's design notes:
//
//   - TTFT: from the moment the request was scheduled to be sent to the
//     first chunk that carries generated content (text or reasoning text);
//     the chat role-only chunk is not a token.
//   - ITL: the gaps between successive content chunks.
//   - TPOT: (E2EL − TTFT) / (output tokens − 1), for outputs of more than one token.
//   - E2EL: from the scheduled time to the end of the stream.
//
// Latencies start at the scheduled time, so queueing inside the client is
// never hidden; the send time is recorded too, so a "server view" (from
// send) is available as well.
package bencher

import (
	"encoding/json"
	"strings"
	"time"
)

// API selects the OpenAI endpoint a request is sent to.
type API string

// The supported APIs.
const (
	APICompletions API = "completions" // POST /v1/completions
	APIChat        API = "chat"        // POST /v1/chat/completions
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one unit of work, produced by a workload before the run starts.
type Request struct {
	// ID identifies the request in the results (a batch file's custom_id,
	// or the index in the workload).
	ID string `json:"id"`
	// Prompt is the text of a completions request; Messages that of a chat
	// request. Exactly one is set, matching the run's API, unless Body is set.
	Prompt   string    `json:"prompt,omitempty"`
	Messages []Message `json:"messages,omitempty"`
	// MaxTokens is the requested output length (max_tokens); 0 leaves it to the server.
	MaxTokens int `json:"max_tokens,omitempty"`
	// IgnoreEOS asks the server (vLLM) to generate exactly MaxTokens.
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
	// PromptTokens is the workload's estimate of the prompt length in
	// tokens, used when the server reports no usage.
	PromptTokens int `json:"prompt_tokens,omitempty"`
	// Body, when set, is sent as the request body as it is (an OpenAI batch
	// input line's body); the runner only sets "model" and "stream" fields.
	Body json.RawMessage `json:"body,omitempty"`
}

// ErrorClass classifies a failed request. The classes are a closed set, so
// they can be used as metric labels.
type ErrorClass string

// The error classes.
const (
	ErrNone            ErrorClass = ""
	ErrTimeout         ErrorClass = "timeout"          // the per-request timeout expired
	ErrConnection      ErrorClass = "connection"       // dial, reset, closed mid-stream
	ErrHTTPStatus      ErrorClass = "http_status"      // a non-2xx answer
	ErrStream          ErrorClass = "stream_error"     // an {"error": …} event after HTTP 200
	ErrInvalidResponse ErrorClass = "invalid_response" // a body that is not the OpenAI wire format
	ErrCanceled        ErrorClass = "canceled"         // the run was stopped before the request ended
	ErrInvalidRequest  ErrorClass = "invalid_request"  // the request could not be built (a Body that is not a JSON object)
	// ErrBatchExpired and ErrBatchError are the requests of a Batch API job
	// (ModeBatchAPI) that its error file or its end reported as failed:
	// expired with the job (code batch_expired), or with another code of
	// the server's, which the record's message starts with.
	ErrBatchExpired ErrorClass = "batch_expired"
	ErrBatchError   ErrorClass = "batch_error"
	// ErrNotSent marks a request that was scheduled but never sent, because
	// the run stopped first (interrupted, or the error rate). It is not a
	// failure: summaries count it apart (not_sent), outside the requests,
	// the failures and the success rate.
	ErrNotSent ErrorClass = "not_sent"
)

// The stages of a streamed request's timeout (Record.TimeoutStage).
const (
	StageFirstToken    = "first_token"    // no content token had come
	StageBetweenTokens = "between_tokens" // after the first content token
)

// TokenSource says where a record's output token count came from.
type TokenSource string

// The token sources.
const (
	TokensFromUsage  TokenSource = "usage"  // the server's usage object
	TokensFromChunks TokenSource = "chunks" // the count of content chunks
)

// Record is what was measured for one request. Times are offsets from the
// start of the run (Result.Start), so records are compact and exact.
type Record struct {
	// Index is the request's position in the schedule; ID is Request.ID.
	Index int    `json:"index"`
	ID    string `json:"id,omitempty"`
	// Warmup records are measured but left out of every summary.
	Warmup bool `json:"warmup,omitempty"`

	// Scheduled is when the load shape said the request should start;
	// Sent when its first attempt was sent (0 for a request never sent);
	// FirstToken when the first chunk carrying generated content arrived
	// (0: none); End when the response ended, successfully or not.
	Scheduled time.Duration `json:"scheduled_ns"`
	Sent      time.Duration `json:"sent_ns"`
	// AttemptSent is the send time of every attempt of a retried request,
	// the first (Sent) included; empty for a request of one attempt. The
	// first token, chunks and end are those of the last attempt.
	AttemptSent []time.Duration `json:"attempt_sent_ns,omitempty"`
	FirstToken  time.Duration   `json:"first_token_ns,omitempty"`
	End         time.Duration   `json:"end_ns"`
	// ChunkTimes are the arrival offsets of every content chunk, the first
	// included; ITL is their successive differences.
	ChunkTimes []time.Duration `json:"chunk_times_ns,omitempty"`

	InputTokens  int         `json:"input_tokens"`
	OutputTokens int         `json:"output_tokens"`
	TokenSource  TokenSource `json:"token_source,omitempty"`

	Attempts   int        `json:"attempts"`
	HTTPStatus int        `json:"http_status,omitempty"`
	Error      ErrorClass `json:"error,omitempty"`
	// ErrorMessage is the server's or the transport's message, shortened; it
	// never contains a credential of the client (the API key, a credential
	// header's value, the target's user-info), in any form the redactor
	// knows (see WithRedactor).
	ErrorMessage string `json:"error_message,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"`
	// TimeoutStage says where a streamed request timed out (ErrTimeout):
	// StageFirstToken before its first token, StageBetweenTokens after it.
	TimeoutStage string `json:"timeout_stage,omitempty"`

	// Output is the generated text (scrubbed of the client's credentials,
	// as ErrorMessage is), and Prompt the request's prompt (chat
	// messages as "role: content" lines, a batch body as its JSON), both
	// recorded only on request (--record-outputs).
	Output string `json:"output,omitempty"`
	Prompt string `json:"prompt,omitempty"`
}

// OK reports whether the request completed without error.
func (r *Record) OK() bool { return r.Error == ErrNone }

// NotSent reports whether the request was never sent (ErrNotSent): it is
// neither a success nor a failure.
func (r *Record) NotSent() bool { return r.Error == ErrNotSent }

// Failed reports whether the request was sent and did not succeed.
func (r *Record) Failed() bool { return r.Error != ErrNone && r.Error != ErrNotSent }

// TTFT is the time to first token from the scheduled time, and whether
// there was a first token.
func (r *Record) TTFT() (time.Duration, bool) {
	if r.FirstToken == 0 {
		return 0, false
	}
	return r.FirstToken - r.Scheduled, true
}

// E2E is the end-to-end latency from the scheduled time.
func (r *Record) E2E() time.Duration { return r.End - r.Scheduled }

// TPOT is the time per output token after the first, and whether it is
// defined (a successful request with more than one output token).
func (r *Record) TPOT() (time.Duration, bool) {
	ttft, ok := r.TTFT()
	if !ok || !r.OK() || r.OutputTokens < 2 {
		return 0, false
	}
	return (r.E2E() - ttft) / time.Duration(r.OutputTokens-1), true
}

// LastSent is the send time of the request's last attempt (the one that
// succeeded, for a successful request): Sent unless it was retried.
func (r *Record) LastSent() time.Duration {
	if n := len(r.AttemptSent); n > 0 {
		return r.AttemptSent[n-1]
	}
	return r.Sent
}

// ServerTTFT is the time to first token from the send of the last attempt
// (the "server view"), and whether there was a first token: the earlier
// attempts of a retried request and the waits before retrying are not in
// it.
func (r *Record) ServerTTFT() (time.Duration, bool) {
	if r.FirstToken == 0 {
		return 0, false
	}
	return r.FirstToken - r.LastSent(), true
}

// QueueDelay is how long the request waited in the client between its
// scheduled time and its first sending.
func (r *Record) QueueDelay() time.Duration { return r.Sent - r.Scheduled }

// PromptText renders what r asks the server: its prompt, its chat messages
// as "role: content" lines, or its raw batch body.
func (r *Request) PromptText() string {
	switch {
	case len(r.Body) > 0:
		return string(r.Body)
	case len(r.Messages) > 0:
		var b strings.Builder
		for i, m := range r.Messages {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(m.Role)
			b.WriteString(": ")
			b.WriteString(m.Content)
		}
		return b.String()
	}
	return r.Prompt
}
