package sse

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summary is a Chunk with its texts decoded, for comparisons.
type summary struct {
	Kind      Kind
	Content   string
	Reasoning string
	ToolCalls bool
	Finish    string
	Index     int
	Choices   int
	HasUsage  bool
	Usage     Usage
	Err       *APIError
}

func summarize(c Chunk) summary {
	return summary{
		Kind: c.Kind, Content: c.Content.String(), Reasoning: c.Reasoning.String(),
		ToolCalls: c.ToolCalls, Finish: c.FinishReason, Index: c.Index, Choices: c.Choices,
		HasUsage: c.HasUsage, Usage: c.Usage, Err: c.Err,
	}
}

type parseCase struct {
	name string
	data string
	want summary
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tc.data))
			require.NoError(t, err)
			assert.Equal(t, tc.want, summarize(got))
		})
	}
}

func chatDelta(delta string) string {
	return `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":` +
		delta + `,"logprobs":null,"finish_reason":null}]}`
}

func TestParseDone(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "done", data: "[DONE]", want: summary{Kind: KindDone}},
		{name: "done with spaces", data: " [DONE] \r", want: summary{Kind: KindDone}},
	})
}

func TestParseContent(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "chat delta.content", data: chatDelta(`{"content":"Hello"}`),
			want: summary{Kind: KindContent, Content: "Hello", Choices: 1}},
		{name: "completions text", data: `{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" The","logprobs":null,"finish_reason":null,"stop_reason":null}]}`,
			want: summary{Kind: KindContent, Content: " The", Choices: 1}},
		{name: "escaped content", data: chatDelta(`{"content":"a\n\"b\" \u00e9\ud83d\ude00"}`),
			want: summary{Kind: KindContent, Content: "a\n\"b\" é😀", Choices: 1}},
		{name: "whitespace everywhere", data: " {\n \"choices\" : [ { \"delta\" : { \"content\" : \"x\" } } ] }\n",
			want: summary{Kind: KindContent, Content: "x", Choices: 1}},
		{name: "second choice index", data: `{"choices":[{"index":1,"delta":{"content":"b"}}]}`,
			want: summary{Kind: KindContent, Content: "b", Index: 1, Choices: 1}},
		{name: "only the first choice is read", data: `{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}`,
			want: summary{Kind: KindContent, Content: "a", Choices: 2}},
		{name: "content with continuous usage", data: `{"choices":[{"text":" end","finish_reason":null}],"usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2}}`,
			want: summary{Kind: KindContent, Content: " end", Choices: 1, HasUsage: true, Usage: Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}},
		{name: "unknown members skipped", data: `{"x":{"a":[1,-2.5e3,true,false,null,{"b":"}"}]},"choices":[{"delta":{"content":"a","extra":[[]]},"token_ids":[1,2]}]}`,
			want: summary{Kind: KindContent, Content: "a", Choices: 1}},
	})
}

func TestParseRoleOnly(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "role with empty content", data: chatDelta(`{"role":"assistant","content":""}`),
			want: summary{Kind: KindRole, Choices: 1}},
		{name: "role with null content", data: chatDelta(`{"role":"assistant","content":null}`),
			want: summary{Kind: KindRole, Choices: 1}},
		{name: "role alone", data: chatDelta(`{"role":"assistant"}`),
			want: summary{Kind: KindRole, Choices: 1}},
		{name: "role with content is content", data: chatDelta(`{"role":"assistant","content":"Hi"}`),
			want: summary{Kind: KindContent, Content: "Hi", Choices: 1}},
	})
}

