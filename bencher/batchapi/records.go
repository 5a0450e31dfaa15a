package batchapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
)

// answer is what the output and error files said of one request.
type answer struct {
	line OutputLine
	ok   bool // a line was read
}

// read downloads the batch's output and error files into o's answers.
func (o *Outcome) read(ctx context.Context, c *Client, ids []string) error {
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	o.answers = make([]answer, len(ids))
	for _, f := range []struct{ id, what string }{{o.Batch.OutputFileID, "output"}, {o.Batch.ErrorFileID, "error"}} {
		if f.id == "" {
			continue
		}
		var buf bytes.Buffer
		if err := c.FileContent(ctx, f.id, &buf); err != nil {
			return fmt.Errorf("downloading the %s file %s of batch %s: %w", f.what, f.id, o.Batch.ID, err)
		}
		name := fmt.Sprintf("the %s file %s of batch %s", f.what, f.id, o.Batch.ID)
		err := ParseOutput(&buf, name, func(l OutputLine) error {
			i, ok := index[l.CustomID]
			if !ok {
				return fmt.Errorf("%s: custom_id %q is none of the requests'", name, c.red.Value(l.CustomID))
			}
			if l.Error != nil {
				o.ErrorLines[c.red.Value(l.Error.Code)]++
			}
			o.answers[i] = answer{line: l, ok: true}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finish builds the records from the answers read (none when the files
// could not be read), and ends the result at end.
func (o *Outcome) finish(ids []string, end time.Duration) *Outcome {
	res := o.Result
	res.End = res.Start.Add(end)
	res.StopReason = bencher.StopCompleted
	if o.Cancelled {
		res.StopReason = bencher.StopInterrupted
	}
	if len(o.answers) != len(ids) {
		o.answers = make([]answer, len(ids))
	}
	done := end
	if o.Done != nil {
		done = *o.Done
	}
	shift, timed := o.clock()
	o.Timing = timed
	res.Records = make([]bencher.Record, len(ids))
	for i, id := range ids {
		r := &res.Records[i]
		r.Index, r.ID, r.Attempts = i, id, 1
		r.Scheduled, r.Sent, r.End = o.Created, o.Created, done
		a := o.answers[i]
		switch {
		case !a.ok:
			o.unanswered(r)
		case a.line.Error != nil && a.line.Response == nil:
			lineError(r, a.line.Error)
		default:
			response(r, a.line.Response)
		}
		if a.ok && timed && a.line.Response != nil && a.line.Response.Timing.valid() {
			t := a.line.Response.Timing
			r.Scheduled, r.Sent, r.End = shift(t.EnqueuedAt), shift(t.StartedAt), shift(t.FinishedAt)
		}
		r.ErrorMessage, r.FinishReason = shorten(o.red.String(r.ErrorMessage)), o.red.Value(r.FinishReason)
	}
	return o
}

// clock returns the function that places the server's per-request times on
// the run's clock, and whether every answered request has them: the
// earliest enqueued_at is placed at the batch's creation, so the server's
// clock need not agree with the client's.
func (o *Outcome) clock() (func(float64) time.Duration, bool) {
	first, last, n := math.Inf(1), math.Inf(-1), 0
	for _, a := range o.answers {
		if !a.ok || a.line.Response == nil {
			continue
		}
		if !a.line.Response.Timing.valid() {
			return nil, false
		}
		first = min(first, a.line.Response.Timing.EnqueuedAt)
		last = max(last, a.line.Response.Timing.FinishedAt)
		n++
	}
	if n == 0 {
		return nil, false
	}
	span := time.Duration((last - first) * float64(time.Second))
	o.ServerSpan = &span
	created := o.Created
	return func(t float64) time.Duration {
		return created + time.Duration((t-first)*float64(time.Second))
	}, true
}

// unanswered fills the record of a request that neither file mentions, by
// how the batch ended.
func (o *Outcome) unanswered(r *bencher.Record) {
	switch o.Batch.Status {
	case StatusExpired:
		r.Error, r.ErrorMessage = bencher.ErrBatchExpired, "the batch expired before the request ran"
	case StatusCancelled, StatusCancelling:
		r.Error, r.ErrorMessage = bencher.ErrCanceled, "the batch was cancelled before the request ran"
	case StatusFailed:
		r.Error, r.ErrorMessage = bencher.ErrBatchError, "the batch failed: "+o.batchErrors()
	case StatusCompleted:
		r.Error, r.ErrorMessage = bencher.ErrInvalidResponse, "the completed batch's files have no line for the request"
	default:
		r.Error, r.ErrorMessage = bencher.ErrCanceled, "the run ended while the batch was "+o.Batch.Status
	}
}

// batchErrors renders the errors of a failed batch.
func (o *Outcome) batchErrors() string {
	if o.Batch.Errors == nil || len(o.Batch.Errors.Data) == 0 {
		return "the server gave no reason"
	}
	var parts []string
	for _, e := range o.Batch.Errors.Data {
		parts = append(parts, e.String())
	}
	return strings.Join(parts, "; ")
}

// lineError fills the record of a request the error file reports.
func lineError(r *bencher.Record, e *LineError) {
	switch e.Code {
	case CodeExpired:
		r.Error = bencher.ErrBatchExpired
	case CodeCancelled:
		r.Error = bencher.ErrCanceled
	default:
		r.Error = bencher.ErrBatchError
	}
	r.ErrorMessage = e.Code
	if e.Message != "" {
		r.ErrorMessage = strings.TrimPrefix(e.Code+": "+e.Message, ": ")
	}
}

// completion is what a record reads of a response body.
type completion struct {
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Choices []struct {
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Error *struct {
		Message string `json:"message"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// response fills the record of a request the server answered.
func response(r *bencher.Record, resp *Response) {
	r.HTTPStatus = resp.StatusCode
	var body completion
	parseErr := json.Unmarshal(resp.Body, &body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		r.Error, r.ErrorMessage = bencher.ErrHTTPStatus, fmt.Sprintf("HTTP %d", resp.StatusCode)
		if parseErr == nil && body.Error != nil && body.Error.Message != "" {
			r.ErrorMessage += ": " + body.Error.Message
		}
		return
	}
	r.HTTPStatus = 0 // as the online client: a status only on failures
	if parseErr != nil {
		r.Error, r.ErrorMessage = bencher.ErrInvalidResponse, "the response body is not a completion: "+parseErr.Error()
		return
	}
	if len(body.Choices) > 0 {
		r.FinishReason = body.Choices[0].FinishReason
	}
	if body.Usage != nil {
		r.InputTokens, r.OutputTokens = body.Usage.PromptTokens, body.Usage.CompletionTokens
		r.TokenSource = bencher.TokensFromUsage
	}
}
