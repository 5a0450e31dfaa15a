package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// batchPhase names the points where a test's batch hook is called.
type batchPhase int

const (
	phaseValidating batchPhase = iota // before the input file is read
	phaseInProgress                   // after the status became in_progress, before the first request
	phaseFinalizing                   // after the status became finalizing, before the files are written
)

// errShutdown stops batches when the server closes.
var errShutdown = errors.New("sim: server closed")

// batchRuntime runs the batches of a Server.
type batchRuntime struct {
	ctx   context.Context // cancelled with errShutdown by Close
	stop  context.CancelCauseFunc
	slots chan struct{} // one per batch request held in the engine

	mu     sync.Mutex // orders wg.Add before Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
}

func newBatchRuntime(slots int) *batchRuntime {
	ctx, stop := context.WithCancelCause(context.Background())
	return &batchRuntime{ctx: ctx, stop: stop, slots: make(chan struct{}, slots)}
}

// Close stops the batches that are running, where they are, and waits for
// their goroutines; their requests leave the engine. Serve calls it when
// its context ends. The HTTP API keeps answering.
func (s *Server) Close() {
	s.run.mu.Lock()
	s.run.closed = true
	s.run.stop(errShutdown)
	s.run.mu.Unlock()
	s.run.wg.Wait()
}

// startBatch runs a new batch in the background; it reports false, and
// runs nothing, once the server is closed.
func (s *Server) startBatch(b *batchJob) bool {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	if s.run.closed {
		return false
	}
	s.run.wg.Add(1)
	go func() {
		defer s.run.wg.Done()
		s.runBatch(b)
	}()
	return true
}

func (s *Server) hook(b *batchJob, p batchPhase) {
	if s.cfg.batchHook != nil {
		s.cfg.batchHook(s.run.ctx, b.id, p)
	}
}

// runBatch takes a batch from validating to its end.
func (s *Server) runBatch(b *batchJob) {
	ctx, cancel := context.WithDeadline(s.run.ctx, b.expiresAt)
	defer cancel()
	s.hook(b, phaseValidating)
	var (
		items []batchItem
		errs  []lineError
	)
	if data, ok := s.batches.inputData(b); ok {
		items, errs = s.validateInput(b, data)
	} else {
		param := "input_file_id"
		errs = []lineError{{Code: "invalid_request", Param: &param,
			Message: "Cannot find file " + quoteID(b.inputFileID) + "."}}
	}
	if s.stopped(ctx, b, nil, nil) {
		return
	}
	now := time.Now().Unix()
	moved := s.advance(b, func(b *batchJob) {
		if len(errs) > 0 {
			b.status, b.failedAt, b.errors = BatchFailed, now, errs
			return
		}
		b.status, b.inProgressAt, b.total, b.model = BatchInProgress, now, len(items), s.cfg.model
	})
	if !moved { // being cancelled
		s.stopped(ctx, b, nil, nil)
		return
	}
	if len(errs) > 0 {
		return
	}
	s.hook(b, phaseInProgress)
	out := s.execute(ctx, b, items)
	if s.stopped(ctx, b, out, items[out.fed:]) {
		return
	}
	if s.advance(b, func(b *batchJob) { b.status, b.finalizingAt = BatchFinalizing, time.Now().Unix() }) {
		s.hook(b, phaseFinalizing)
	}
	s.finish(b, out, "")
}

// advance changes a batch that is not being cancelled and reports whether
// it did.
func (s *Server) advance(b *batchJob, change func(*batchJob)) bool {
	moved := false
	s.batches.update(b, func(b *batchJob) {
		if b.status != BatchCancelling {
			change(b)
			moved = true
		}
	})
	return moved
}

// stopped ends a batch that was cancelled or expired (its requests never
// started, left, are reported with the code of why) or whose server closed,
// and reports whether it did.
func (s *Server) stopped(ctx context.Context, b *batchJob, out *batchOutput, left []batchItem) bool {
	code := ""
	select {
	case <-b.cancel:
		code = "batch_cancelled"
	default:
		switch {
		case errors.Is(context.Cause(ctx), errShutdown):
			return true
		case ctx.Err() != nil || !time.Now().Before(b.expiresAt): // the clock: ctx's timer may not have fired yet
			code = "batch_expired"
		default:
			return false
		}
	}
	if out == nil {
		out = &batchOutput{s: s, b: b}
	}
	for _, it := range left {
		out.skip(it.customID, code)
	}
	s.finish(b, out, code)
	return true
}

