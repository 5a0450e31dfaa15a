package bencher

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	tests := []string{
		"", "hello", `quote " and backslash \`, "new\nline\ttab\rcr", "\x00\x01\x1f\x7f",
		"héllo wörld ✓ 𝄞", "bad utf8 \xff\xfe end", "truncated \xe2\x82", "line sep \u2028 para \u2029",
		"<html> & 'x'", strings.Repeat("long ", 1000),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		tests = append(tests, string(b))
	}
	for _, s := range tests {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		got := appendString(nil, s)
		assert.Equal(t, strings.TrimSuffix(want.String(), "\n"), string(got), "encoding of %q", s)
	}
}

func TestAppendBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec bodySpec
		req  Request
		want string
		max  int
	}{
		{
			name: "completions stream",
			spec: bodySpec{api: APICompletions, model: "m", stream: true},
			req:  Request{Prompt: "say \"hi\"\n", MaxTokens: 16, IgnoreEOS: true},
			want: `{"model":"m","prompt":"say \"hi\"\n","max_tokens":16,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`,
			max:  16,
		},
		{
			name: "completions no stream no limit",
			spec: bodySpec{api: APICompletions, model: "m"},
			req:  Request{Prompt: "p"},
			want: `{"model":"m","prompt":"p","stream":false}`,
		},
		{
			name: "chat",
			spec: bodySpec{api: APIChat, model: "org/model-7b", stream: true},
			req:  Request{Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "é\t"}}, MaxTokens: 3},
			want: `{"model":"org/model-7b","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"é\t"}],"max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}`,
			max:  3,
		},
		{
			name: "chat from a prompt",
			spec: bodySpec{api: APIChat, model: "m", stream: true},
			req:  Request{Prompt: "hello"},
			want: `{"model":"m","messages":[{"role":"user","content":"hello"}],"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name: "completions from messages",
			spec: bodySpec{api: APICompletions, model: "m"},
			req:  Request{Messages: []Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}},
			want: `{"model":"m","prompt":"a\nb\n","stream":false}`,
		},
		{
			name: "raw body: model and stream replaced, the rest kept in order",
			spec: bodySpec{api: APIChat, model: "served", stream: true},
			req: Request{Body: json.RawMessage(` { "model" : "other", "messages":[{"role":"user","content":"x, }"}],
				"stream":false, "stream_options":{"include_usage":false}, "max_completion_tokens": 42, "temperature":0.5, "stop":["}","\""] } `)},
			want: `{"model":"served","messages":[{"role":"user","content":"x, }"}],"max_completion_tokens":42,"temperature":0.5,"stop":["}","\""],"stream":true,"stream_options":{"include_usage":true}}`,
			max:  42,
		},
		{
			name: "raw body, no stream, escaped key",
			spec: bodySpec{api: APICompletions, model: "m"},
			req:  Request{Body: json.RawMessage(`{"prompt":"p","max_tokens":7,"str\u0065am":true,"n":1}`)},
			want: `{"model":"m","prompt":"p","max_tokens":7,"n":1,"stream":false}`,
			max:  7,
		},
		{
			name: "raw empty object",
			spec: bodySpec{api: APICompletions, model: "m", stream: true},
			req:  Request{Body: json.RawMessage(`{}`)},
			want: `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, maxTokens, err := tt.spec.appendBody(nil, &tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.True(t, json.Valid(got))
			assert.Equal(t, tt.max, maxTokens)
		})
	}
}

func TestAppendBodyInvalid(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[1,2]`, `{"a":`, `"s"`, `{"a":1}x`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			spec := bodySpec{api: APICompletions, model: "m"}
			_, _, err := spec.appendBody(nil, &Request{Body: json.RawMessage(body)})
			require.ErrorIs(t, err, errBody)
			assert.EqualError(t, err, "invalid request body: Body must be a JSON object")
		})
	}
}

// BenchmarkBody compares building a request body by hand with encoding/json
// into a reused buffer.
func BenchmarkBody(b *testing.B) {
	req := Request{Messages: []Message{{Role: "system", Content: "You are a helpful assistant."},
		{Role: "user", Content: strings.Repeat("Tell me about \"load testing\".\n", 30)}}, MaxTokens: 128}
	b.Run("append", func(b *testing.B) {
		spec := bodySpec{api: APIChat, model: "meta-llama/Llama-3.1-8B-Instruct", stream: true}
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf, _, _ = spec.appendBody(buf[:0], &req)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		type streamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		}
		type body struct {
			Model         string        `json:"model"`
			Messages      []Message     `json:"messages"`
			MaxTokens     int           `json:"max_tokens,omitempty"`
			Stream        bool          `json:"stream"`
			StreamOptions streamOptions `json:"stream_options"`
		}
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(body{"meta-llama/Llama-3.1-8B-Instruct", req.Messages, req.MaxTokens, true, streamOptions{true}})
		}
	})
	b.Run("merge-raw", func(b *testing.B) {
		spec := bodySpec{api: APIChat, model: "meta-llama/Llama-3.1-8B-Instruct", stream: true}
		raw, _ := json.Marshal(map[string]any{"model": "x", "messages": req.Messages, "max_tokens": 128, "temperature": 0})
		r := Request{Body: raw}
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf, _, _ = spec.appendBody(buf[:0], &r)
		}
	})
}
