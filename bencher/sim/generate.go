package sim

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// handleGenerate serves /v1/completions and /v1/chat/completions and returns
// the HTTP status sent.
func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request, path string, chat bool) int {
	if r.Method != http.MethodPost {
		return s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "MethodNotAllowed", msg: "Method Not Allowed"})
	}
	p, apiErr := s.parseRequest(w, r, chat)
	if apiErr != nil {
		return s.writeError(w, apiErr)
	}
	sq := s.newSeq(&p)
	rec := Record{ID: sq.id, Index: sq.idx, Endpoint: path, Stream: p.stream, Fault: sq.fault,
		PromptTokens: p.promptTokens, MaxTokens: p.maxTokens, Arrived: sq.arrived}
	if s.cfg.observer != nil {
		defer func() {
			rec.Done = time.Now()
			s.cfg.observer.Observe(rec)
		}()
	}
	if e := s.httpFault(sq); e != nil {
		if e.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
		}
		rec.Status = s.writeError(w, e)
		return rec.Status
	}
	s.eng.submit(sq)
	if p.stream {
		s.stream(w, r, sq, &p, &rec)
	} else {
		s.respond(w, r, sq, &p, &rec)
	}
	return rec.Status
}

// newSeq builds the engine's view of a validated request and draws its output
// length and fault.
func (s *Server) newSeq(p *genParams) *seq {
	idx := s.next.Add(1) - 1
	seed := s.cfg.seed
	prefix := "cmpl-"
	if p.chat {
		prefix = "chatcmpl-"
	}
	sq := &seq{
		id:           makeID(prefix, mix(seed*0x9e3779b97f4a7c15+idx)),
		idx:          idx,
		arrived:      time.Now(),
		promptTokens: p.promptTokens,
		maxTokens:    p.maxTokens,
		textSeed:     mix(seed ^ fnv64(p.prompt)),
		notify:       make(chan struct{}, 1),
	}
	if s.cfg.prefixCaching {
		sq.blocks = blockHashes(p.prompt, p.promptTokens, s.cfg.blockSize)
	}
	sq.target, sq.reason = p.maxTokens, reasonLength
	if natural := 1 + int(mix(sq.textSeed^0xe05)%uint64(s.cfg.maxNatural)); !p.ignoreEOS && natural < p.maxTokens {
		sq.target, sq.reason = natural, reasonStop
	}
	sq.fault = s.cfg.faults.draw(seed, idx)
	switch sq.fault {
	case FaultAbort, FaultErrorEvent:
		sq.faultAt = faultPosition(sq.fault, seed, idx, sq.target)
		sq.target, sq.reason = sq.faultAt, reasonAbort
		if sq.fault == FaultErrorEvent {
			sq.reason = reasonError
		}
	case FaultStall:
		sq.faultAt = faultPosition(sq.fault, seed, idx, sq.target)
	}
	return sq
}

// makeID formats prefix and 16 hex digits of h.
func makeID(prefix string, h uint64) string {
	const digits = "0123456789abcdef"
	var b [32]byte
	n := copy(b[:], prefix)
	for i := 15; i >= 0; i-- {
		b[n+i] = digits[h&15]
		h >>= 4
	}
	return string(b[:n+16])
}

// retryAfterSeconds is the Retry-After of injected 429s.
func (s *Server) retryAfterSeconds() int { return int(math.Ceil(s.cfg.faults.RetryAfter.Seconds())) }

// httpFault returns the error answer of an injected HTTP-level fault.
func (s *Server) httpFault(sq *seq) *apiError {
	switch sq.fault {
	case FaultRateLimit:
		secs := s.retryAfterSeconds()
		return &apiError{status: http.StatusTooManyRequests, typ: "RateLimitError",
			msg: "Too many requests (simulated rate limit). Please retry after " + strconv.Itoa(secs) + " seconds."}
	case FaultServerError:
		return &apiError{status: http.StatusInternalServerError, typ: "InternalServerError",
			msg: "Internal server error (simulated fault)."}
	case FaultContextTooLong:
		limit := s.cfg.maxModelLen
		prompt := max(limit-sq.maxTokens+1, sq.promptTokens)
		return contextTooLong(limit, sq.maxTokens, prompt)
	}
	return nil
}

// token returns the text of output token i.
func (s *Server) token(sq *seq, i int) string {
	return s.vocab[mix(sq.textSeed+uint64(i))%uint64(len(s.vocab))]
}

// waitTokens blocks until the engine has emitted more than have tokens (or
// all of them); it returns the count, or false when ctx ends first.
func waitTokens(ctx context.Context, sq *seq, have int) (int, bool) {
	for {
		if n := int(sq.emitted.Load()); n > have || n >= sq.target {
			return n, true
		}
		select {
		case <-sq.notify:
		case <-ctx.Done():
			return have, false
		}
	}
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// finishRecord copies the engine's truth into rec; call only after the engine
// emitted all of sq's tokens.
func finishRecord(rec *Record, sq *seq) {
	rec.OutputTokens = sq.generated
	rec.CachedTokens = sq.cached
	rec.Preemptions = sq.preemptions
	rec.FinishReason = sq.reason.String()
	rec.Scheduled = sq.scheduledAt
	rec.FirstToken = sq.firstTokenAt
	rec.Finished = sq.finishedAt
}

// clientGone drops a request whose client went away.
func (s *Server) clientGone(sq *seq, rec *Record, sent int) {
	s.eng.abort(sq)
	rec.FinishReason = reasonAbort.String()
	rec.SentTokens = sent
	if sent > 0 {
		rec.Scheduled, rec.FirstToken = sq.scheduledAt, sq.firstTokenAt
	}
}
