package sse

import (
	"bytes"
	"io"
)

// Kind classifies a streaming event.
type Kind uint8

// The kinds of events. Only KindContent carries generated output: it is the
// kind that starts TTFT and whose arrivals give inter-token latencies.
const (
	// KindOther is a well-formed chunk with nothing that counts: a finish-only
	// chunk with empty text, an empty delta, a chunk without choices or usage.
	KindOther Kind = iota
	// KindContent carries generated output in its first choice: text
	// (completions), delta.content (chat), a reasoning delta, or a tool-call
	// delta. It may also carry a finish reason and usage.
	KindContent
	// KindRole is the chat role-only chunk that opens a stream
	// (delta {"role":"assistant","content":""}); it is not a token.
	KindRole
	// KindUsage is the final chunk sent with stream_options.include_usage:
	// no choices, and usage.
	KindUsage
	// KindError is an error object sent in the stream (Chunk.Err is set).
	KindError
	// KindDone is the "[DONE]" marker that ends an OpenAI stream.
	KindDone
)

var kindNames = [...]string{"other", "content", "role", "usage", "error", "done"}

// String returns the kind's name, such as "content".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Usage is the token accounting a server sends with usage reporting on.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

// Chunk is one classified streaming event. Its Text fields alias the event
// data and are valid only until the next call to Decoder.Next.
type Chunk struct {
	// Kind says what the event is.
	Kind Kind
	// Choices is the number of elements of "choices" (0 when absent or null).
	Choices int
	// Index is the "index" of the first choice (with n > 1, vLLM streams
	// each choice in chunks of its own). Only the first choice is read.
	Index int
	// Content is the first choice's generated text: "text" for completions,
	// "delta.content" for chat. Empty when absent or null.
	Content Text
	// Reasoning is the first choice's "delta.reasoning_content", or
	// "delta.reasoning" where the server uses that name.
	Reasoning Text
	// ToolCalls reports a non-empty "delta.tool_calls" in the first choice.
	ToolCalls bool
	// FinishReason is the first choice's "finish_reason" ("stop", "length",
	// ...), or "" while generation goes on.
	FinishReason string
	// HasUsage reports that the chunk carried a "usage" object, held in Usage.
	HasUsage bool
	// Usage is the chunk's usage when HasUsage is set.
	Usage Usage
	// Err is the error object of a KindError chunk, else nil. It is newly
	// allocated and may be kept.
	Err *APIError
}

// Generated reports whether the chunk carries generated output (text,
// reasoning or tool calls), that is whether it counts as a token arrival.
func (c *Chunk) Generated() bool { return c.Kind == KindContent }

// Decoder reads an OpenAI-compatible streaming response and returns one
// classified Chunk per event. Create one with NewDecoder; reuse it with Reset.
type Decoder struct {
	r Reader
}

// NewDecoder returns a Decoder that reads events from src, with the Reader
// options opts.
func NewDecoder(src io.Reader, opts ...Option) *Decoder {
	d := new(Decoder)
	d.r.init(src, opts)
	return d
}

// Reset makes the Decoder read a new stream from src, keeping its buffers.
func (d *Decoder) Reset(src io.Reader) { d.r.Reset(src) }

// Next reads the next event and classifies it. An error event from the
// server is a Chunk of KindError with a nil error: errors returned here are
// the Reader's (io.EOF, ErrTruncated, ErrEventTooLarge, read errors), which are
// final, or one wrapping ErrMalformed for an event that is not a chunk, after
// which the stream can go on. Next does not stop at KindDone; callers do.
func (d *Decoder) Next() (Chunk, error) {
	data, err := d.r.Next()
	if err != nil {
		return Chunk{}, err
	}
	return Parse(data)
}

// Data returns the data of the event that the last call to Next read (also
// when it was malformed), valid until the next call.
func (d *Decoder) Data() []byte {
	if d.r.aliased {
		return d.r.alias[:len(d.r.alias):len(d.r.alias)]
	}
	return d.r.data[:len(d.r.data):len(d.r.data)]
}

// Parse classifies one event's data (or a whole non-streamed JSON body, such
// as an error response). It does not allocate unless the data holds an error
// object. The Chunk's Text fields alias data.
func Parse(data []byte) (Chunk, error) {
	if isDone(data) {
		return Chunk{Kind: KindDone}, nil
	}
	p := parser{b: data}
	if err := p.object(inTop); err != nil {
		return Chunk{}, err
	}
	if err := p.end(); err != nil {
		return Chunk{}, err
	}
	p.classify()
	return p.c, nil
}

