package bencher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/benchstation/benchstation/bencher/sse"
)

// streamState is what a stream has told so far.
type streamState struct {
	usage    sse.Usage
	hasUsage bool
	done     bool
}

// readStream reads an SSE response into rec: the arrival of every content
// chunk of the first choice, the finish reason, the usage, an error event.
func (c *Client) readStream(ctx, actx context.Context, st *state, body io.Reader, req *Request, rec *Record, start time.Time) {
	st.dec.Reset(body)
	st.text = st.text[:0]
	var ss streamState
	for !ss.done {
		ch, err := st.dec.Next()
		now := c.chunkTime(st, start)
		if err != nil {
			c.streamEnded(ctx, actx, rec, err, now)
			break
		}
		c.chunk(st, &ch, rec, &ss, now)
	}
	if rec.Error == ErrNone {
		drain(st, body)
	}
	c.countTokens(st, req, rec, &ss)
}

// chunk takes one classified event into account.
func (c *Client) chunk(st *state, ch *sse.Chunk, rec *Record, ss *streamState, now time.Duration) {
	if ch.HasUsage {
		ss.usage, ss.hasUsage = ch.Usage, true
	}
	if ch.FinishReason != "" && ch.Index == 0 {
		rec.FinishReason = c.red.Value(ch.FinishReason)
	}
	switch ch.Kind {
	case sse.KindContent:
		if ch.Index != 0 {
			return
		}
		if rec.FirstToken == 0 {
			rec.FirstToken = max(now, 1)
		}
		rec.ChunkTimes = append(rec.ChunkTimes, now)
		if c.outputs {
			st.text = ch.Content.AppendTo(st.text)
		}
	case sse.KindError:
		c.fail(rec, ErrStream, ch.Err.Error())
		rec.End, ss.done = now, true
	case sse.KindDone:
		rec.End, ss.done = now, true
	}
}

// streamEnded handles the end of a stream without [DONE]: a clean end after
// a finish reason is accepted (the server just left [DONE] out); anything
// else is a failure.
func (c *Client) streamEnded(ctx, actx context.Context, rec *Record, err error, now time.Duration) {
	rec.End = now
	switch {
	case errors.Is(err, io.EOF) && ctx.Err() == nil && actx.Err() == nil:
		if rec.FinishReason == "" {
			c.fail(rec, ErrConnection, "stream ended without [DONE] or a finish reason")
		}
	default:
		c.fail(rec, classify(ctx, actx, err), err.Error())
	}
}

// countTokens sets the token counts: the server's usage when it sent one,
// else the count of content chunks and the workload's prompt estimate.
func (c *Client) countTokens(st *state, req *Request, rec *Record, ss *streamState) {
	if ss.hasUsage {
		rec.InputTokens = int(ss.usage.PromptTokens)
		rec.OutputTokens = int(ss.usage.CompletionTokens)
		rec.TokenSource = TokensFromUsage
	} else {
		rec.InputTokens = req.PromptTokens
		rec.OutputTokens = len(rec.ChunkTimes)
		rec.TokenSource = TokensFromChunks
	}
	if c.outputs && len(st.text) > 0 {
		rec.Output = c.red.String(string(st.text))
	}
}

// completion is the part of a non-streamed answer the client reads.
type completion struct {
	Choices []struct {
		Index   int     `json:"index"`
		Text    *string `json:"text"`
		Message *struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// readJSON reads a non-streamed answer. It has no first-token or chunk
// times: only the end, the finish reason and the usage.
func (c *Client) readJSON(ctx, actx context.Context, st *state, body io.Reader, req *Request, rec *Record, start time.Time) {
	b, err := readLimited(st.scratch[:0], body, maxJSONBody)
	st.keep(b)
	rec.End = time.Since(start)
	if err != nil {
		c.fail(rec, classify(ctx, actx, err), err.Error())
		return
	}
	var v completion
	if err := json.Unmarshal(b, &v); err != nil {
		c.fail(rec, ErrInvalidResponse, fmt.Sprintf("invalid JSON answer: %v", err))
		return
	}
	if len(v.Error) > 0 && string(v.Error) != "null" {
		c.fail(rec, ErrStream, errorMessage(b, "200 OK"))
		return
	}
	if len(v.Choices) == 0 {
		c.fail(rec, ErrInvalidResponse, "answer without choices")
		return
	}
	ch := v.Choices[0]
	if ch.FinishReason != nil {
		rec.FinishReason = c.red.Value(*ch.FinishReason)
	}
	if v.Usage != nil {
		rec.InputTokens, rec.OutputTokens = v.Usage.PromptTokens, v.Usage.CompletionTokens
		rec.TokenSource = TokensFromUsage
	} else {
		rec.InputTokens = req.PromptTokens
	}
	if c.outputs {
		switch {
		case ch.Text != nil:
			rec.Output = c.red.String(*ch.Text)
		case ch.Message != nil && ch.Message.Content != nil:
			rec.Output = c.red.String(*ch.Message.Content)
		}
	}
}