// finish stores a batch's output and error files and gives it its final
// status: completed, or cancelled or expired by code.
func (s *Server) finish(b *batchJob, out *batchOutput, code string) {
	s.batches.releaseInput(b) // read no more: it may make room for the output
	store := func(buf *bytes.Buffer, kind string) string {
		if buf.Len() == 0 {
			return ""
		}
		f, _ := s.batches.addFile(b.id+"_"+kind+".jsonl", purposeBatchOutput, buf.Bytes(), true)
		return f.id
	}
	outID, errID := store(&out.out, "output"), store(&out.errs, "error")
	now := time.Now().Unix()
	s.batches.update(b, func(b *batchJob) {
		b.outputFileID, b.errorFileID = outID, errID
		switch {
		case b.status == BatchCancelling || code == "batch_cancelled":
			b.status, b.cancelledAt = BatchCancelled, now
		case code == "batch_expired":
			b.status, b.expiredAt = BatchExpired, now
		default:
			b.status, b.completedAt = BatchCompleted, now
		}
	})
}

// batchOutput collects the lines of a batch's output and error files.
type batchOutput struct {
	s        *Server
	b        *batchJob
	enqueued time.Time
	fed      int // requests handed to the engine, or failed before it

	mu   sync.Mutex
	out  bytes.Buffer
	errs bytes.Buffer
}

// execute feeds a batch's requests to the engine as batch slots free up,
// until all ran or the batch is cancelled (requests in the engine finish),
// expires or its server closes (requests in the engine are dropped).
func (s *Server) execute(ctx context.Context, b *batchJob, items []batchItem) *batchOutput {
	out := &batchOutput{s: s, b: b, enqueued: time.Now()}
	reqCtx, drop := context.WithCancel(ctx)
	defer drop()
	var wg sync.WaitGroup
feed:
	for _, it := range items {
		select {
		case s.run.slots <- struct{}{}:
		case <-b.cancel:
			break feed
		case <-ctx.Done():
			break feed
		}
		if ctx.Err() != nil || isClosed(b.cancel) {
			<-s.run.slots
			break
		}
		out.fed++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.run.slots }()
			s.runRequest(reqCtx, b, it, out)
		}()
	}
	wg.Wait()
	return out
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// batchRequestLine is a line of a batch's input file as a request runs it.
type batchRequestLine struct {
	Body genRequest `json:"body"`
}

// runRequest runs one request of a batch through the engine and writes
// its output line.
func (s *Server) runRequest(ctx context.Context, b *batchJob, it batchItem, out *batchOutput) {
	var line batchRequestLine
	var p genParams
	apiErr := &apiError{}
	if err := json.Unmarshal(it.raw, &line); err != nil { // validated before: cannot fail
		apiErr = badRequest("Invalid JSON body: %v", err)
	} else {
		p, apiErr = s.validate(&line.Body, b.endpoint == PathChatCompletions)
	}
	if apiErr != nil {
		out.answer(it.customID, apiErr, nil)
		return
	}
	sq := s.newSeq(&p)
	rec := Record{ID: sq.id, Index: sq.idx, Endpoint: b.endpoint, BatchID: b.id, Fault: sq.fault,
		PromptTokens: p.promptTokens, MaxTokens: p.maxTokens, Arrived: sq.arrived}
	if s.cfg.observer != nil {
		defer func() {
			rec.Done = time.Now()
			s.cfg.observer.Observe(rec)
		}()
	}
	if e := s.httpFault(sq); e != nil {
		rec.Status = e.status
		out.answer(it.customID, e, nil)
		return
	}
	s.eng.submit(sq)
	for n := 0; n < sq.target; {
		var ok bool
		if n, ok = waitTokens(ctx, sq, n); !ok {
			s.eng.abort(sq)
			rec.FinishReason = reasonAbort.String()
			if !errors.Is(context.Cause(ctx), errShutdown) {
				out.skip(it.customID, "batch_expired")
			}
			return
		}
	}
	finishRecord(&rec, sq)
	rec.Status = s.answerSeq(ctx, sq, &p, it.customID, out)
}

