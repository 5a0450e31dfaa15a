package results

import (
	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/stats"
)

// Batch is what a batch-api run (config.run.mode batch_api) measured of its
// one Batch API job. Times are seconds from the run's start (the start of
// the input file's upload); a moment no poll saw is absent.
type Batch struct {
	// ID, InputFileID, OutputFileID and ErrorFileID are the server's.
	ID           string `json:"id"`
	Endpoint     string `json:"endpoint"`
	InputFileID  string `json:"input_file_id"`
	OutputFileID string `json:"output_file_id,omitempty"`
	ErrorFileID  string `json:"error_file_id,omitempty"`
	// FinalStatus is the last status a poll saw: completed, failed,
	// expired or cancelled, or another when the run ended first.
	FinalStatus string `json:"final_status"`
	// PollIntervalS is the longest interval between polls (they come
	// more often early in a job: see MakespanWithinS); Polls their number.
	PollIntervalS float64 `json:"poll_interval_s"`
	Polls         int     `json:"polls"`
	// UploadS is when the upload of the input file was answered;
	// CreatedS when the creation of the batch was.
	UploadS  float64 `json:"upload_s"`
	CreatedS float64 `json:"created_s"`
	// ToInProgressS is the time from the creation to the first poll that
	// saw the batch in_progress or later.
	ToInProgressS *float64 `json:"to_in_progress_s,omitempty"`
	// MakespanS is the time from the creation to the first poll that saw
	// the batch in a terminal status: the window of the summary's
	// throughputs.
	MakespanS *float64 `json:"makespan_s,omitempty"`
	// MakespanWithinS is the time between the last poll that saw the
	// batch still running and the first that saw it ended: the batch
	// ended within it, so MakespanS is at most this much too long.
	MakespanWithinS *float64 `json:"makespan_within_s,omitempty"`
	// ServerSpanS is, where the server reported per-request times, the
	// time from its first request queued to its last finished, by the
	// server's clock: the job's length without the polls' granularity
	// (MakespanS is up to a poll interval longer).
	ServerSpanS *float64 `json:"server_span_s,omitempty"`
	// Completed, Failed, Expired and Cancelled count the measured requests
	// by how they ended, from the output and error files (set by New from
	// the records) (Failed counts every
	// failure: the expired ones, the server's errors and the non-2xx
	// answers; cancelled requests are not failures).
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Expired   int `json:"expired"`
	Cancelled int `json:"cancelled"`
	// RequestCounts are the server's own counts, as the batch object
	// last said them.
	RequestCounts BatchCounts `json:"request_counts"`
	// PerRequestTiming says that the server reported when it queued,
	// started and finished each request (a Benchstation extension of the
	// output lines). Only then do the summary's queue_delay_ms (queued to
	// started) and e2el_ms (queued to finished) exist.
	PerRequestTiming bool `json:"per_request_timing"`
	// Errors are the batch's own errors (a batch that failed validation).
	Errors []string `json:"errors,omitempty"`
}

// BatchCounts are a batch's request counts.
type BatchCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// The metrics a batch-api run cannot measure: a batch answers each request
// whole, so there is no first token and no token timing; all requests are
// submitted at once, so there is no request rate.
var batchUnmeasured = []string{"ttft", "server_ttft", "itl", "tpot", "request_rate"}

// withoutTiming are what a batch-api run cannot measure either when the
// server reports no per-request times.
var withoutTiming = []string{"queue_delay", "e2el", "failed_e2el", "concurrency", "server_concurrency",
	"max_concurrency", "max_server_concurrency"}

// setBatch makes the summary of a batch-api run say what it measured: the
// throughputs over the makespan (or, when no poll saw the batch end, from
// its creation to the end of the run), and the values the mode cannot
// measure absent.
func setBatch(h *Header, b *Batch) {
	s := &h.Summary
	s.SetUnmeasured(batchUnmeasured...)
	if !b.PerRequestTiming {
		s.SetUnmeasured(withoutTiming...)
	}
	span := max(h.Environment.Duration().Seconds()-b.CreatedS, 0)
	if b.MakespanS != nil {
		span = *b.MakespanS
	}
	s.SetWindow(stats.Window{StartMS: b.CreatedS * 1000, EndMS: (b.CreatedS + span) * 1000, DurationS: span})
	b.Completed, b.Expired = s.Succeeded, s.ErrorsByClass[bencher.ErrBatchExpired]
	b.Cancelled = s.ErrorsByClass[bencher.ErrCanceled]
	b.Failed = s.Failed - b.Cancelled
}