func TestParseReasoning(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "reasoning_content", data: chatDelta(`{"reasoning_content":"Let me think","content":null}`),
			want: summary{Kind: KindContent, Reasoning: "Let me think", Choices: 1}},
		{name: "reasoning", data: chatDelta(`{"reasoning":"hmm"}`),
			want: summary{Kind: KindContent, Reasoning: "hmm", Choices: 1}},
		{name: "both names, one empty", data: chatDelta(`{"reasoning_content":"a","reasoning":null}`),
			want: summary{Kind: KindContent, Reasoning: "a", Choices: 1}},
		{name: "empty reasoning is not a token", data: chatDelta(`{"reasoning_content":"","content":""}`),
			want: summary{Kind: KindOther, Choices: 1}},
	})
}

func TestParseToolCalls(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "tool call delta", data: chatDelta(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}`),
			want: summary{Kind: KindContent, ToolCalls: true, Choices: 1}},
		{name: "empty tool calls", data: chatDelta(`{"tool_calls":[],"content":""}`),
			want: summary{Kind: KindOther, Choices: 1}},
		{name: "null tool calls", data: chatDelta(`{"tool_calls":null}`),
			want: summary{Kind: KindOther, Choices: 1}},
	})
}

func TestParseFinish(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "finish with text", data: `{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"length","stop_reason":null}]}`,
			want: summary{Kind: KindContent, Content: "!", Finish: "length", Choices: 1}},
		{name: "finish without text", data: `{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]}`,
			want: summary{Kind: KindOther, Finish: "stop", Choices: 1}},
		{name: "empty delta", data: `{"choices":[{"index":0,"delta":{},"finish_reason":"abort"}]}`,
			want: summary{Kind: KindOther, Finish: "abort", Choices: 1}},
		{name: "null delta", data: `{"choices":[{"delta":null}]}`,
			want: summary{Kind: KindOther, Choices: 1}},
		{name: "unusual reason", data: `{"choices":[{"finish_reason":"my\u005freason"}]}`,
			want: summary{Kind: KindOther, Finish: "my_reason", Choices: 1}},
	})
}

func TestParseUsageOnly(t *testing.T) {
	t.Parallel()
	usage := Usage{PromptTokens: 1024, CompletionTokens: 2, TotalTokens: 1026}
	runParseCases(t, []parseCase{
		{name: "choices empty", data: `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1024,"total_tokens":1026,"completion_tokens":2}}`,
			want: summary{Kind: KindUsage, HasUsage: true, Usage: usage}},
		{name: "choices absent", data: `{"usage":{"prompt_tokens":1024,"completion_tokens":2,"total_tokens":1026,"prompt_tokens_details":null}}`,
			want: summary{Kind: KindUsage, HasUsage: true, Usage: usage}},
		{name: "usage null", data: `{"choices":[],"usage":null}`,
			want: summary{Kind: KindOther}},
		{name: "null counts", data: `{"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":0}}`,
			want: summary{Kind: KindUsage, HasUsage: true}},
	})
}

func TestParseStreamError(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "nested", data: `{"error": {"message": "boom", "type": "BadRequestError", "param": null, "code": 400}}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "boom", Type: "BadRequestError", Code: "400"}}},
		{name: "string code and param", data: `{"error":{"message":"bad key","type":"invalid_request_error","param":"model","code":"invalid_api_key"}}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "bad key", Type: "invalid_request_error", Param: "model", Code: "invalid_api_key"}}},
		{name: "escaped message", data: `{"error":{"message":"line\none \"q\""}}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "line\none \"q\""}}},
		{name: "bare string", data: `{"error":"overloaded"}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "overloaded"}}},
		{name: "null error is no error", data: `{"error":null,"choices":[{"text":"a"}]}`,
			want: summary{Kind: KindContent, Content: "a", Choices: 1}},
		{name: "nested error wins over top-level fields", data: `{"message":"outer","code":1,"error":{"message":"inner"},"type":"T"}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "inner"}}},
	})
}

