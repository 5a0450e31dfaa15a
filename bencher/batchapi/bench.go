package batchapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// CleanupTimeout bounds what Bench does after its context ended: cancel
// the batch, wait for it to stop and fetch what it finished.
const CleanupTimeout = 30 * time.Second

// BenchOptions configure Bench.
type BenchOptions struct {
	// API selects the endpoint of every request (/v1/completions or
	// /v1/chat/completions); Model names the model in every body (a batch
	// has no default model: it is required).
	API   bencher.API
	Model string
	// Poll is the interval between reads of the batch's status (0:
	// DefaultPoll).
	Poll time.Duration
	// Metadata is the batch's metadata (OpenAI allows 16 pairs).
	Metadata map[string]string
	// Seen, when not nil, is called with every batch object read.
	Seen func(Batch)
}

// Outcome is what Bench measured of one batch.
type Outcome struct {
	// Result holds one record per request, by index, timed as offsets
	// from Result.Start (the start of the upload). Records carry no first
	// token and no chunks: a batch answers whole, so TTFT, ITL and TPOT do
	// not exist.
	Result *bencher.Result
	// Batch is the last batch object read ("" ID when none was created).
	Batch Batch
	// Uploaded and Created are when the input file was uploaded and the
	// batch created; InProgress is when a poll first saw it started (nil
	// when none did), Done when a poll first saw it terminal (nil when
	// none did: the run ended first).
	Uploaded, Created time.Duration
	InProgress, Done  *time.Duration
	// DoneWithin is, with Done, the time between the poll before it and
	// Done: the batch ended within it, so the makespan is this precise.
	DoneWithin *time.Duration
	// Polls counts the reads of the batch's status.
	Polls int
	// Timing says that the server reported per-request times (the
	// Benchstation extension) for every request it answered; without it
	// the records' times are the batch's, not the requests'.
	Timing bool
	// ServerSpan is, with Timing, the time from the first request queued
	// to the last one finished, by the server's clock: the job's length
	// without the polls' granularity (nil without Timing).
	ServerSpan *time.Duration
	// Cancelled says that Bench asked the server to cancel the batch,
	// because its context ended.
	Cancelled bool
	// ErrorLines counts the lines of the error file, by error code.
	ErrorLines map[string]int

	lastSeen time.Duration    // when the last batch object was read
	answers  []answer         // by request index
	red      *secret.Redactor // the client's
}

// Bench runs reqs as one batch: it builds the input file, uploads it,
// creates the batch, polls it until it ends and reads its output and error
// files into records. When ctx ends first, it cancels the batch, fetches
// what the batch finished, and returns the outcome with ctx's error. Its
// other errors name the call that failed; the outcome is then nil when no
// batch was created, or holds what was known.
func Bench(ctx context.Context, c *Client, reqs []bencher.Request, o BenchOptions) (*Outcome, error) {
	endpoint, err := endpointOf(o.API)
	if err != nil {
		return nil, err
	}
	if o.Model == "" {
		return nil, errors.New("batch API: no model: every request of a batch must name one")
	}
	input, ids, err := inputFile(reqs, o.API, o.Model, endpoint)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	out := &Outcome{Result: &bencher.Result{Start: start, Config: bencher.RunConfig{
		Target: c.base, API: o.API, Model: o.Model, Mode: bencher.ModeBatchAPI, Requests: len(reqs)}},
		ErrorLines: map[string]int{}, red: c.red}
	since := func() time.Duration { return time.Since(start) }
	file, err := c.UploadFile(ctx, "bencher-batch-input.jsonl", input)
	if err != nil {
		return nil, err
	}
	out.Uploaded = since()
	b, err := c.CreateBatch(ctx, CreateRequest{InputFileID: file.ID, Endpoint: endpoint, Metadata: o.Metadata})
	if err != nil {
		return nil, err
	}
	out.Created, out.Batch = since(), b
	seen := func(b Batch) {
		out.Polls++
		out.observe(b, since())
		if o.Seen != nil {
			o.Seen(b)
		}
	}
	out.observe(b, out.Created)
	final, err := c.Wait(ctx, b.ID, o.Poll, seen)
	if err != nil && ctx.Err() == nil {
		return out.finish(ids, since()), err
	}
	work := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		work, cancel = context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		out.Cancelled = true
		if final, err = c.stop(work, b.ID, o.Poll, seen); err != nil {
			return out.finish(ids, since()), errors.Join(ctx.Err(), err)
		}
	}
	out.Batch = final
	if err := out.read(work, c, ids); err != nil {
		return out.finish(ids, since()), errors.Join(ctx.Err(), err)
	}
	return out.finish(ids, since()), ctx.Err()
}

