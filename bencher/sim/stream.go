package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxPooledBuf bounds the stream buffers kept for reuse.
const maxPooledBuf = 64 << 10

// streamEncoder appends vLLM's SSE events for one request without allocating.
type streamEncoder struct {
	head   []byte // `data: {"id":…,"object":…,"created":…,"model":…,"choices":`
	chat   bool
	usage  bool // continuous_usage_stats
	prompt int
}

func (s *Server) newEncoder(buf []byte, sq *seq, p *genParams) streamEncoder {
	obj := "text_completion"
	if p.chat {
		obj = "chat.completion.chunk"
	}
	b := append(buf, `data: {"id":"`...)
	b = append(b, sq.id...)
	b = append(b, `","object":"`...)
	b = append(b, obj...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, sq.arrived.Unix(), 10)
	b = append(b, `,"model":`...)
	b = append(b, s.modelJSON...)
	b = append(b, `,"choices":`...)
	return streamEncoder{head: b, chat: p.chat, usage: p.continuousUsage, prompt: p.promptTokens}
}

// appendRole appends the role-only chunk that opens a chat stream.
func (e *streamEncoder) appendRole(b []byte) []byte {
	b = append(b, e.head...)
	return append(b, `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
}

// appendToken appends the event of one token; finish is "" (null) or the
// finish reason of the last token; completed is the count of tokens so far.
func (e *streamEncoder) appendToken(b []byte, text, finish string, completed int) []byte {
	b = append(b, e.head...)
	if e.chat {
		b = append(b, `[{"index":0,"delta":{"content":"`...)
		b = append(b, text...)
		b = append(b, `"},"logprobs":null,"finish_reason":`...)
	} else {
		b = append(b, `[{"index":0,"text":"`...)
		b = append(b, text...)
		b = append(b, `","logprobs":null,"finish_reason":`...)
	}
	switch {
	case finish != "":
		b = append(b, '"')
		b = append(b, finish...)
		b = append(b, `","stop_reason":null}]`...)
	case e.chat:
		b = append(b, `null}]`...)
	default:
		b = append(b, `null,"stop_reason":null}]`...)
	}
	if e.usage {
		b = append(b, ',')
		b = e.appendUsageField(b, completed)
	}
	return append(b, "}\n\n"...)
}

// appendUsage appends the final usage chunk (choices: []).
func (e *streamEncoder) appendUsage(b []byte, completed int) []byte {
	b = append(b, e.head...)
	b = append(b, `[],`...)
	b = e.appendUsageField(b, completed)
	return append(b, "}\n\n"...)
}

func (e *streamEncoder) appendUsageField(b []byte, completed int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(e.prompt), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(e.prompt+completed), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completed), 10)
	return append(b, '}')
}

// streamWriter sends a response's events and flushes them.
type streamWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
	hdr     []string
	started bool
	err     error
}

func (sw *streamWriter) send(b []byte) bool {
	if sw.err != nil {
		return false
	}
	if !sw.started {
		sw.started = true
		sw.w.Header()["Content-Type"] = sw.hdr
		sw.w.WriteHeader(http.StatusOK)
	}
	if len(b) > 0 {
		_, sw.err = sw.w.Write(b)
	}
	if sw.err == nil && sw.flusher != nil {
		sw.flusher.Flush()
	}
	return sw.err == nil
}

// stream sends a streamed response as tokens come out of the engine.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sq *seq, p *genParams, rec *Record) {
	bp := s.bufs.Get().(*[]byte)
	enc := s.newEncoder((*bp)[:0], sq, p)
	out := enc.head[len(enc.head):]
	defer func() {
		if cap(out) > cap(*bp)-len(enc.head) && cap(out) <= maxPooledBuf {
			*bp = out[:0] // keep the grown buffer, unless it is huge
		}
		s.bufs.Put(bp)
	}()
	ctx := r.Context()
	sw := &streamWriter{w: w, hdr: s.hdrSSE}
	sw.flusher, _ = w.(http.Flusher)
	if p.chat && s.cfg.earlyRole && !sw.send(enc.appendRole(out[:0])) {
		s.clientGone(sq, rec, 0)
		return
	}
	stallPending := sq.fault == FaultStall
	for sent := 0; sent < sq.target; {
		if stallPending && sent == sq.faultAt {
			stallPending = false
			pause(ctx, s.cfg.faults.StallDuration)
		}
		n, ok := waitTokens(ctx, sq, sent)
		if !ok {
			s.clientGone(sq, rec, sent)
			return
		}
		if stallPending && n > sq.faultAt {
			n = sq.faultAt
		}
		out = out[:0]
		if sent == 0 && p.chat && !s.cfg.earlyRole {
			out = enc.appendRole(out)
		}
		out = s.appendTokens(out, &enc, sq, sent, n)
		if n == sq.target && sq.fault != FaultAbort {
			out = s.endStream(out, &enc, sq, p, rec) // one write for the last tokens and the end
		}
		if sent == 0 {
			rec.FirstTokenSent = time.Now()
		}
		if !sw.send(out) {
			s.clientGone(sq, rec, sent)
			return
		}
		sent = n
	}
	if sq.fault == FaultAbort {
		s.endStream(nil, &enc, sq, p, rec) // panics
	}
}

