package workload

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchstation/benchstation/bencher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBatch(t *testing.T) {
	t.Parallel()
	const chat = `{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": [{"type": "text", "text": "Hello world!"}]}], "max_completion_tokens": 100}}

{"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 7, "ignore_eos": true}, "extra": 1}
`
	const completions = `{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {"prompt": "The capital of France is", "max_tokens": 16}}
{"custom_id": "b", "method": "POST", "url": "/v1/completions", "body": {"prompt": [1, 2, 3, 4, 5]}}
{"custom_id": "c", "method": "POST", "url": "/v1/completions", "body": {"prompt": ["abcd", "efgh"], "max_tokens": "many"}}
`
	tests := []struct {
		name    string
		content string
		api     bencher.API
		want    []bencher.Request
	}{
		{"chat", chat, bencher.APIChat, []bencher.Request{
			{ID: "request-1", MaxTokens: 100, PromptTokens: 4 + 3},
			{ID: "request-2", MaxTokens: 7, IgnoreEOS: true, PromptTokens: 1},
		}},
		{"completions", completions, bencher.APICompletions, []bencher.Request{
			{ID: "a", MaxTokens: 16, PromptTokens: 6},
			{ID: "b", PromptTokens: 5},
			{ID: "c", PromptTokens: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "batch.jsonl", tt.content)
			got, api, err := ReadBatch(path)
			require.NoError(t, err)
			assert.Equal(t, tt.api, api)
			require.Len(t, got, len(tt.want))
			lines := strings.Split(strings.ReplaceAll(tt.content, "\n\n", "\n"), "\n")
			for i, req := range got {
				var line struct{ Body json.RawMessage }
				require.NoError(t, json.Unmarshal([]byte(lines[i]), &line))
				assert.Equal(t, string(line.Body), string(req.Body), "the body is kept as it is")
				req.Body = nil
				assert.Equal(t, tt.want[i], req)
			}
		})
	}
}

func TestParseBatchErrors(t *testing.T) {
	t.Parallel()
	line := func(id, method, url, body string) string {
		return `{"custom_id": ` + id + `, "method": ` + method + `, "url": ` + url + `, "body": ` + body + `}` + "\n"
	}
	ok := line(`"r1"`, `"POST"`, `"/v1/chat/completions"`, `{}`)
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"invalid JSON", ok + `{"custom_id": `, "batch.jsonl:2: invalid JSON: unexpected end of JSON input"},
		{"not an object", `"r1"`, "batch.jsonl:1: not a JSON object"},
		{"missing custom_id", `{"method": "POST", "url": "/v1/completions", "body": {}}`, `batch.jsonl:1: missing "custom_id"`},
		{"custom_id not a string", line(`7`, `"POST"`, `"/v1/completions"`, `{}`), `batch.jsonl:1: "custom_id" is not a string`},
		{"custom_id empty", line(`""`, `"POST"`, `"/v1/completions"`, `{}`), `batch.jsonl:1: "custom_id" is empty`},
		{"missing method", `{"custom_id": "x", "url": "/v1/completions", "body": {}}`, `batch.jsonl:1: missing "method"`},
		{"method GET", line(`"x"`, `"GET"`, `"/v1/completions"`, `{}`), `batch.jsonl:1: method "GET" is not POST`},
		{"missing url", `{"custom_id": "x", "method": "POST", "body": {}}`, `batch.jsonl:1: missing "url"`},
		{"bad url", ok + line(`"r2"`, `"POST"`, `"/v1/embeddings"`, `{}`), `batch.jsonl:2: unsupported url "/v1/embeddings" (want /v1/chat/completions or /v1/completions)`},
		{"full url", line(`"x"`, `"POST"`, `"https://api.openai.com/v1/completions"`, `{}`), `batch.jsonl:1: unsupported url "https://api.openai.com/v1/completions" (want /v1/chat/completions or /v1/completions)`},
		{"mixed urls", ok + line(`"r2"`, `"POST"`, `"/v1/completions"`, `{}`), `batch.jsonl:2: url "/v1/completions" differs from the file's first, "/v1/chat/completions": a batch has one API`},
		{"duplicate custom_id", ok + "\n" + ok, `batch.jsonl:3: duplicate custom_id "r1" (first on line 1)`},
		{"missing body", `{"custom_id": "x", "method": "POST", "url": "/v1/completions"}`, `batch.jsonl:1: missing "body"`},
		{"null body", line(`"x"`, `"POST"`, `"/v1/completions"`, `null`), `batch.jsonl:1: missing "body"`},
		{"body not an object", line(`"x"`, `"POST"`, `"/v1/completions"`, `"prompt"`), `batch.jsonl:1: "body" is not a JSON object`},
		{"empty", "\n", "batch.jsonl: no requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs, api, err := ParseBatch(strings.NewReader(tt.content), "batch.jsonl")
			require.EqualError(t, err, tt.want)
			assert.Nil(t, reqs, "no partial result")
			assert.Empty(t, api)
		})
	}
}

func TestReadBatchMissingFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "batch.jsonl")
	_, _, err := ReadBatch(missing)
	require.EqualError(t, err, "workload: open "+missing+": no such file or directory")
}