// observe notes the times a batch object shows.
func (o *Outcome) observe(b Batch, at time.Duration) {
	o.Batch = b
	if o.InProgress == nil && Started(b.Status) {
		o.InProgress = &at
	}
	if o.Done == nil && Terminal(b.Status) {
		o.Done = &at
		within := at - o.lastSeen
		o.DoneWithin = &within
	}
	o.lastSeen = at
}

// stop cancels a batch and waits for it to end.
func (c *Client) stop(ctx context.Context, id string, poll time.Duration, seen func(Batch)) (Batch, error) {
	b, err := c.CancelBatch(ctx, id)
	if err != nil {
		return b, fmt.Errorf("cancelling batch %s: %w", id, err)
	}
	if Terminal(b.Status) {
		seen(b)
		return b, nil
	}
	b, err = c.Wait(ctx, id, poll, seen)
	if err != nil {
		return b, fmt.Errorf("waiting for batch %s to stop after cancelling it: %w", id, err)
	}
	return b, nil
}

// endpointOf returns the batch endpoint of an API.
func endpointOf(api bencher.API) (string, error) {
	switch api {
	case bencher.APIChat:
		return "/v1/chat/completions", nil
	case bencher.APICompletions:
		return "/v1/completions", nil
	}
	return "", fmt.Errorf("batch API: unknown API %q (want %q or %q)", api, bencher.APICompletions, bencher.APIChat)
}

// inputFile builds the batch input file of reqs, and the custom_id of
// each request: its own ID when that is set and unique, else
// "request-<index>".
func inputFile(reqs []bencher.Request, api bencher.API, model, endpoint string) ([]byte, []string, error) {
	if len(reqs) == 0 {
		return nil, nil, errors.New("batch API: no request to send")
	}
	ids := customIDs(reqs)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range reqs {
		body, err := bencher.RequestBody(api, model, &reqs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("batch API: request %s: %w", ids[i], err)
		}
		if err := enc.Encode(InputLine{CustomID: ids[i], Method: "POST", URL: endpoint, Body: body}); err != nil {
			return nil, nil, fmt.Errorf("batch API: request %s: %w", ids[i], err)
		}
	}
	return buf.Bytes(), ids, nil
}

// customIDs returns the custom_id of each request.
func customIDs(reqs []bencher.Request) []string {
	count := map[string]int{}
	for i := range reqs {
		count[reqs[i].ID]++
	}
	ids := make([]string, len(reqs))
	for i := range reqs {
		if id := reqs[i].ID; id != "" && count[id] == 1 {
			ids[i] = id
		} else {
			id := "request-" + strconv.Itoa(i)
			for count[id] > 0 { // a request's own ID took it
				id += "_"
			}
			ids[i] = id
		}
	}
	return ids
}

// Section returns the run document's account of the batch (results.Batch),
// its server-given strings scrubbed by red; poll is the interval polled at.
func (o *Outcome) Section(poll time.Duration, red *secret.Redactor) *results.Batch {
	b := o.Batch
	sec := func(d time.Duration) float64 { return d.Seconds() }
	since := func(at *time.Duration) *float64 {
		if at == nil {
			return nil
		}
		v := sec(*at - o.Created)
		return &v
	}
	rb := &results.Batch{
		ID: red.Value(b.ID), Endpoint: red.Value(b.Endpoint), InputFileID: red.Value(b.InputFileID),
		OutputFileID: red.Value(b.OutputFileID), ErrorFileID: red.Value(b.ErrorFileID),
		FinalStatus: red.Value(b.Status), PollIntervalS: sec(poll), Polls: o.Polls,
		UploadS: sec(o.Uploaded), CreatedS: sec(o.Created),
		ToInProgressS: since(o.InProgress), MakespanS: since(o.Done), MakespanWithinS: seconds(o.DoneWithin),
		ServerSpanS:      seconds(o.ServerSpan),
		RequestCounts:    results.BatchCounts(b.RequestCounts),
		PerRequestTiming: o.Timing,
	}
	if b.Errors != nil {
		for _, e := range b.Errors.Data {
			rb.Errors = append(rb.Errors, e.String())
		}
	}
	return rb
}

// seconds returns d in seconds, nil for nil.
func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := d.Seconds()
	return &v
}
