package sse

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTextDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{name: "plain", raw: "Hello", want: "Hello"},
		{name: "empty", raw: "", want: ""},
		{name: "simple escapes", raw: `a\"b\\c\/d\be\ff\ng\rh\ti`, want: "a\"b\\c/d\be\ff\ng\rh\ti"},
		{name: "unicode escape", raw: `caf\u00e9 \u4e16`, want: "café 世"},
		{name: "surrogate pair", raw: `\ud83d\ude00`, want: "😀"},
		{name: "lone high surrogate", raw: `\ud83dx`, want: "\uFFFDx"},
		{name: "lone low surrogate", raw: `\ude00`, want: "\uFFFD"},
		{name: "high surrogate then BMP escape", raw: `\ud83d\u0041`, want: "\uFFFDA"},
		{name: "raw UTF-8", raw: "naïve 😀", want: "naïve 😀"},
		{name: "invalid UTF-8", raw: "a\xffb", want: "a\uFFFDb"},
		{name: "invalid UTF-8 with escape", raw: "\\n\xff", want: "\n\uFFFD"},
		{name: "truncated UTF-8", raw: "\xe4\xb8", want: "\uFFFD\uFFFD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var std string
			require.NoError(t, json.Unmarshal([]byte(`"`+tc.raw+`"`), &std), "the case is valid JSON")
			require.Equal(t, tc.want, std, "encoding/json agrees with the case")
			text := Text(tc.raw)
			assert.Equal(t, tc.want, string(text.AppendTo([]byte("pre:")))[4:])
			assert.Equal(t, tc.want, text.String())
			assert.Equal(t, len(tc.want), text.Len())
		})
	}
}

func TestTextInvalidEscapesKept(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{name: "unknown escape", raw: `a\qb`, want: `a\qb`},
		{name: "short unicode escape", raw: `\u12`, want: `\u12`},
		{name: "bad hex", raw: `\u12g4`, want: `\u12g4`},
		{name: "trailing backslash", raw: `a\`, want: `a\`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := Text(tc.raw)
			assert.Equal(t, tc.want, text.String())
			assert.Equal(t, len(tc.want), text.Len())
		})
	}
}

func TestTextAppendToDoesNotAllocate(t *testing.T) {
	text := Text(`Hello \"world\" \u00e9`)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		buf = text.AppendTo(buf[:0])
		_ = text.Len()
	})
	assert.Zero(t, allocs)
	assert.Equal(t, `Hello "world" é`, string(buf))
}
