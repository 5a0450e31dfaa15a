package sse

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// refRead is a slow, literal reading of the event-stream rules with this
// package's size limit and end-of-stream conventions, to check the Reader
// against.
func refRead(in []byte, limit int) ([]string, error) {
	lines, partial := refLines(string(in))
	events := []string{}
	var data []string
	inEvent, size := false, 0
	for i, line := range lines {
		if size += len(line); size > limit {
			return events, ErrEventTooLarge
		}
		if i == 0 {
			line = strings.TrimPrefix(line, "\xEF\xBB\xBF")
		}
		switch {
		case line == "":
			if data != nil {
				events = append(events, strings.Join(data, "\n"))
			}
			data, inEvent, size = nil, false, 0
		case line[0] != ':':
			inEvent = true
			name, value, _ := strings.Cut(line, ":")
			if name == "data" {
				data = append(data, strings.TrimPrefix(value, " "))
			}
		}
	}
	if size+len(partial) > limit {
		return events, ErrEventTooLarge
	}
	if len(lines) == 0 {
		partial = strings.TrimPrefix(partial, "\xEF\xBB\xBF")
	}
	if inEvent || data != nil || (partial != "" && partial[0] != ':') {
		return events, ErrTruncated
	}
	return events, io.EOF
}

// refLines splits s at CRLF, CR and LF, returning the unterminated rest.
func refLines(s string) (lines []string, partial string) {
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			return lines, s
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

func FuzzReader(f *testing.F) {
	seeds := []string{
		chatStream([]string{"Hel", "lo"}),
		strings.ReplaceAll(chatStream([]string{"a"}), "\n", "\r\n"),
		"data: a\rdata: b\r\r: c\n\nevent: x\nid: 1\nretry: 5\ndata:b\n\n",
		"\xEF\xBB\xBFdata: x\r\n\r\ndata",
		"data: a\n\ndata: {\"b",
		": only a comment",
		"data\n\ndata:\n\ndata: \n\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint64(i), uint16(0))
		f.Add([]byte(s), uint64(i)*7919, uint16(8+i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, limit uint16) {
		max := DefaultMaxEventSize
		if limit > 0 {
			max = int(limit)
		}
		want, wantErr := refRead(in, max)
		got, err := readAll(bytes.NewReader(in), WithMaxEventSize(max))
		require.Equal(t, want, got, "whole input")
		require.True(t, sameErr(wantErr, err), "whole input: got %v, want %v", err, wantErr)
		total := 0
		for _, e := range got {
			total += len(e)
		}
		require.LessOrEqual(t, total, len(in), "never more data than input")

		rng := rand.New(rand.NewPCG(seed, uint64(len(in))))
		split := &splitReader{data: in, sizes: randomSizes(rng, len(in))}
		got, err = readAll(split, WithMaxEventSize(max), WithBufferSize(1+int(seed%32)))
		require.Equal(t, want, got, "random split")
		require.True(t, sameErr(wantErr, err), "random split: got %v, want %v", err, wantErr)

		got, err = readAll(iotest.OneByteReader(bytes.NewReader(in)), WithMaxEventSize(max), WithBufferSize(1))
		require.Equal(t, want, got, "one byte at a time")
		require.True(t, sameErr(wantErr, err), "one byte at a time: got %v, want %v", err, wantErr)
	})
}

// refChunk decodes data with encoding/json into the summary Parse should
// give. ok is false where the comparison does not apply: data that
// encoding/json rejects, or values of types Parse does not accept.
func refChunk(data []byte) (want summary, ok bool) {
	if string(bytes.Trim(data, " \t\r\n")) == "[DONE]" {
		return summary{Kind: KindDone}, true
	}
	var top map[string]json.RawMessage
	if !json.Valid(data) || bytes.Trim(data, " \t\r\n")[0] != '{' || json.Unmarshal(data, &top) != nil {
		return summary{}, false
	}
	var r refState
	ok = r.choices(top["choices"], &want) && r.usage(top["usage"], &want) && r.errors(top, &want)
	if !ok {
		return summary{}, false
	}
	switch {
	case want.Err != nil:
		want.Kind = KindError
	case want.Content != "" || want.Reasoning != "" || want.ToolCalls:
		want.Kind = KindContent
	case r.role != "":
		want.Kind = KindRole
	case want.Choices == 0 && want.HasUsage:
		want.Kind = KindUsage
	}
	return want, true
}

type refState struct{ role string }

// unmarshalOK decodes a present, non-null raw value into v.
func unmarshalOK(raw json.RawMessage, v any) bool {
	return raw == nil || json.Unmarshal(raw, v) == nil
}

func (r *refState) choices(raw json.RawMessage, want *summary) bool {
	var choices []json.RawMessage
	if !unmarshalOK(raw, &choices) {
		return false
	}
	want.Choices = len(choices)
	if len(choices) == 0 {
		return true
	}
	var choice map[string]json.RawMessage
	if !unmarshalOK(choices[0], &choice) || (choice["text"] != nil && choice["delta"] != nil) {
		return false
	}
	var index int64
	var delta map[string]json.RawMessage
	var text, finish *string
	ok := unmarshalOK(choice["index"], &index) && index >= 0 && !bytes.HasPrefix(choice["index"], []byte("-")) &&
		unmarshalOK(choice["text"], &text) && unmarshalOK(choice["finish_reason"], &finish) &&
		unmarshalOK(choice["delta"], &delta)
	want.Index = int(index)
	want.Content, want.Finish = deref(text), deref(finish)
	return ok && r.delta(delta, want)
}

func (r *refState) delta(delta map[string]json.RawMessage, want *summary) bool {
	var content, reasoningContent, reasoning, role *string
	var tools []json.RawMessage
	ok := unmarshalOK(delta["content"], &content) && unmarshalOK(delta["reasoning_content"], &reasoningContent) &&
		unmarshalOK(delta["reasoning"], &reasoning) && unmarshalOK(delta["role"], &role) &&
		unmarshalOK(delta["tool_calls"], &tools)
	if delta != nil {
		want.Content = deref(content)
	}
	want.Reasoning = deref(reasoningContent)
	if want.Reasoning == "" {
		want.Reasoning = deref(reasoning)
	}
	r.role = deref(role)
	want.ToolCalls = len(tools) > 0
	return ok
}

func (r *refState) usage(raw json.RawMessage, want *summary) bool {
	var u map[string]json.RawMessage
	if !unmarshalOK(raw, &u) {
		return false
	}
	want.HasUsage = u != nil
	counts := map[string]*int64{
		"prompt_tokens": &want.Usage.PromptTokens, "completion_tokens": &want.Usage.CompletionTokens,
		"total_tokens": &want.Usage.TotalTokens,
	}
	for name, dst := range counts {
		if !unmarshalOK(u[name], dst) || *dst < 0 || bytes.HasPrefix(u[name], []byte("-")) {
			return false
		}
	}
	return true
}

func (r *refState) errors(top map[string]json.RawMessage, want *summary) bool {
	var object any
	_ = json.Unmarshal(top["object"], &object)
	nested := top["error"]
	switch {
	case len(nested) > 0 && nested[0] == '"':
		want.Err = refAPIError(map[string]json.RawMessage{"message": nested})
	case len(nested) > 0 && nested[0] == '{':
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(nested, &fields)
		want.Err = refAPIError(fields)
	case object == "error":
		want.Err = refAPIError(top)
	}
	return true
}

func refAPIError(fields map[string]json.RawMessage) *APIError {
	text := func(name string) string {
		var s string
		if raw := fields[name]; len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			return s
		}
		if string(fields[name]) == "null" {
			return ""
		}
		return string(fields[name])
	}
	return &APIError{Message: text("message"), Type: text("type"), Param: text("param"), Code: text("code")}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"[DONE]",
		chatDelta(`{"role":"assistant","content":""}`),
		chatDelta(`{"content":"a\n\u00e9\ud83d\ude00"}`),
		chatDelta(`{"reasoning_content":"x","reasoning":null,"tool_calls":[{"index":0}]}`),
		`{"choices":[{"index":0,"text":" The","finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
		`{"choices":[],"usage":{"prompt_tokens":1024,"total_tokens":1026,"completion_tokens":2}}`,
		`{"error": {"message": "...", "type": "BadRequestError", "param": null, "code": 400}}`,
		`{"object":"error","message":"m","type":"T","param":null,"code":400}`,
		`{"choices":[{"text":"a"}],"choices":null,"error":"x","error":null}`,
		`{"a":[1,-2.5e+3,true,false,null,{"b":"}\""}],"\u0063hoices":[null]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data)
		if err == nil {
			require.Equal(t, got.Content.Len(), len(got.Content.String()))
			require.Equal(t, got.Reasoning.Len(), len(got.Reasoning.String()))
		}
		want, ok := refChunk(data)
		if !ok {
			return
		}
		require.NoError(t, err, "encoding/json accepts %q", data)
		require.Equal(t, want, summarize(got))
	})
}
