package bencher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errBody is wrapped by the errors of request bodies that cannot be sent.
var errBody = errors.New("invalid request body")

// bodySpec is what the client adds to every request body.
type bodySpec struct {
	api    API
	model  string
	stream bool
}

// appendBody appends the JSON body of req to b, and returns it with the
// request's output limit (0 when unknown). It builds the JSON by hand: a
// completions or chat body costs no allocation beyond b's growth.
func (s *bodySpec) appendBody(b []byte, req *Request) ([]byte, int, error) {
	if len(req.Body) > 0 {
		return s.mergeBody(b, req.Body)
	}
	b = append(b, `{"model":`...)
	b = appendString(b, s.model)
	if s.api == APIChat {
		b = appendMessages(b, req)
	} else {
		b = append(b, `,"prompt":`...)
		b = appendString(b, promptOf(req))
	}
	if req.MaxTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, int64(req.MaxTokens), 10)
	}
	if req.IgnoreEOS {
		b = append(b, `,"ignore_eos":true`...)
	}
	b = s.appendStream(b)
	return append(b, '}'), req.MaxTokens, nil
}

// appendStream appends the stream members (with a leading comma).
func (s *bodySpec) appendStream(b []byte) []byte {
	if s.stream {
		return append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(b, `,"stream":false`...)
}

// appendMessages appends the chat messages (a completions-style prompt
// becomes one user message).
func appendMessages(b []byte, req *Request) []byte {
	b = append(b, `,"messages":[`...)
	if len(req.Messages) == 0 {
		b = append(b, `{"role":"user","content":`...)
		b = appendString(b, req.Prompt)
		return append(b, "}]"...)
	}
	for i := range req.Messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = appendString(b, req.Messages[i].Role)
		b = append(b, `,"content":`...)
		b = appendString(b, req.Messages[i].Content)
		b = append(b, '}')
	}
	return append(b, ']')
}

// promptOf is the completions prompt of req: Prompt, or the messages'
// contents one per line.
func promptOf(req *Request) string {
	if req.Prompt != "" || len(req.Messages) == 0 {
		return req.Prompt
	}
	var sb bytes.Buffer
	for _, m := range req.Messages {
		sb.WriteString(m.Content)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// mergeBody appends raw, a JSON object, with its "model", "stream" and
// "stream_options" members replaced by the client's. It also returns the
// body's max_tokens (or max_completion_tokens), 0 when absent.
func (s *bodySpec) mergeBody(b []byte, raw json.RawMessage) ([]byte, int, error) {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) || raw[0] != '{' {
		return b, 0, fmt.Errorf("%w: Body must be a JSON object", errBody)
	}
	b = append(b, `{"model":`...)
	b = appendString(b, s.model)
	maxTokens := 0
	i := 1
	for {
		i = skipSpace(raw, i)
		if raw[i] == '}' {
			break
		}
		keyStart := i
		i = skipValue(raw, i)
		keyTok := raw[keyStart:i]
		key := keyName(keyTok)
		i = skipSpace(raw, i) + 1 // ':'
		i = skipSpace(raw, i)
		valStart := i
		i = skipValue(raw, i)
		switch string(key) {
		case "model", "stream", "stream_options":
		default:
			if string(key) == "max_tokens" || string(key) == "max_completion_tokens" {
				if n, err := strconv.Atoi(string(raw[valStart:i])); err == nil && n > 0 {
					maxTokens = n
				}
			}
			b = append(b, ',')
			b = append(b, keyTok...)
			b = append(b, ':')
			b = append(b, raw[valStart:i]...)
		}
		i = skipSpace(raw, i)
		if raw[i] == ',' {
			i++
		}
	}
	b = s.appendStream(b)
	return append(b, '}'), maxTokens, nil
}

// keyName decodes a JSON string token (rarely escaped).
func keyName(tok []byte) []byte {
	if bytes.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1]
	}
	var s string
	_ = json.Unmarshal(tok, &s)
	return []byte(s)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i, in valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			case '"':
				i = skipValue(b, i) - 1
			}
		}
	}
	for i < len(b) && strings.IndexByte(",}] \t\r\n", b[i]) < 0 {
		i++
	}
	return i
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (without HTML escaping): quotes, backslashes and control characters are
// escaped, invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xf])
			}
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscape appends the escape of an ASCII byte.
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// RequestBody returns the JSON body the client would send for req to api,
// naming model, not streamed: the body of an OpenAI
// batch input line. A req.Body that is not a JSON object is an error.
func RequestBody(api API, model string, req *Request) ([]byte, error) {
	s := bodySpec{api: api, model: model}
	b, _, err := s.appendBody(nil, req)
	return b, err
}
