package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamWireFormat(t *testing.T) {
	t.Parallel()
	_, ts := start(t, WithZeroDelay())
	const maxTokens = 5
	tests := []struct {
		name         string
		path         string
		body         map[string]any
		wantRole     bool
		wantUsage    bool
		tokenPattern string
	}{
		{
			name: "completions", path: PathCompletions,
			body:         map[string]any{"prompt": "Hello world, how are you?"},
			tokenPattern: `^\{"id":"cmpl-[0-9a-f]{16}","object":"text_completion","created":\d+,"model":"benchstation/sim-1b","choices":\[\{"index":0,"text":"[^"]+","logprobs":null,"finish_reason":(null|"length"),"stop_reason":null\}\]\}$`,
		},
		{
			name: "completions with usage", path: PathCompletions, wantUsage: true,
			body:         map[string]any{"prompt": "Hello world, how are you?", "stream_options": map[string]any{"include_usage": true}},
			tokenPattern: `^\{"id":"cmpl-[0-9a-f]{16}","object":"text_completion",.*"finish_reason":(null|"length"),"stop_reason":null\}\]\}$`,
		},
		{
			name: "completions with continuous usage", path: PathCompletions, wantUsage: true,
			body: map[string]any{"prompt": "Hello world, how are you?",
				"stream_options": map[string]any{"include_usage": true, "continuous_usage_stats": true}},
			tokenPattern: `^\{"id":"cmpl-[0-9a-f]{16}",.*"stop_reason":null\}\],"usage":\{"prompt_tokens":7,"total_tokens":\d+,"completion_tokens":\d+\}\}$`,
		},
		{
			name: "chat", path: PathChatCompletions, wantRole: true,
			body:         map[string]any{"messages": []map[string]any{{"role": "user", "content": "Hello!"}}},
			tokenPattern: `^\{"id":"chatcmpl-[0-9a-f]{16}","object":"chat.completion.chunk","created":\d+,"model":"benchstation/sim-1b","choices":\[\{"index":0,"delta":\{"content":"[^"]+"\},"logprobs":null,"finish_reason":(null|"length","stop_reason":null)\}\]\}$`,
		},
		{
			name: "chat with usage", path: PathChatCompletions, wantRole: true, wantUsage: true,
			body: map[string]any{"messages": []map[string]any{{"role": "user", "content": []map[string]any{{"type": "text", "text": "Hi"}}}},
				"stream_options": map[string]any{"include_usage": true}},
			tokenPattern: `^\{"id":"chatcmpl-[0-9a-f]{16}",.*"delta":\{"content":"[^"]+"\}.*\}$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.body["model"], tt.body["max_tokens"], tt.body["ignore_eos"], tt.body["stream"] = DefaultModel, maxTokens, true, true
			resp := post(t, context.Background(), ts.URL+tt.path, tt.body)
			assert.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
			evs, err := readEvents(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, "[DONE]", evs[len(evs)-1].data, "stream must end with [DONE]")
			evs = evs[:len(evs)-1]
			id := parseChunk(t, evs[0].data).ID
			if tt.wantRole {
				assert.JSONEq(t, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`,
					rawChoice(t, evs[0].data), "chat streams open with a role-only chunk")
				evs = evs[1:]
			}
			if tt.wantUsage {
				last := parseChunk(t, evs[len(evs)-1].data)
				assert.Empty(t, last.Choices)
				require.NotNil(t, last.Usage)
				assert.Equal(t, maxTokens, last.Usage.CompletionTokens)
				assert.Equal(t, last.Usage.PromptTokens+maxTokens, last.Usage.TotalTokens)
				assert.Equal(t, id, last.ID)
				evs = evs[:len(evs)-1]
			}
			require.Len(t, evs, maxTokens, "one event per token")
			re := regexp.MustCompile(tt.tokenPattern)
			for i, ev := range evs {
				assert.Regexp(t, re, ev.data)
				c := parseChunk(t, ev.data)
				assert.Equal(t, id, c.ID)
				assert.NotEmpty(t, c.content())
				want := (*string)(nil)
				if i == maxTokens-1 {
					want = ptr("length")
				}
				assert.Equal(t, want, c.Choices[0].FinishReason, "token %d", i)
			}
		})
	}
}

