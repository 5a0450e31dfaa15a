package workload

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchstation/benchstation/bencher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes content to a file named name in a new temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

const promptFile = "\xef\xbb\xbf" + `{"prompt": "Hello there, world", "source": "dataset-a"}

{"prompt": "Count to ten.", "max_tokens": 64}
   {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}], "output_tokens": 32}
{"prompt": "Tell me a story.", "max_tokens": null, "messages": null}
`

func TestReadJSONLChat(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "prompts.jsonl", strings.ReplaceAll(promptFile, "\n", "\r\n"))
	got, err := ReadJSONL(path, bencher.APIChat, FileOptions{IgnoreEOS: true})
	require.NoError(t, err)
	user := func(s string) []bencher.Message { return []bencher.Message{{Role: "user", Content: s}} }
	want := []bencher.Request{
		{ID: "0", Messages: user("Hello there, world"), PromptTokens: 5, IgnoreEOS: true},
		{ID: "1", Messages: user("Count to ten."), PromptTokens: 4, MaxTokens: 64, IgnoreEOS: true},
		{ID: "2", Messages: []bencher.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Why is the sky blue?"}},
			PromptTokens: 3 + 5, MaxTokens: 32, IgnoreEOS: true},
		{ID: "3", Messages: user("Tell me a story."), PromptTokens: 4, IgnoreEOS: true},
	}
	assert.Equal(t, want, got)
}

func TestReadJSONLCompletions(t *testing.T) {
	t.Parallel()
	content := `{"prompt": "a"}` + "\n" + `{"prompt": "bb", "max_tokens": 5}` + "\n" + `{"prompt": "ccc"}`
	path := writeFile(t, "p.jsonl", content)
	opts := FileOptions{Output: Uniform(10, 1000), Seed: 3}
	got, err := ReadJSONL(path, bencher.APICompletions, opts)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []string{"a", "bb", "ccc"}, []string{got[0].Prompt, got[1].Prompt, got[2].Prompt})
	assert.Equal(t, 5, got[1].MaxTokens, "the line's max_tokens wins")
	for _, req := range got {
		assert.Nil(t, req.Messages)
		assert.False(t, req.IgnoreEOS)
		assert.Equal(t, 1, req.PromptTokens)
		assert.GreaterOrEqual(t, req.MaxTokens, 5)
		assert.LessOrEqual(t, req.MaxTokens, 1000)
	}
	again, err := ReadJSONL(path, bencher.APICompletions, opts)
	require.NoError(t, err)
	assert.Equal(t, got, again, "output lengths are drawn from the seed")
	assert.NotEqual(t, got[0].MaxTokens, got[2].MaxTokens, "each request draws its own")
}