// answerSeq writes the line of a request the engine has finished, after
// its injected fault, and returns its status.
func (s *Server) answerSeq(ctx context.Context, sq *seq, p *genParams, customID string, out *batchOutput) int {
	switch sq.fault {
	case FaultStall:
		pause(ctx, s.cfg.faults.StallDuration)
	case FaultAbort, FaultErrorEvent:
		e := &apiError{status: http.StatusInternalServerError, typ: "InternalServerError",
			msg: "Simulated engine error after " + strconv.Itoa(sq.target) + " tokens."}
		out.answer(customID, e, nil)
		return e.status
	}
	var text strings.Builder
	text.Grow(sq.target * 8)
	for i := range sq.target {
		text.WriteString(s.token(sq, i))
	}
	out.answer(customID, nil, &batchSuccess{body: s.responseBody(sq, p, text.String()), sq: sq, prompt: p.promptTokens})
	return http.StatusOK
}

// batchSuccess is a request's successful answer: its body, its finished
// sequence and its prompt tokens.
type batchSuccess struct {
	body   any
	sq     *seq
	prompt int
}

// outputLine is a line of a batch's output or error file.
type outputLine struct {
	ID       string          `json:"id"`
	CustomID string          `json:"custom_id"`
	Response *outputResponse `json:"response"`
	Error    *outputError    `json:"error"`
}

type outputResponse struct {
	StatusCode int          `json:"status_code"`
	RequestID  string       `json:"request_id"`
	Body       any          `json:"body"`
	Timing     *batchTiming `json:"timing,omitempty"`
}

// batchTiming is the Benchstation extension of an output line: Unix times
// in seconds.
type batchTiming struct {
	EnqueuedAt float64 `json:"enqueued_at"`
	StartedAt  float64 `json:"started_at"`
	FinishedAt float64 `json:"finished_at"`
}

type outputError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// ids returns a new output line id and request id.
func (o *batchOutput) ids() (line, request string) {
	st := o.s.batches
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.newID("batch_req_"), st.newID("req_")
}

// answer writes the line of a request that got an answer: ok's body with
// status 200 to the output file, or else apiErr's to the error file.
func (o *batchOutput) answer(customID string, apiErr *apiError, ok *batchSuccess) {
	lineID, reqID := o.ids()
	l := outputLine{ID: lineID, CustomID: customID, Response: &outputResponse{RequestID: reqID}}
	buf := &o.out
	if ok != nil {
		l.Response.StatusCode, l.Response.Body = http.StatusOK, ok.body
		l.Response.Timing = &batchTiming{EnqueuedAt: unixSeconds(o.enqueued),
			StartedAt: unixSeconds(ok.sq.scheduledAt), FinishedAt: unixSeconds(ok.sq.finishedAt)}
	} else {
		l.Response.StatusCode, l.Response.Body = apiErr.status, vllmErrorBody(apiErr)
		buf = &o.errs
	}
	o.write(buf, &l)
	o.s.batches.update(o.b, func(b *batchJob) {
		if ok != nil {
			b.completed++
			b.usage.input += ok.prompt
			b.usage.cached += ok.sq.cached
			b.usage.output += ok.sq.target
		} else {
			b.failed++
		}
	})
}

var stopMessages = map[string]string{
	"batch_cancelled": "The batch was cancelled before this request executed.",
	"batch_expired":   "This request could not be executed before the completion window expired.",
}

// stopped writes the error line of a request that a cancel or the end of
// the completion window kept from running.
func (o *batchOutput) skip(customID, code string) {
	lineID, _ := o.ids()
	o.write(&o.errs, &outputLine{ID: lineID, CustomID: customID, Error: &outputError{Code: code, Message: stopMessages[code]}})
}

func (o *batchOutput) write(buf *bytes.Buffer, l *outputLine) {
	line, err := json.Marshal(l)
	if err != nil { // only plain values: cannot fail
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	buf.Write(line)
	buf.WriteByte('\n')
}
