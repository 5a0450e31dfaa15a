// Package batch polls OpenAI-compatible Batch APIs (GET /v1/batches) in the
// background and keeps, for each endpoint, a small precomputed summary that
// the exporter's batch collector serves at scrape time: how many batches
// there are in each status, and a bounded list of the batches that get
// series of their own (those not yet finished, and those finished recently).
//
// Scrapes never wait on the network: a Poller polls on its own interval and
// publishes an immutable Snapshot that readers load atomically.
package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// Status is a batch's status as the OpenAI Batch API names it.
type Status string

// The eight statuses of the OpenAI Batch object, and StatusUnknown, which
// stands for any other value a server sends.
const (
	StatusValidating Status = "validating"
	StatusFailed     Status = "failed"
	StatusInProgress Status = "in_progress"
	StatusFinalizing Status = "finalizing"
	StatusCompleted  Status = "completed"
	StatusExpired    Status = "expired"
	StatusCancelling Status = "cancelling"
	StatusCancelled  Status = "cancelled"
	StatusUnknown    Status = "unknown"
)

// statuses is the order in which statuses are counted and reported.
var statuses = [...]Status{
	StatusValidating, StatusFailed, StatusInProgress, StatusFinalizing,
	StatusCompleted, StatusExpired, StatusCancelling, StatusCancelled, StatusUnknown,
}

// Statuses returns the eight OpenAI statuses followed by StatusUnknown.
func Statuses() []Status { return statuses[:] }

// index is s's position in Statuses; any unrecognised value is unknown.
func (s Status) index() int {
	for i, v := range statuses[:len(statuses)-1] {
		if v == s {
			return i
		}
	}
	return len(statuses) - 1
}

// Known returns s, or StatusUnknown when s is not one of the OpenAI statuses.
func (s Status) Known() Status { return statuses[s.index()] }

// Finished reports whether s is terminal: completed, failed, expired or
// cancelled. Unknown statuses count as not finished.
func (s Status) Finished() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// RequestCounts are a batch's request counts.
type RequestCounts struct {
	Total     int64 `json:"total"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// Batch is the OpenAI Batch object, with the fields the exporter reads.
type Batch struct {
	ID            string        `json:"id"`
	Object        string        `json:"object,omitempty"`
	Endpoint      string        `json:"endpoint"`
	Model         string        `json:"model,omitempty"`
	Status        Status        `json:"status"`
	RequestCounts RequestCounts `json:"request_counts"`
	CreatedAt     Timestamp     `json:"created_at"`
	InProgressAt  Timestamp     `json:"in_progress_at,omitempty"`
	FinalizingAt  Timestamp     `json:"finalizing_at,omitempty"`
	CompletedAt   Timestamp     `json:"completed_at,omitempty"`
	FailedAt      Timestamp     `json:"failed_at,omitempty"`
	ExpiredAt     Timestamp     `json:"expired_at,omitempty"`
	CancellingAt  Timestamp     `json:"cancelling_at,omitempty"`
	CancelledAt   Timestamp     `json:"cancelled_at,omitempty"`
	ExpiresAt     Timestamp     `json:"expires_at,omitempty"`
	Metadata      Metadata      `json:"metadata,omitempty"`
}

// ModelName is the batch's model: the Batch object's own "model" field
// where the server sends one (OpenAI does), otherwise the "model" key of its
// metadata, otherwise "". The input file is never read.
func (b *Batch) ModelName() string {
	if b.Model != "" {
		return b.Model
	}
	return b.Metadata["model"]
}

// FinishedAt is when a finished batch finished: the timestamp that belongs
// to its status (completed_at, failed_at, expired_at or cancelled_at), else
// the latest of those four, else the latest timestamp the batch carries.
// It is zero for a batch that is not finished.
func (b *Batch) FinishedAt() Timestamp {
	var own Timestamp
	switch b.Status {
	case StatusCompleted:
		own = b.CompletedAt
	case StatusFailed:
		own = b.FailedAt
	case StatusExpired:
		own = b.ExpiredAt
	case StatusCancelled:
		own = b.CancelledAt
	default:
		return 0
	}
	if own != 0 {
		return own
	}
	if t := max(b.CompletedAt, b.FailedAt, b.ExpiredAt, b.CancelledAt); t != 0 {
		return t
	}
	return max(b.CreatedAt, b.InProgressAt, b.FinalizingAt, b.CancellingAt)
}

// Page is one page of GET /v1/batches.
type Page struct {
	Object  string  `json:"object"`
	Data    []Batch `json:"data"`
	FirstID string  `json:"first_id,omitempty"`
	LastID  string  `json:"last_id,omitempty"`
	HasMore bool    `json:"has_more"`
}

// Timestamp is a Unix time in seconds; 0 means absent. It decodes from a
// JSON number (integer or not) or null.
type Timestamp int64

// Time returns t as a time.Time in UTC, or the zero time when t is absent.
func (t Timestamp) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

var errBadTimestamp = errors.New("timestamp is not a number of seconds")

// UnmarshalJSON accepts a number or null. Its errors never quote the input.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = 0
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return errBadTimestamp
	}
	*t = Timestamp(f)
	return nil
}

// Metadata is a batch's metadata. OpenAI allows only string values; any
// other value is skipped rather than failing the whole page.
type Metadata map[string]string

// UnmarshalJSON keeps the string values of a JSON object (or null).
func (m *Metadata) UnmarshalJSON(b []byte) error {
	var strs map[string]string
	if json.Unmarshal(b, &strs) == nil {
		*m = strs
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(Metadata, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	*m = out
	return nil
}