func TestParseFlatError(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{name: "flat", data: `{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "too long", Type: "BadRequestError", Code: "400"}}},
		{name: "object after the fields", data: `{"message":"m","code":503,"object":"error"}`,
			want: summary{Kind: KindError, Err: &APIError{Message: "m", Code: "503"}}},
		{name: "message without object error is not an error", data: `{"message":"hi","choices":[]}`,
			want: summary{Kind: KindOther}},
	})
}

func TestAPIErrorMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  APIError
		want string
	}{
		{name: "all", err: APIError{Message: "m", Type: "T", Code: "400"}, want: "server error: m (type T, code 400)"},
		{name: "type", err: APIError{Message: "m", Type: "T"}, want: "server error: m (type T)"},
		{name: "code", err: APIError{Message: "m", Code: "c"}, want: "server error: m (code c)"},
		{name: "message", err: APIError{Message: "m"}, want: "server error: m"},
		{name: "nothing", err: APIError{}, want: "server error: (no message)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.EqualError(t, &tc.err, tc.want)
		})
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data string
		want string
	}{
		{name: "empty", data: "", want: "sse: malformed chunk: unexpected end of data, want object at offset 0"},
		{name: "not an object", data: "hello", want: "sse: malformed chunk: unexpected 'h', want object at offset 0"},
		{name: "truncated object", data: `{"choices":[{"delta":`, want: "sse: malformed chunk: unexpected end of data, want object at offset 21"},
		{name: "unterminated string", data: `{"id":"abc`, want: "sse: malformed chunk: unterminated string at offset 6"},
		{name: "missing colon", data: `{"id" "a"}`, want: `sse: malformed chunk: unexpected '"', want ':' at offset 6`},
		{name: "missing comma", data: `{"a":1 "b":2}`, want: `sse: malformed chunk: unexpected '"', want ',' or '}' at offset 7`},
		{name: "trailing data", data: `{} x`, want: "sse: malformed chunk: unexpected 'x' after the value at offset 3"},
		{name: "bad literal", data: `{"a":nul}`, want: "sse: malformed chunk: unexpected 'n', want null at offset 5"},
		{name: "bad number", data: `{"a":1.}`, want: "sse: malformed chunk: unexpected '}', want digit at offset 7"},
		{name: "bad value", data: `{"a":?}`, want: "sse: malformed chunk: unexpected '?', want value at offset 5"},
		{name: "choices not an array", data: `{"choices":5}`, want: "sse: malformed chunk: unexpected '5', want array at offset 11"},
		{name: "content not a string", data: `{"choices":[{"delta":{"content":1}}]}`, want: "sse: malformed chunk: unexpected '1', want string at offset 32"},
		{name: "negative count", data: `{"usage":{"completion_tokens":-1}}`, want: "sse: malformed chunk: usage.completion_tokens is not a non-negative integer at offset 30"},
		{name: "fractional count", data: `{"usage":{"prompt_tokens":1.5}}`, want: "sse: malformed chunk: usage.prompt_tokens is not a non-negative integer at offset 26"},
		{name: "huge count", data: `{"usage":{"total_tokens":99999999999999999999}}`, want: "sse: malformed chunk: usage.total_tokens is not a non-negative integer at offset 25"},
		{name: "too deep", data: strings.Repeat("[", maxDepth+1), want: "sse: malformed chunk: unexpected '[', want object at offset 0"},
		{name: "too deep inside", data: `{"a":` + strings.Repeat("[", maxDepth), want: "sse: malformed chunk: nesting too deep at offset 10004"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.data))
			require.ErrorIs(t, err, ErrMalformed)
			require.EqualError(t, err, tc.want)
		})
	}
}

// chatStream is a vLLM chat stream with usage: role chunk, the tokens, a
// finish chunk, the usage chunk and [DONE].
func chatStream(tokens []string) string {
	var b strings.Builder
	b.WriteString("data: " + chatDelta(`{"role":"assistant","content":""}`) + "\n\n")
	for _, tok := range tokens {
		b.WriteString("data: " + chatDelta(`{"content":"`+tok+`"}`) + "\n\n")
	}
	b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}` + "\n\n")
	fmt.Fprintf(&b, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"total_tokens":%d,"completion_tokens":%d}}`+"\n\n",
		7+len(tokens), len(tokens))
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func TestDecoderStream(t *testing.T) {
	t.Parallel()
	d := NewDecoder(strings.NewReader(": keep-alive\n\n" + chatStream([]string{"Hel", "lo", "!"})))
	var kinds []Kind
	var text []byte
	var usage Usage
	for {
		c, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		kinds = append(kinds, c.Kind)
		text = c.Content.AppendTo(text)
		if c.HasUsage {
			usage = c.Usage
		}
	}
	want := []Kind{KindRole, KindContent, KindContent, KindContent, KindOther, KindUsage, KindDone}
	assert.Equal(t, want, kinds)
	assert.Equal(t, "Hello!", string(text))
	assert.Equal(t, Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10}, usage)
}