func isDone(data []byte) bool {
	switch {
	case len(data) == 6:
		return string(data) == "[DONE]"
	case len(data) < 6 || !isSpace(data[0]) && !isSpace(data[len(data)-1]):
		return false
	}
	return string(bytes.Trim(data, " \t\r\n")) == "[DONE]"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// classify sets the chunk's Kind from what the parser found.
func (p *parser) classify() {
	c := &p.c
	c.Reasoning = p.reasoning[0]
	if len(c.Reasoning) == 0 && p.reasoning[1] != nil {
		c.Reasoning = p.reasoning[1]
	}
	switch {
	case p.errObj:
		c.Kind = KindError
		c.Err = p.nested.build()
	case p.flat:
		c.Kind = KindError
		c.Err = p.top.build()
	case len(c.Content) > 0 || len(c.Reasoning) > 0 || c.ToolCalls:
		c.Kind = KindContent
	case p.role:
		c.Kind = KindRole
	case c.Choices == 0 && c.HasUsage:
		c.Kind = KindUsage
	default:
		c.Kind = KindOther
	}
}

// topMember reads a member of the chunk object.
func (p *parser) topMember(key []byte) error {
	switch string(key) {
	case "choices":
		p.resetChoice() // for a repeated key, the last one counts
		if p.ws() == 'n' {
			return p.lit("null")
		}
		n, err := p.array(inChoices)
		p.c.Choices = n
		return err
	case "usage":
		return p.usage()
	case "error":
		return p.errorValue()
	case "object":
		p.flat = false
		if p.ws() != '"' {
			return p.skip()
		}
		s, err := p.str()
		p.flat = string(s) == "error"
		return err
	case "message", "type", "param", "code":
		return p.errorField(&p.top, key)
	}
	return p.skip()
}

// resetChoice forgets what an earlier "choices" member said.
func (p *parser) resetChoice() {
	p.c.Choices, p.c.Index, p.c.FinishReason = 0, 0, ""
	p.resetDelta()
}

// resetDelta forgets what an earlier "delta" member said.
func (p *parser) resetDelta() {
	p.c.Content, p.c.ToolCalls = nil, false
	p.reasoning = [2]Text{}
	p.role = false
}

// choiceMember reads a member of choices[0].
func (p *parser) choiceMember(key []byte) error {
	var err error
	switch string(key) {
	case "index":
		var n int64
		n, err = p.count("choices[0].index")
		p.c.Index = int(n)
	case "text":
		p.c.Content, err = p.optStr()
	case "delta":
		p.resetDelta()
		if p.ws() == 'n' {
			return p.lit("null")
		}
		err = p.object(inDelta)
	case "finish_reason":
		var s Text
		s, err = p.optStr()
		p.c.FinishReason = finishReason(s)
	default:
		err = p.skip()
	}
	return err
}

// deltaMember reads a member of choices[0].delta.
func (p *parser) deltaMember(key []byte) error {
	var err error
	switch string(key) {
	case "content":
		p.c.Content, err = p.optStr()
	case "reasoning_content":
		p.reasoning[0], err = p.optStr()
	case "reasoning":
		p.reasoning[1], err = p.optStr()
	case "role":
		var s Text
		s, err = p.optStr()
		p.role = len(s) > 0
	case "tool_calls":
		if p.ws() == 'n' {
			return p.lit("null")
		}
		var n int
		n, err = p.array(inSkipped)
		p.c.ToolCalls = n > 0
	default:
		err = p.skip()
	}
	return err
}

// usage reads the "usage" member: null or an object of counts.
func (p *parser) usage() error {
	p.c.HasUsage, p.c.Usage = false, Usage{}
	if p.ws() == 'n' {
		return p.lit("null")
	}
	p.c.HasUsage = true
	return p.object(inUsage)
}

// usageMember reads a member of usage.
func (p *parser) usageMember(key []byte) error {
	var err error
	u := &p.c.Usage
	switch string(key) {
	case "prompt_tokens":
		u.PromptTokens, err = p.count("usage.prompt_tokens")
	case "completion_tokens":
		u.CompletionTokens, err = p.count("usage.completion_tokens")
	case "total_tokens":
		u.TotalTokens, err = p.count("usage.total_tokens")
	default:
		err = p.skip()
	}
	return err
}

// finishReason returns the finish reason as a string, without allocating
// for the values servers send.
func finishReason(s Text) string {
	switch string(s) {
	case "":
		return ""
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case "abort":
		return "abort"
	case "error":
		return "error"
	case "repetition":
		return "repetition"
	case "function_call":
		return "function_call"
	}
	return s.String()
}