func rawChoice(t *testing.T, data string) string {
	t.Helper()
	var v struct {
		Choices []json.RawMessage `json:"choices"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &v))
	require.Len(t, v.Choices, 1)
	return string(v.Choices[0])
}

func ptr[T any](v T) *T { return &v }

func TestNonStreaming(t *testing.T) {
	t.Parallel()
	_, ts := start(t, WithZeroDelay(), WithMaxNaturalTokens(10))
	type response struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Text         *string                         `json:"text"`
			Message      *struct{ Role, Content string } `json:"message"`
			FinishReason string                          `json:"finish_reason"`
		} `json:"choices"`
		Usage usageJSON `json:"usage"`
	}
	tests := []struct {
		name       string
		path       string
		body       map[string]any
		wantObject string
		wantFinish string
		wantTokens int // 0: at most 10 (natural stop)
	}{
		{"completions length", PathCompletions, map[string]any{"prompt": "abcdefgh", "max_tokens": 7, "ignore_eos": true},
			"text_completion", "length", 7},
		{"completions stop", PathCompletions, map[string]any{"prompt": "abcdefgh", "max_tokens": 4000},
			"text_completion", "stop", 0},
		{"chat length", PathChatCompletions, map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}},
			"max_completion_tokens": 3, "ignore_eos": true}, "chat.completion", "length", 3},
		{"token id prompt", PathCompletions, map[string]any{"prompt": []int{1, 2, 3}, "max_tokens": 2, "ignore_eos": true},
			"text_completion", "length", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := post(t, context.Background(), ts.URL+tt.path, tt.body)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var got response
			require.NoError(t, json.Unmarshal(readAll(t, resp), &got))
			assert.Equal(t, tt.wantObject, got.Object)
			assert.Equal(t, DefaultModel, got.Model)
			require.Len(t, got.Choices, 1)
			assert.Equal(t, tt.wantFinish, got.Choices[0].FinishReason)
			text := ""
			if got.Choices[0].Text != nil {
				text = *got.Choices[0].Text
			} else {
				require.NotNil(t, got.Choices[0].Message)
				assert.Equal(t, "assistant", got.Choices[0].Message.Role)
				text = got.Choices[0].Message.Content
			}
			if tt.wantTokens > 0 {
				assert.Equal(t, tt.wantTokens, got.Usage.CompletionTokens)
			} else {
				assert.LessOrEqual(t, got.Usage.CompletionTokens, 10)
			}
			assert.NotEmpty(t, text)
			assert.Equal(t, got.Usage.PromptTokens+got.Usage.CompletionTokens, got.Usage.TotalTokens)
		})
	}
}

func TestInfoEndpoints(t *testing.T) {
	t.Parallel()
	_, ts := start(t, WithModel("acme/tiny"), WithZeroDelay())
	tests := []struct {
		path       string
		wantStatus int
		check      func(t *testing.T, body []byte)
	}{
		{PathModels, http.StatusOK, func(t *testing.T, body []byte) {
			var v struct {
				Object string `json:"object"`
				Data   []struct {
					ID     string `json:"id"`
					Object string `json:"object"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(body, &v))
			assert.Equal(t, "list", v.Object)
			require.Len(t, v.Data, 1)
			assert.Equal(t, "acme/tiny", v.Data[0].ID)
			assert.Equal(t, "model", v.Data[0].Object)
		}},
		{PathHealth, http.StatusOK, func(t *testing.T, body []byte) { assert.Empty(t, body) }},
		{PathVersion, http.StatusOK, func(t *testing.T, body []byte) {
			assert.JSONEq(t, `{"version":"`+Version+`"}`, string(body))
			assert.Contains(t, string(body), "sim")
		}},
		{"/nope", http.StatusNotFound, func(t *testing.T, body []byte) { assert.JSONEq(t, `{"detail":"Not Found"}`, string(body)) }},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(ts.URL + tt.path)
			require.NoError(t, err)
			body := readAll(t, resp)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			tt.check(t, body)
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	_, ts := start(t, WithZeroDelay(), WithMaxModelLen(64))
	errJSON := func(code int, typ, param, msg string) string {
		p := "null"
		if param != "" {
			p = `"` + param + `"`
		}
		b, _ := json.Marshal(msg)
		return `{"error":{"message":` + string(b) + `,"type":"` + typ + `","param":` + p + `,"code":` + itoa(code) + `}}`
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"unknown model", "POST", PathCompletions, `{"model":"gpt-4","prompt":"hi"}`, 404,
			errJSON(404, "NotFoundError", "model", "The model `gpt-4` does not exist.")},
		{"unknown model chat", "POST", PathChatCompletions, `{"model":"x","messages":[{"role":"user","content":"hi"}]}`, 404,
			errJSON(404, "NotFoundError", "model", "The model `x` does not exist.")},
		{"malformed body", "POST", PathCompletions, `{"model":`, 400,
			errJSON(400, "BadRequestError", "", "Invalid JSON body: unexpected EOF")},
		{"wrong field type", "POST", PathCompletions, `{"prompt":"hi","max_tokens":"ten"}`, 400,
			errJSON(400, "BadRequestError", "", "Invalid JSON body: json: cannot unmarshal string into Go struct field genRequest.max_tokens of type int")},
		{"missing prompt", "POST", PathCompletions, `{"max_tokens":3}`, 400,
			errJSON(400, "BadRequestError", "", "'prompt' is required")},
		{"empty messages", "POST", PathChatCompletions, `{"messages":[]}`, 400,
			errJSON(400, "BadRequestError", "", "'messages' must be a non-empty array")},
		{"max_tokens zero", "POST", PathCompletions, `{"prompt":"hi","max_tokens":0}`, 400,
			errJSON(400, "BadRequestError", "", "max_tokens must be at least 1, got 0.")},
		{"context too long", "POST", PathCompletions, `{"prompt":"` + strings.Repeat("x", 160) + `","max_tokens":30}`, 400,
			errJSON(400, "BadRequestError", "", "This model's maximum context length is 64 tokens. However, you requested 30 output tokens "+
				"and your prompt contains at least 40 input tokens, for a total of at least 70 tokens. "+
				"Please reduce the length of the input prompt or the number of requested output tokens.")},
		{"prompt alone too long", "POST", PathCompletions, `{"prompt":"` + strings.Repeat("x", 256) + `"}`, 400,
			errJSON(400, "BadRequestError", "", "This model's maximum context length is 64 tokens. However, your request has 64 input tokens. "+
				"Please reduce the length of the input messages.")},
		{"n greater than one", "POST", PathCompletions, `{"prompt":"hi","n":2}`, 400,
			errJSON(400, "BadRequestError", "", "Only n=1 is supported by the simulator, got n=2.")},
		{"GET completions", "GET", PathCompletions, ``, 405,
			errJSON(405, "MethodNotAllowed", "", "Method Not Allowed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body := readAll(t, resp)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, tt.wantBody, string(body), "exact error JSON")
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
