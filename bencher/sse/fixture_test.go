package sse

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixturePath is the shared file of vLLM streaming examples, relative to this
// package's directory.
const fixturePath = "../../../shared/fixtures/vllm-sse-examples.txt"

// fixtureSections reads the fixture file and returns its "### " sections,
// title to body.
func fixtureSections(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(fixturePath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("fixture %s is absent", fixturePath)
	}
	require.NoError(t, err)
	sections := map[string]string{}
	title := ""
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "### "); ok {
			title = strings.TrimSpace(rest)
			continue
		}
		if title != "" {
			sections[title] += line
		}
	}
	return sections
}

// section returns the body of the section whose title starts with prefix.
func section(t *testing.T, sections map[string]string, prefix string) string {
	t.Helper()
	for title, body := range sections {
		if strings.HasPrefix(title, prefix) {
			return body
		}
	}
	require.Failf(t, "missing fixture section", "no section starts with %q", prefix)
	return ""
}

// decodeAll decodes a whole stream into summaries, requiring io.EOF at the end.
func decodeAll(t *testing.T, src io.Reader) []summary {
	t.Helper()
	d := NewDecoder(src)
	var got []summary
	for {
		c, err := d.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		require.NoError(t, err)
		got = append(got, summarize(c))
	}
}

func TestFixtureStreams(t *testing.T) {
	t.Parallel()
	sections := fixtureSections(t)
	cases := []struct {
		name   string
		prefix string
		want   []summary
	}{
		{name: "chat with usage", prefix: "POST /v1/chat/completions", want: []summary{
			{Kind: KindRole, Choices: 1},
			{Kind: KindContent, Content: "Hello", Choices: 1},
			{Kind: KindContent, Content: "!", Finish: "length", Choices: 1},
			{Kind: KindUsage, HasUsage: true, Usage: Usage{PromptTokens: 1024, CompletionTokens: 2, TotalTokens: 1026}},
			{Kind: KindDone},
		}},
		{name: "completions with continuous usage", prefix: "POST /v1/completions", want: []summary{
			{Kind: KindContent, Content: " The", Choices: 1, HasUsage: true, Usage: Usage{PromptTokens: 1024, CompletionTokens: 1, TotalTokens: 1025}},
			{Kind: KindContent, Content: " end", Finish: "length", Choices: 1, HasUsage: true, Usage: Usage{PromptTokens: 1024, CompletionTokens: 2, TotalTokens: 1026}},
			{Kind: KindUsage, HasUsage: true, Usage: Usage{PromptTokens: 1024, CompletionTokens: 2, TotalTokens: 1026}},
			{Kind: KindDone},
		}},
		{name: "error after the stream started", prefix: "Error raised after the stream started", want: []summary{
			{Kind: KindError, Err: &APIError{Message: "...", Type: "BadRequestError", Code: "400"}},
			{Kind: KindDone},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := section(t, sections, tc.prefix)
			variants := map[string]string{
				"as written": body,
				"CRLF":       strings.ReplaceAll(body, "\n", "\r\n"),
				"CR":         strings.ReplaceAll(body, "\n", "\r"),
				"keep-alive": strings.ReplaceAll(body, "\n\n", "\n\n: keep-alive\n\n"),
			}
			for name, in := range variants {
				assert.Equal(t, tc.want, decodeAll(t, strings.NewReader(in)), name)
				events, err := readAllWays(t, in)
				require.ErrorIs(t, err, io.EOF)
				require.Len(t, events, len(tc.want), name)
			}
		})
	}
}

func TestFixtureErrorBodies(t *testing.T) {
	t.Parallel()
	sections := fixtureSections(t)
	cases := []struct {
		name    string
		prefix  string
		wantMsg string
	}{
		{name: "nested", prefix: "Error before streaming",
			wantMsg: "This model's maximum context length is 8192 tokens. However, you requested 512 output tokens"},
		{name: "flat", prefix: "Older vLLM",
			wantMsg: "This model's maximum context length is 8192 tokens. However, you requested 8705 tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := strings.TrimSpace(section(t, sections, tc.prefix))
			c, err := Parse([]byte(body))
			require.NoError(t, err)
			require.Equal(t, KindError, c.Kind)
			require.NotNil(t, c.Err)
			assert.True(t, strings.HasPrefix(c.Err.Message, tc.wantMsg), c.Err.Message)
			assert.Equal(t, "BadRequestError", c.Err.Type)
			assert.Equal(t, "400", c.Err.Code)
			assert.Empty(t, c.Err.Param)
		})
	}
}
