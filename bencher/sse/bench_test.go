package sse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchTokens is the number of content chunks in the benchmark stream.
const benchTokens = 256

// benchStream returns a realistic vLLM chat stream (with include_usage): the
// role chunk, n content chunks of about one token, the finish chunk, the
// usage chunk and [DONE], as separate events.
func benchStream(n int) [][]byte {
	const head = `data: {"id":"chatcmpl-8c4f0d6e2b1a4f7e","object":"chat.completion.chunk","created":1755150123,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":`
	words := strings.Fields("The quick brown fox jumps over the lazy dog, and then it \"rests\" in the sun.\n")
	events := []string{head + `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`}
	for i := range n {
		events = append(events, head+`[{"index":0,"delta":{"content":`+jsonString(" "+words[i%len(words)])+`},"logprobs":null,"finish_reason":null}]}`)
	}
	events = append(events,
		head+`[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length","stop_reason":null}]}`,
		head+fmt.Sprintf(`[],"usage":{"prompt_tokens":1024,"total_tokens":%d,"completion_tokens":%d}}`, 1024+n, n),
		"data: [DONE]")
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = []byte(e + "\n\n")
	}
	return out
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// eventReader returns one event per Read, as a server that flushes each
// event does.
type eventReader struct {
	events [][]byte
	i, off int
}

func (e *eventReader) Read(p []byte) (int, error) {
	if e.i >= len(e.events) {
		return 0, io.EOF
	}
	n := copy(p, e.events[e.i][e.off:])
	if e.off += n; e.off == len(e.events[e.i]) {
		e.i, e.off = e.i+1, 0
	}
	return n, nil
}

// benchSource is a stream to read again and again.
type benchSource struct {
	name  string
	reset func() io.Reader
}

func benchSources(events [][]byte) []benchSource {
	whole := bytes.Join(events, nil)
	br := bytes.NewReader(whole)
	er := &eventReader{events: events}
	return []benchSource{
		{name: "buffered", reset: func() io.Reader { br.Reset(whole); return br }},
		{name: "event-per-read", reset: func() io.Reader { er.i, er.off = 0, 0; return er }},
	}
}

// benchChunks runs next once per iteration, starting the stream over at
// io.EOF, and reports chunks/s. One op is one chunk.
func benchChunks(b *testing.B, events [][]byte, next func() error) {
	b.ReportAllocs()
	b.SetBytes(int64(len(bytes.Join(events, nil)) / len(events)))
	chunks := 0
	for b.Loop() {
		if err := next(); err != nil {
			b.Fatal(err)
		}
		chunks++
	}
	b.ReportMetric(float64(chunks)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkReader(b *testing.B) {
	events := benchStream(benchTokens)
	for _, src := range benchSources(events) {
		b.Run(src.name, func(b *testing.B) {
			r := NewReader(src.reset())
			benchChunks(b, events, func() error {
				_, err := r.Next()
				if err == io.EOF {
					r.Reset(src.reset())
					_, err = r.Next()
				}
				return err
			})
		})
	}
}

func BenchmarkDecoder(b *testing.B) {
	events := benchStream(benchTokens)
	for _, src := range benchSources(events) {
		b.Run(src.name, func(b *testing.B) {
			d := NewDecoder(src.reset())
			benchChunks(b, events, func() error {
				_, err := decodeNext(d, src)
				return err
			})
		})
	}
	src := benchSources(events)[1]
	b.Run("event-per-read+text", func(b *testing.B) {
		d := NewDecoder(src.reset())
		var text []byte
		benchChunks(b, events, func() error {
			c, err := decodeNext(d, src)
			if len(text) > 1<<16 {
				text = text[:0]
			}
			text = c.Content.AppendTo(text)
			return err
		})
	})
	b.Run("event-per-read+encoding-json", func(b *testing.B) {
		r := NewReader(src.reset())
		benchChunks(b, events, func() error {
			data, err := r.Next()
			if err == io.EOF {
				r.Reset(src.reset())
				data, err = r.Next()
			}
			if err != nil || string(data) == "[DONE]" {
				return err
			}
			var c stdChunk
			return json.Unmarshal(data, &c)
		})
	})
}

// decodeNext decodes the next chunk, starting the stream over at its end.
func decodeNext(d *Decoder, src benchSource) (Chunk, error) {
	c, err := d.Next()
	if err == io.EOF {
		d.Reset(src.reset())
		c, err = d.Next()
	}
	return c, err
}

// stdChunk is what an encoding/json decoder of chunks would use; it is the
// baseline that the hand-written scanner is measured against.
type stdChunk struct {
	Choices []struct {
		Index int     `json:"index"`
		Text  *string `json:"text"`
		Delta struct {
			Role             *string         `json:"role"`
			Content          *string         `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			Reasoning        *string         `json:"reasoning"`
			ToolCalls        json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}