func TestParseJSONLErrors(t *testing.T) {
	t.Parallel()
	const ok = `{"prompt": "fine"}` + "\n"
	tests := []struct {
		name    string
		content string
		api     bencher.API
		want    string
	}{
		{"invalid JSON", ok + `{"prompt": "x"`, bencher.APIChat, "prompts.jsonl:2: invalid JSON: unexpected end of JSON input"},
		{"trailing data", `{"prompt": "x"} {}`, bencher.APIChat, "prompts.jsonl:1: invalid JSON: invalid character '{' after top-level value"},
		{"not an object", ok + ok + `["prompt"]`, bencher.APIChat, "prompts.jsonl:3: not a JSON object"},
		{"null", `null`, bencher.APIChat, "prompts.jsonl:1: not a JSON object"},
		{"neither", ok + "\n\n" + `{"text": "x"}`, bencher.APIChat, `prompts.jsonl:4: neither "prompt" nor "messages"`},
		{"both", `{"prompt": "x", "messages": []}`, bencher.APIChat, `prompts.jsonl:1: both "prompt" and "messages"`},
		{"prompt not a string", `{"prompt": [1, 2]}`, bencher.APIChat, `prompts.jsonl:1: "prompt" is not a string`},
		{"prompt empty", `{"prompt": ""}`, bencher.APIChat, `prompts.jsonl:1: "prompt" is empty`},
		{"messages for completions", `{"messages": [{"role": "user", "content": "x"}]}`, bencher.APICompletions, `prompts.jsonl:1: "messages" needs the "chat" API`},
		{"messages not an array", `{"messages": {"role": "user"}}`, bencher.APIChat, `prompts.jsonl:1: "messages" is not an array`},
		{"messages null", `{"messages": null}`, bencher.APIChat, `prompts.jsonl:1: neither "prompt" nor "messages"`},
		{"messages a number", `{"messages": 3}`, bencher.APIChat, `prompts.jsonl:1: "messages" is not an array`},
		{"messages empty", `{"messages": []}`, bencher.APIChat, `prompts.jsonl:1: "messages" is empty`},
		{"message not an object", `{"messages": ["hi"]}`, bencher.APIChat, `prompts.jsonl:1: messages[0] is not an object`},
		{"role missing", `{"messages": [{"role": "user", "content": "a"}, {"content": "b"}]}`, bencher.APIChat, `prompts.jsonl:1: messages[1]: missing "role"`},
		{"role empty", `{"messages": [{"role": "", "content": "b"}]}`, bencher.APIChat, `prompts.jsonl:1: messages[0]: missing "role"`},
		{"role not a string", `{"messages": [{"role": 1, "content": "b"}]}`, bencher.APIChat, `prompts.jsonl:1: messages[0]: "role" is not a string`},
		{"content missing", `{"messages": [{"role": "user"}]}`, bencher.APIChat, `prompts.jsonl:1: messages[0]: missing "content"`},
		{"content not a string", `{"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}`, bencher.APIChat, `prompts.jsonl:1: messages[0]: "content" is not a string`},
		{"max_tokens not an integer", `{"prompt": "x", "max_tokens": 1.5}`, bencher.APIChat, `prompts.jsonl:1: "max_tokens" is not an integer`},
		{"max_tokens a string", `{"prompt": "x", "max_tokens": "5"}`, bencher.APIChat, `prompts.jsonl:1: "max_tokens" is not an integer`},
		{"max_tokens zero", `{"prompt": "x", "max_tokens": 0}`, bencher.APIChat, `prompts.jsonl:1: "max_tokens" is 0, below 1`},
		{"output_tokens negative", `{"prompt": "x", "output_tokens": -4}`, bencher.APIChat, `prompts.jsonl:1: "output_tokens" is -4, below 1`},
		{"both lengths", `{"prompt": "x", "max_tokens": 4, "output_tokens": 4}`, bencher.APIChat, `prompts.jsonl:1: both "max_tokens" and "output_tokens"`},
		{"empty file", "", bencher.APIChat, "prompts.jsonl: no requests"},
		{"blank file", "\n  \n\t\n", bencher.APIChat, "prompts.jsonl: no requests"},
		{"bad api", ok, "embeddings", `workload: unknown API "embeddings" (want "completions" or "chat")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs, err := ParseJSONL(strings.NewReader(tt.content), "prompts.jsonl", tt.api, FileOptions{})
			require.EqualError(t, err, tt.want)
			assert.Nil(t, reqs, "no partial result")
		})
	}
}

func TestParseJSONLErrorTypes(t *testing.T) {
	t.Parallel()
	_, err := ParseJSONL(strings.NewReader(`{}`), "p.jsonl", bencher.APIChat, FileOptions{})
	var lineErr *LineError
	require.ErrorAs(t, err, &lineErr)
	assert.Equal(t, LineError{File: "p.jsonl", Line: 1, Err: lineErr.Err}, *lineErr)

	_, err = ParseJSONL(strings.NewReader(""), "p.jsonl", bencher.APIChat, FileOptions{})
	require.ErrorIs(t, err, ErrNoRequests)

	_, err = ParseJSONL(strings.NewReader(`{"prompt": "x"}`), "p.jsonl", bencher.APIChat, FileOptions{Output: Fixed(0)})
	require.EqualError(t, err, "workload: output length: invalid length distribution 0: length 0 is below 1")
}

func TestReadJSONLFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	_, err := ReadJSONL(missing, bencher.APIChat, FileOptions{})
	require.EqualError(t, err, "workload: open "+missing+": no such file or directory")
	require.ErrorIs(t, err, os.ErrNotExist)

	path := writeFile(t, "prompts.jsonl", `{"prompt": "x"}`+"\n"+`{"prompt": 7}`)
	_, err = ReadJSONL(path, bencher.APIChat, FileOptions{})
	require.EqualError(t, err, path+`:2: "prompt" is not a string`)
}

// failingReader returns data, then err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseJSONLReadErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := ParseJSONL(&failingReader{data: `{"prompt": "x"}` + "\n", err: boom}, "p.jsonl", bencher.APIChat, FileOptions{})
	require.EqualError(t, err, "p.jsonl: read: boom")
	require.ErrorIs(t, err, boom)

	long := io.MultiReader(strings.NewReader("{\"prompt\": \"x\"}\n{\"prompt\": \""), &repeatReader{b: 'a', n: MaxLineBytes})
	_, err = ParseJSONL(long, "p.jsonl", bencher.APIChat, FileOptions{})
	require.EqualError(t, err, "p.jsonl:2: line longer than 67108864 bytes")
}

// repeatReader reads n copies of b.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}