// appendTokens appends the events of tokens [from, to).
func (s *Server) appendTokens(b []byte, enc *streamEncoder, sq *seq, from, to int) []byte {
	for i := from; i < to; i++ {
		finish := ""
		if i == sq.target-1 && (sq.reason == reasonStop || sq.reason == reasonLength) {
			finish = sq.reason.String()
		}
		b = enc.appendToken(b, s.token(sq, i), finish, i+1)
	}
	return b
}

// endStream appends the end of a stream after all tokens were sent: the
// usage chunk and [DONE], or an injected fault.
func (s *Server) endStream(b []byte, enc *streamEncoder, sq *seq, p *genParams, rec *Record) []byte {
	finishRecord(rec, sq)
	rec.SentTokens = sq.target
	rec.Status = http.StatusOK
	switch sq.fault {
	case FaultAbort:
		s.log.Debug("sim: injected abort", "id", sq.id, "after_tokens", sq.target)
		panic(http.ErrAbortHandler)
	case FaultErrorEvent:
		b = append(b, `data: {"error": {"message": "Simulated engine error after `...)
		b = strconv.AppendInt(b, int64(sq.target), 10)
		b = append(b, ` tokens.", "type": "InternalServerError", "param": null, "code": 500}}`+"\n\n"...)
	default:
		if p.includeUsage {
			b = enc.appendUsage(b, sq.target)
		}
	}
	return append(b, "data: [DONE]\n\n"...)
}

// respond sends a non-streamed response once the engine is done.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, sq *seq, p *genParams, rec *Record) {
	ctx := r.Context()
	for n := 0; n < sq.target; {
		var ok bool
		if n, ok = waitTokens(ctx, sq, n); !ok {
			s.clientGone(sq, rec, 0)
			return
		}
	}
	finishRecord(rec, sq)
	switch sq.fault {
	case FaultStall:
		pause(ctx, s.cfg.faults.StallDuration)
	case FaultAbort:
		panic(http.ErrAbortHandler)
	case FaultErrorEvent:
		rec.Status = s.writeError(w, &apiError{status: http.StatusInternalServerError, typ: "InternalServerError",
			msg: "Simulated engine error after " + strconv.Itoa(sq.target) + " tokens."})
		return
	}
	var text strings.Builder
	text.Grow(sq.target * 8)
	for i := range sq.target {
		text.WriteString(s.token(sq, i))
	}
	rec.SentTokens = sq.target
	rec.FirstTokenSent = time.Now()
	rec.Status = s.writeJSON(w, http.StatusOK, s.responseBody(sq, p, text.String()))
}

// responseBody is the non-streamed completion or chat completion.
func (s *Server) responseBody(sq *seq, p *genParams, text string) any {
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		TotalTokens      int `json:"total_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		Index        int       `json:"index"`
		Text         *string   `json:"text,omitempty"`
		Message      *message  `json:"message,omitempty"`
		Logprobs     *struct{} `json:"logprobs"`
		FinishReason string    `json:"finish_reason"`
		StopReason   *string   `json:"stop_reason"`
	}
	type body struct {
		ID      string   `json:"id"`
		Object  string   `json:"object"`
		Created int64    `json:"created"`
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   usage    `json:"usage"`
	}
	b := body{ID: sq.id, Object: "text_completion", Created: sq.arrived.Unix(), Model: s.cfg.model,
		Choices: []choice{{FinishReason: sq.reason.String()}},
		Usage:   usage{p.promptTokens, p.promptTokens + sq.target, sq.target}}
	if p.chat {
		b.Object = "chat.completion"
		b.Choices[0].Message = &message{Role: "assistant", Content: text}
	} else {
		b.Choices[0].Text = &text
	}
	return b
}