func TestDecoderReaderErrors(t *testing.T) {
	t.Parallel()
	reset := errors.New("reset")
	cases := []struct {
		name string
		src  io.Reader
		want error
	}{
		{name: "EOF without DONE", src: strings.NewReader("data: {}\n\n"), want: io.EOF},
		{name: "truncated", src: strings.NewReader("data: {}\n\ndata: {"), want: ErrTruncated},
		{name: "read error", src: &failingReader{data: []byte("data: {}\n\n"), err: reset}, want: reset},
		{name: "too large", src: strings.NewReader("data: {}\n\ndata: {\"choices\":[]}\n\n"), want: ErrEventTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := NewDecoder(tc.src, WithMaxEventSize(10))
			c, err := d.Next()
			require.NoError(t, err)
			require.Equal(t, KindOther, c.Kind)
			_, err = d.Next()
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDecoderMalformedEventThenGoOn(t *testing.T) {
	t.Parallel()
	d := NewDecoder(strings.NewReader("data: {oops\n\ndata: {\"choices\":[{\"text\":\"a\"}]}\n\n"))
	_, err := d.Next()
	require.ErrorIs(t, err, ErrMalformed)
	assert.Equal(t, "{oops", string(d.Data()), "Data gives the bad event")
	c, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, "a", c.Content.String())
}

func TestDecoderReset(t *testing.T) {
	t.Parallel()
	d := NewDecoder(strings.NewReader("data: [DONE]\n\n"))
	c, err := d.Next()
	require.NoError(t, err)
	require.Equal(t, KindDone, c.Kind)
	d.Reset(strings.NewReader("data: {\"choices\":[{\"text\":\"b\"}]}\n\n"))
	c, err = d.Next()
	require.NoError(t, err)
	require.Equal(t, "b", c.Content.String())
}

func TestDecoderNoAllocs(t *testing.T) {
	stream := []byte(chatStream(strings.Split("The quick brown fox jumps over the lazy dog", " ")))
	src := &splitReader{}
	d := NewDecoder(src)
	var chunks int
	sizes := []int{1 << 20}
	decodeAll := func() {
		src.data, src.sizes = stream, sizes
		d.Reset(src)
		for {
			c, err := d.Next()
			if err != nil {
				break
			}
			chunks++
			_ = c.Content.Len()
		}
	}
	decodeAll() // warm up the buffers
	allocs := testing.AllocsPerRun(100, decodeAll)
	assert.Zero(t, allocs, "allocations per stream of %d chunks", chunks/101)
}

func TestKindString(t *testing.T) {
	t.Parallel()
	got := []string{}
	for k := KindOther; k <= KindDone+1; k++ {
		got = append(got, k.String())
	}
	assert.Equal(t, []string{"other", "content", "role", "usage", "error", "done", "unknown"}, got)
}

func TestChunkGenerated(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{KindOther, KindContent, KindRole, KindUsage, KindError, KindDone} {
		c := Chunk{Kind: k}
		assert.Equal(t, k == KindContent, c.Generated(), k.String())
	}
}
