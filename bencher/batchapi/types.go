package batchapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// File is an OpenAI file object. Fields the client does not read are
// ignored.
type File struct {
	ID        string `json:"id"`
	Bytes     int64  `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status,omitempty"`
}

// The statuses of a batch.
const (
	StatusValidating = "validating"
	StatusFailed     = "failed"
	StatusInProgress = "in_progress"
	StatusFinalizing = "finalizing"
	StatusCompleted  = "completed"
	StatusExpired    = "expired"
	StatusCancelling = "cancelling"
	StatusCancelled  = "cancelled"
)

// Statuses lists the statuses of a batch, in the order a batch goes
// through them.
func Statuses() []string {
	return []string{StatusValidating, StatusInProgress, StatusFinalizing, StatusCompleted, StatusFailed,
		StatusExpired, StatusCancelling, StatusCancelled}
}

// Terminal reports whether a batch in status will not change any more:
// completed, failed, expired or cancelled. An unknown status is not.
func Terminal(status string) bool {
	return slices.Contains([]string{StatusCompleted, StatusFailed, StatusExpired, StatusCancelled}, status)
}

// Started reports whether a batch in status has begun to run its requests,
// or is past it: in_progress or any later status but failed (a batch that
// failed validation never ran).
func Started(status string) bool {
	return slices.Contains([]string{StatusInProgress, StatusFinalizing, StatusCompleted, StatusExpired,
		StatusCancelling, StatusCancelled}, status)
}

// Batch is an OpenAI batch object. Fields the client does not read are
// ignored; the times are Unix seconds, 0 when not (yet) set.
type Batch struct {
	ID               string            `json:"id"`
	Endpoint         string            `json:"endpoint"`
	Errors           *BatchErrors      `json:"errors"`
	InputFileID      string            `json:"input_file_id"`
	CompletionWindow string            `json:"completion_window"`
	Status           string            `json:"status"`
	OutputFileID     string            `json:"output_file_id"`
	ErrorFileID      string            `json:"error_file_id"`
	CreatedAt        int64             `json:"created_at"`
	InProgressAt     int64             `json:"in_progress_at"`
	ExpiresAt        int64             `json:"expires_at"`
	FinalizingAt     int64             `json:"finalizing_at"`
	CompletedAt      int64             `json:"completed_at"`
	FailedAt         int64             `json:"failed_at"`
	ExpiredAt        int64             `json:"expired_at"`
	CancellingAt     int64             `json:"cancelling_at"`
	CancelledAt      int64             `json:"cancelled_at"`
	RequestCounts    RequestCounts     `json:"request_counts"`
	Usage            *Usage            `json:"usage"`
	Metadata         map[string]string `json:"metadata"`
}

// Usage is a batch's token usage, the sums over its completed requests
// (OpenAI's Batch.usage; nil when the server sends none, as older servers
// and batches that have not run).
type Usage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// BatchErrors are the errors of a batch that failed validation.
type BatchErrors struct {
	Data []BatchError `json:"data"`
}

// BatchError is one error of a batch's input.
type BatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param"`
	Line    *int   `json:"line"`
}

// String renders the error as "code: message (line N)".
func (e BatchError) String() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Line != nil {
		s += fmt.Sprintf(" (line %d)", *e.Line)
	}
	return s
}

// RequestCounts are a batch's request counts.
type RequestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// BatchList is one page of GET /batches.
type BatchList struct {
	Data    []Batch `json:"data"`
	FirstID string  `json:"first_id"`
	LastID  string  `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// InputLine is one line of a batch input file.
type InputLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// OutputLine is one line of a batch's output or error file.
type OutputLine struct {
	ID       string     `json:"id"`
	CustomID string     `json:"custom_id"`
	Response *Response  `json:"response"`
	Error    *LineError `json:"error"`
}

// Response is the answer to one request of a batch.
type Response struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body"`
	// Timing is the Benchstation extension: when the server queued,
	// started and finished the request. Real OpenAI sends none (nil).
	Timing *Timing `json:"timing,omitempty"`
}

// Timing is when the server queued, started and finished one request of a
// batch, in Unix seconds (fractional), by the server's clock.
type Timing struct {
	EnqueuedAt float64 `json:"enqueued_at"`
	StartedAt  float64 `json:"started_at"`
	FinishedAt float64 `json:"finished_at"`
}

// valid reports whether the times are set and in order.
func (t *Timing) valid() bool {
	return t != nil && t.EnqueuedAt > 0 && t.StartedAt >= t.EnqueuedAt && t.FinishedAt >= t.StartedAt
}

// LineError is the error of one request of a batch (code batch_expired,
// batch_cancelled, or the server's own).
type LineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Codes of line errors.
const (
	CodeExpired   = "batch_expired"
	CodeCancelled = "batch_cancelled"
)

// ParseOutput reads a batch output or error file, one JSON object per
// line, calling fn for each. Blank lines are skipped; a line that is not
// an output line is an error naming the line.
func ParseOutput(r io.Reader, name string, fn func(OutputLine) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxObjectBytes)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var o OutputLine
		if err := json.Unmarshal(line, &o); err != nil {
			return fmt.Errorf("%s line %d: not a batch output line: %w", name, n, err)
		}
		if o.CustomID == "" {
			return fmt.Errorf("%s line %d: no custom_id", name, n)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", name, n+1, err)
	}
	return nil
}
