package bencher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/testkit"
)

// stall waits until the client goes away (or a while).
func stall(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// hijackStream writes a raw chunked SSE response with the given events
// and closes the connection without the final chunk.
func hijackStream(w http.ResponseWriter, r *http.Request, events ...string) {
	_, _ = io.Copy(io.Discard, r.Body) // unread data would make the close a reset
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	for _, e := range events {
		ev := "data: " + e + "\n\n"
		fmt.Fprintf(buf, "%x\r\n%s\r\n", len(ev), ev)
	}
	buf.Flush()
}

// rawClose writes a close-delimited (no length, not chunked) response body
// and closes the connection.
func rawClose(w http.ResponseWriter, r *http.Request, body string) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + body)
	buf.Flush()
}

func errorBody(status int, h http.Header, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	deadURL := "http://" + testkit.RefusingAddr(t) + "/v1"

	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     string // instead of the handler's server
		opts    []Option
		class   ErrorClass
		status  int
		message string // the exact message, or a prefix ending with "…*"
		chunks  int
	}{
		{
			name:    "500 nested error",
			handler: errorBody(500, nil, `{"error":{"message":"boom","type":"InternalServerError","param":null,"code":500}}`),
			class:   ErrHTTPStatus, status: 500, message: "server error: boom (type InternalServerError, code 500)",
		},
		{
			name:    "429 without retries",
			handler: errorBody(429, http.Header{"Retry-After": {"1"}}, `{"error":{"message":"slow down","type":"RateLimitError","code":429}}`),
			class:   ErrHTTPStatus, status: 429, message: "server error: slow down (type RateLimitError, code 429)",
		},
		{
			name: "400 nested error",
			handler: errorBody(400, nil, `{"error":{"message":"This model's maximum context length is 8192 tokens.",`+
				`"type":"BadRequestError","param":null,"code":400}}`),
			class: ErrHTTPStatus, status: 400,
			message: "server error: This model's maximum context length is 8192 tokens. (type BadRequestError, code 400)",
		},
		{
			name:    "400 flat error",
			handler: errorBody(400, nil, `{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}`),
			class:   ErrHTTPStatus, status: 400, message: "server error: too long (type BadRequestError, code 400)",
		},
		{
			name: "502 from a proxy",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				fmt.Fprint(w, "<html>bad gateway</html>\n")
			},
			class: ErrHTTPStatus, status: 502, message: "HTTP 502 Bad Gateway: <html>bad gateway</html>",
		},
		{
			name: "404 without body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(404)
			},
			class: ErrHTTPStatus, status: 404, message: "HTTP 404 Not Found",
		},
		{
			name: "error event after HTTP 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"), textChunk(" b"),
					`{"error": {"message": "engine died", "type": "InternalServerError", "param": null, "code": 500}}`, "[DONE]")
			},
			class: ErrStream, status: 200, message: "server error: engine died (type InternalServerError, code 500)", chunks: 2,
		},
		{
			name: "flat error event after HTTP 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"), `{"object":"error","message":"oops","type":"BadRequestError","code":400}`)
			},
			class: ErrStream, status: 200, message: "server error: oops (type BadRequestError, code 400)", chunks: 1,
		},
		{
			name: "connection closed mid-stream (hijack)",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hijackStream(w, r, textChunk(" a"), textChunk(" b"), textChunk(" c"))
			},
			class: ErrConnection, status: 200, message: "sse: read: unexpected EOF", chunks: 3,
		},
		{
			name: "connection closed in the middle of an event",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rawClose(w, r, "data: "+textChunk(" a")+"\n\ndata: {\"choices\":[{\"te")
			},
			class: ErrConnection, status: 200, message: "sse: stream ended in the middle of an event", chunks: 1,
		},
		{
			name: "stream ending without [DONE] or finish reason",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"), textChunk(" b"))
			},
			class: ErrConnection, status: 200, message: "stream ended without [DONE] or a finish reason", chunks: 2,
		},
		{
			name: "stream ending without [DONE] after a finish reason is complete",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"), finishChunk(" b", "stop"))
			},
			class: ErrNone, status: 200, chunks: 2,
		},
		{
			name: "invalid JSON in a chunk",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"), `{"choices":[{"text": nope}]}`, "[DONE]")
			},
			class: ErrInvalidResponse, status: 200, message: "sse: malformed chunk…*", chunks: 1,
		},
		{
			name: "invalid JSON answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"choices": [`)
			},
			class: ErrInvalidResponse, status: 200, message: "invalid JSON answer: unexpected end of JSON input",
		},
		{
			name: "timeout before the answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				stall(r)
			},
			opts:  []Option{WithTimeout(100 * time.Millisecond)},
			class: ErrTimeout, message: "context deadline exceeded",
		},
		{
			name: "timeout mid-stream",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, textChunk(" a"))
				stall(r)
			},
			opts:  []Option{WithTimeout(100 * time.Millisecond)},
			class: ErrTimeout, status: 200, message: "sse: read: context deadline exceeded", chunks: 1,
		},
		{
			name:  "connection refused",
			url:   deadURL,
			class: ErrConnection, message: "dial tcp " + strings.TrimSuffix(strings.TrimPrefix(deadURL, "http://"), "/v1") + ": connect: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			if url == "" {
				url = serve(t, tt.handler)
			}
			rec := sendOne(t, context.Background(), Request{Prompt: "p", MaxTokens: 8}, append([]Option{WithTarget(url)}, tt.opts...)...)
			assert.Equal(t, tt.class, rec.Error)
			assert.Equal(t, tt.status, rec.HTTPStatus)
			if prefix, ok := strings.CutSuffix(tt.message, "…*"); ok {
				assert.True(t, strings.HasPrefix(rec.ErrorMessage, prefix), "message %q, want prefix %q", rec.ErrorMessage, prefix)
			} else {
				assert.Equal(t, tt.message, rec.ErrorMessage)
			}
			assert.Len(t, rec.ChunkTimes, tt.chunks)
			assert.Equal(t, 1, rec.Attempts)
			assert.Positive(t, rec.Sent)
			assert.GreaterOrEqual(t, rec.End, rec.Sent)
			assert.Equal(t, tt.chunks > 0, rec.FirstToken > 0)
		})
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		events(w, textChunk(" a"))
		stall(r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rec := sendOne(t, ctx, Request{Prompt: "p"}, WithTarget(url))
	assert.Equal(t, ErrCanceled, rec.Error)
	assert.Equal(t, "sse: read: context canceled", rec.ErrorMessage)
	assert.Len(t, rec.ChunkTimes, 1)
}

func TestStreamRecord(t *testing.T) {
	t.Parallel()
	var got map[string]any
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = bodyOf(t, r)
		fullStream(w, 5)
	})
	rec := sendOne(t, context.Background(), Request{ID: "x", Prompt: "hello", MaxTokens: 5, IgnoreEOS: true, PromptTokens: 99},
		WithTarget(url), WithRecordOutputs(true))
	require.True(t, rec.OK(), rec.ErrorMessage)
	assert.Equal(t, map[string]any{"model": "m", "prompt": "hello", "max_tokens": 5.0, "ignore_eos": true,
		"stream": true, "stream_options": map[string]any{"include_usage": true}}, got)
	assert.Len(t, rec.ChunkTimes, 5)
	assert.Equal(t, 5, cap(rec.ChunkTimes), "pre-sized from MaxTokens")
	assert.Equal(t, rec.ChunkTimes[0], rec.FirstToken)
	assert.IsNonDecreasing(t, rec.ChunkTimes)
	assert.GreaterOrEqual(t, rec.End, rec.ChunkTimes[4])
	assert.Equal(t, 5, rec.InputTokens, "from usage, not the workload's estimate")
	assert.Equal(t, 5, rec.OutputTokens)
	assert.Equal(t, TokensFromUsage, rec.TokenSource)
	assert.Equal(t, "length", rec.FinishReason)
	assert.Equal(t, " t0 t1 t2 t3 end", rec.Output)
	assert.Equal(t, 200, rec.HTTPStatus)
}

func TestTokenCounting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		events      []string
		wantOut     int
		wantIn      int
		wantSource  TokenSource
		wantChunks  int
		wantFinish  string
		wantOutText string
	}{
		{
			name:    "usage wins over chunks (several tokens per chunk)",
			events:  []string{textChunk(" a b"), finishChunk(" c d", "stop"), usageChunk(11, 4), "[DONE]"},
			wantOut: 4, wantIn: 11, wantSource: TokensFromUsage, wantChunks: 2, wantFinish: "stop", wantOutText: " a b c d",
		},
		{
			name:    "no usage: chunks and the workload's prompt estimate",
			events:  []string{textChunk(" a"), textChunk(" b"), finishChunk(" c", "length"), "[DONE]"},
			wantOut: 3, wantIn: 42, wantSource: TokensFromChunks, wantChunks: 3, wantFinish: "length", wantOutText: " a b c",
		},
		{
			name: "continuous usage: the last one counts",
			events: []string{
				`{"choices":[{"index":0,"text":" a","finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
				`{"choices":[{"index":0,"text":" b","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
				"[DONE]"},
			wantOut: 2, wantIn: 3, wantSource: TokensFromUsage, wantChunks: 2, wantFinish: "length", wantOutText: " a b",
		},
		{
			name: "empty and finish-only chunks are not tokens; other choices are ignored",
			events: []string{textChunk(""), textChunk(" a"),
				`{"choices":[{"index":1,"text":" other","finish_reason":null}]}`,
				finishChunk("", "stop"), "[DONE]"},
			wantOut: 1, wantIn: 42, wantSource: TokensFromChunks, wantChunks: 1, wantFinish: "stop", wantOutText: " a",
		},
		{
			name:    "escapes and unicode in the output",
			events:  []string{`{"choices":[{"index":0,"text":"\"q\"\n\u00e9\ud834\udd1e","finish_reason":"stop"}]}`, "[DONE]"},
			wantOut: 1, wantIn: 42, wantSource: TokensFromChunks, wantChunks: 1, wantFinish: "stop", wantOutText: "\"q\"\né𝄞",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				events(w, tt.events...)
			})
			rec := sendOne(t, context.Background(), Request{Prompt: "p", PromptTokens: 42}, WithTarget(url), WithRecordOutputs(true))
			require.True(t, rec.OK(), rec.ErrorMessage)
			assert.Equal(t, tt.wantOut, rec.OutputTokens)
			assert.Equal(t, tt.wantIn, rec.InputTokens)
			assert.Equal(t, tt.wantSource, rec.TokenSource)
			assert.Len(t, rec.ChunkTimes, tt.wantChunks)
			assert.Equal(t, tt.wantFinish, rec.FinishReason)
			assert.Equal(t, tt.wantOutText, rec.Output)
		})
	}
}

// TestRoleChunkIsNotFirstToken: a server that sends the chat role chunk at
// once and the first content 80 ms later; TTFT must count from the content.
func TestRoleChunkIsNotFirstToken(t *testing.T) {
	t.Parallel()
	const wait = 80 * time.Millisecond
	var roleSent, contentSent atomic.Int64
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		events(w, roleChunk)
		roleSent.Store(time.Now().UnixNano())
		time.Sleep(wait)
		contentSent.Store(time.Now().UnixNano())
		events(w, deltaChunk("content", "Hi"), deltaChunk("content", "!"), usageChunk(3, 2), "[DONE]")
	})
	start := time.Now()
	c, err := NewClient(WithTarget(url), WithAPI(APIChat), WithModel("m"))
	require.NoError(t, err)
	defer c.Close()
	var rec Record
	c.Do(context.Background(), &Request{Messages: []Message{{Role: "user", Content: "hi"}}}, &rec, start)
	require.True(t, rec.OK(), rec.ErrorMessage)
	assert.Len(t, rec.ChunkTimes, 2)
	assert.GreaterOrEqual(t, rec.FirstToken-rec.Sent, wait, "TTFT from the content chunk, not the role chunk")
	assert.GreaterOrEqual(t, start.Add(rec.FirstToken).UnixNano(), contentSent.Load())
}

// TestReasoningCounts: reasoning deltas are tokens, before any content.
func TestReasoningCounts(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		events(w, roleChunk, deltaChunk("reasoning_content", "Let me think."))
		time.Sleep(30 * time.Millisecond)
		events(w, deltaChunk("reasoning", " Done."))
		time.Sleep(30 * time.Millisecond)
		events(w, deltaChunk("content", "42"), "[DONE]")
	})
	rec := sendOne(t, context.Background(), Request{Prompt: "q"}, WithTarget(url), WithAPI(APIChat), WithRecordOutputs(true))
	require.True(t, rec.OK(), rec.ErrorMessage)
	require.Len(t, rec.ChunkTimes, 3)
	assert.Equal(t, rec.ChunkTimes[0], rec.FirstToken, "the first reasoning delta is the first token")
	// The content came 60 ms after the first reasoning delta at the server;
	// the client may read the first one late on a busy machine, so only the
	// order is certain.
	assert.Greater(t, rec.ChunkTimes[2], rec.ChunkTimes[1], "content after the reasoning")
	assert.Greater(t, rec.ChunkTimes[1], rec.ChunkTimes[0])
	assert.Equal(t, 3, rec.OutputTokens)
	assert.Equal(t, TokensFromChunks, rec.TokenSource)
	assert.Equal(t, "42", rec.Output, "the output is the content, not the reasoning")
}

func TestNonStreaming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		api    API
		answer string
		want   Record
	}{
		{
			name:   "completions",
			api:    APICompletions,
			answer: `{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" hi there","finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`,
			want:   Record{InputTokens: 4, OutputTokens: 2, TokenSource: TokensFromUsage, FinishReason: "length", Output: " hi there"},
		},
		{
			name:   "chat",
			api:    APIChat,
			answer: `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`,
			want:   Record{InputTokens: 9, OutputTokens: 1, TokenSource: TokensFromUsage, FinishReason: "stop", Output: "ok"},
		},
		{
			name:   "without usage",
			api:    APICompletions,
			answer: `{"choices":[{"index":0,"text":"x","finish_reason":"stop"}]}`,
			want:   Record{InputTokens: 7, FinishReason: "stop", Output: "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got map[string]any
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				got = bodyOf(t, r)
				assert.Equal(t, "application/json", r.Header.Get("Accept"))
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tt.answer)
			})
			rec := sendOne(t, context.Background(), Request{Prompt: "p", PromptTokens: 7},
				WithTarget(url), WithAPI(tt.api), WithStreaming(false), WithRecordOutputs(true))
			require.True(t, rec.OK(), rec.ErrorMessage)
			assert.Equal(t, false, got["stream"])
			assert.NotContains(t, got, "stream_options")
			assert.Zero(t, rec.FirstToken, "no first-token time without a stream")
			assert.Empty(t, rec.ChunkTimes)
			assert.Equal(t, tt.want.InputTokens, rec.InputTokens)
			assert.Equal(t, tt.want.OutputTokens, rec.OutputTokens)
			assert.Equal(t, tt.want.TokenSource, rec.TokenSource)
			assert.Equal(t, tt.want.FinishReason, rec.FinishReason)
			assert.Equal(t, tt.want.Output, rec.Output)
			assert.Greater(t, rec.End, rec.Sent)
		})
	}
}

// TestJSONAnswerToStream: a server that ignores "stream": true.
func TestJSONAnswerToStream(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"choices":[{"index":0,"text":"x","finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	})
	rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url))
	require.True(t, rec.OK(), rec.ErrorMessage)
	assert.Equal(t, 1, rec.OutputTokens)
	assert.Equal(t, "stop", rec.FinishReason)
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	var got http.Header
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		got = r.Header.Clone()
		assert.Equal(t, "/v1/chat/completions", r.URL.Path)
		fullStream(w, 2)
	})
	for range 2 { // the shared header values survive a request
		rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url+"/"), WithAPI(APIChat),
			WithAPIKey("sk-test"), WithHeader("X-Tenant", "a"), WithHeader("X-Tenant", "b"),
			WithHeaders(http.Header{"x-trace": {"t1"}}))
		require.True(t, rec.OK(), rec.ErrorMessage)
		assert.Equal(t, "Bearer sk-test", got.Get("Authorization"))
		assert.Equal(t, []string{"a", "b"}, got.Values("X-Tenant"))
		assert.Equal(t, "t1", got.Get("X-Trace"))
		assert.Equal(t, "application/json", got.Get("Content-Type"))
		assert.Equal(t, "text/event-stream", got.Get("Accept"))
		assert.Empty(t, got.Get("Accept-Encoding"), "no compression of SSE")
	}
	assert.EqualValues(t, 2, calls.Load())
}

func TestBasicAuthFromURL(t *testing.T) {
	t.Parallel()
	var user, pass string
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ = r.BasicAuth()
		fullStream(w, 1)
	})
	withUser := strings.Replace(url, "http://", "http://alice:s3cret@", 1)
	c, err := NewClient(WithTarget(withUser), WithModel("m"))
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, strings.TrimPrefix(url, ""), c.Target(), "the target is recorded without userinfo")
	var rec Record
	c.Do(context.Background(), &Request{Prompt: "p"}, &rec, time.Now())
	require.True(t, rec.OK(), rec.ErrorMessage)
	assert.Equal(t, "alice", user)
	assert.Equal(t, "s3cret", pass)
}

// TestAPIKeyNeverLeaks: servers that echo the key in error bodies and
// error events, and transport errors, never put the key in a record, a
// result or an error.
func TestAPIKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	const key = "sk-SECRET-0123456789"
	handlers := map[string]http.HandlerFunc{
		"401 echo": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","code":"invalid_api_key"}}`,
				strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		},
		"raw echo": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			fmt.Fprintf(w, "headers: %v", r.Header)
		},
		"stream echo": func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			events(w, textChunk("a"), fmt.Sprintf(`{"error":{"message":"bad auth %s"}}`, r.Header.Get("Authorization")))
		},
		"models echo": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			fmt.Fprintf(w, `{"error":{"message":"key %s"}}`, r.Header.Get("Authorization"))
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, h)
			opts := []Option{WithTarget(url), WithAPIKey(key), WithRequests(2), WithRetries(1), WithBackoff(0, 0)}
			if name != "models echo" {
				opts = append(opts, WithModel("m"))
			}
			res, err := Run(context.Background(), Requests{{Prompt: "p"}}, opts...)
			if err != nil {
				assert.NotContains(t, err.Error(), key)
				assert.Contains(t, err.Error(), "[REDACTED]")
				return
			}
			b, err := json.Marshal(res)
			require.NoError(t, err)
			assert.NotContains(t, string(b), key)
			assert.NotContains(t, string(b), "SECRET")
			for _, rec := range res.Records {
				assert.False(t, rec.OK())
				assert.Contains(t, rec.ErrorMessage, "[REDACTED]")
			}
		})
	}
	t.Run("dial error", func(t *testing.T) {
		t.Parallel()
		rec := sendOne(t, context.Background(), Request{Prompt: "p"},
			WithTarget("http://user:"+key+"@127.0.0.1:1/v1"), WithAPIKey(key))
		assert.Equal(t, ErrConnection, rec.Error)
		assert.NotContains(t, rec.ErrorMessage, key)
	})
}

func TestDetectModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		want    string
		wantErr string
		is      error
	}{
		{name: "vLLM list", status: 200, body: `{"object":"list","data":[{"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model"},{"id":"lora"}]}`,
			want: "meta-llama/Llama-3.1-8B-Instruct"},
		{name: "empty list", status: 200, body: `{"object":"list","data":[]}`, is: ErrNoModels,
			wantErr: "bencher: the server lists no model (GET URL/models)"},
		{name: "error answer", status: 401, body: `{"error":{"message":"no key","type":"AuthenticationError","code":401}}`,
			wantErr: "bencher: detecting the model at URL: GET /models: server error: no key (type AuthenticationError, code 401)"},
		{name: "not JSON", status: 200, body: `<html>`,
			wantErr: "bencher: detecting the model at URL: invalid /models answer: invalid character '<' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := serveAll(t, func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "/v1/models", r.URL.Path)
				assert.Equal(t, "Bearer sk-test-key", r.Header.Get("Authorization"))
				assert.Equal(t, "v", r.Header.Get("X-Extra"))
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			got, err := DetectModel(context.Background(), url, WithAPIKey("sk-test-key"), WithHeader("X-Extra", "v"))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, strings.ReplaceAll(tt.wantErr, "URL", url), err.Error())
				if tt.is != nil {
					assert.ErrorIs(t, err, tt.is)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNewClientInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no scheme", []Option{WithTarget("localhost:8000/v1")}, `bencher: invalid configuration: target URL must be http(s)://host[:port]/v1, got "localhost:8000/v1"`},
		{"ftp", []Option{WithTarget("ftp://user:pw@host/v1")}, `bencher: invalid configuration: target URL must be http(s)://host[:port]/v1, got "ftp://host/v1"`},
		{"bad URL", []Option{WithTarget("http://a b:pw@host/v1")}, `bencher: invalid configuration: target URL: net/url: invalid userinfo`},
		{"API", []Option{WithAPI("embeddings")}, `bencher: invalid configuration: unknown API "embeddings" (want "completions" or "chat")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClient(tt.opts...)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.EqualError(t, err, tt.want)
		})
	}
}

// TestKeepAlive: sequential requests reuse one connection.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	ts := newCountingServer(t, &conns, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 3) })
	c, err := NewClient(WithTarget(ts), WithModel("m"))
	require.NoError(t, err)
	defer c.Close()
	for range 5 {
		var rec Record
		c.Do(context.Background(), &Request{Prompt: "p"}, &rec, time.Now())
		require.True(t, rec.OK(), rec.ErrorMessage)
	}
	assert.EqualValues(t, 1, conns.Load())
}

// newCountingServer serves h and counts accepted connections.
func newCountingServer(t *testing.T, conns *atomic.Int32, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/v1"
}

// TestRawBody: a batch line's body is sent as it is, with the run's model
// and streaming; one that is not a JSON object is never sent.
func TestRawBody(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		got = bodyOf(t, r)
		fullStream(w, 3)
	})
	res, err := Run(context.Background(), Requests{
		{ID: "line-1", Body: json.RawMessage(`{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0.2,"stream":false}`)},
		{ID: "line-2", Body: json.RawMessage(`["not", "an", "object"]`)},
	}, WithTarget(url), WithModel("served"), WithAPI(APIChat))
	require.NoError(t, err)
	require.Len(t, res.Records, 2)
	ok, bad := res.Records[0], res.Records[1]
	require.True(t, ok.OK(), ok.ErrorMessage)
	assert.Equal(t, "line-1", ok.ID)
	assert.Equal(t, 3, cap(ok.ChunkTimes), "pre-sized from the body's max_tokens")
	assert.Equal(t, map[string]any{"model": "served", "messages": []any{map[string]any{"role": "user", "content": "hi"}},
		"max_tokens": 3.0, "temperature": 0.2, "stream": true, "stream_options": map[string]any{"include_usage": true}}, got)
	assert.Equal(t, ErrInvalidRequest, bad.Error)
	assert.Equal(t, "invalid request body: Body must be a JSON object", bad.ErrorMessage)
	assert.Zero(t, bad.Attempts, "never sent")
	assert.EqualValues(t, 1, calls.Load())
}

// TestIdleTimeout: a stream that stalls fails after the idle timeout, not
// the whole request timeout, as a timeout with the stage it stalled at
// (issue #12, point 12); a slow but steady stream is not cut.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	// The body read first: the server notices a closed connection only then.
	stall := func(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body); <-r.Context().Done() }
	tests := []struct {
		name    string
		h       http.HandlerFunc
		stage   string
		chunks  int
		message string
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) { stall(r) },
			StageFirstToken, 0, "idle timeout: no byte for 200ms before the first token"},
		{"headers, then nothing", func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			stall(r)
		}, StageFirstToken, 0, "idle timeout: no byte for 200ms before the first token"},
		{"a role chunk, then nothing", func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			events(w, roleChunk)
			stall(r)
		}, StageFirstToken, 0, "idle timeout: no byte for 200ms before the first token"},
		{"two tokens, then nothing", func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			events(w, textChunk(" a"), textChunk(" b"))
			stall(r)
		}, StageBetweenTokens, 2, "idle timeout: no byte for 200ms between tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := serve(t, tt.h)
			begin := time.Now()
			rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithTimeout(0), WithIdleTimeout(idle))
			assert.Less(t, time.Since(begin), 30*time.Second, "ended by the idle timeout")
			assert.Equal(t, ErrTimeout, rec.Error)
			assert.Equal(t, tt.stage, rec.TimeoutStage)
			assert.Equal(t, tt.message, rec.ErrorMessage)
			assert.Len(t, rec.ChunkTimes, tt.chunks)
			last := rec.Sent
			if tt.chunks > 0 {
				last = rec.ChunkTimes[tt.chunks-1]
			}
			assert.GreaterOrEqual(t, rec.End-last, idle, "waited the idle time since the last byte")
		})
	}
	t.Run("slow but steady", func(t *testing.T) {
		t.Parallel()
		url := serve(t, slowStream(6, 40*time.Millisecond))
		rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithIdleTimeout(2*time.Second))
		require.True(t, rec.OK(), rec.ErrorMessage)
		assert.Empty(t, rec.TimeoutStage)
		assert.Len(t, rec.ChunkTimes, 6)
	})
	t.Run("the request timeout has a stage too", func(t *testing.T) {
		t.Parallel()
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			events(w, textChunk(" a"))
			stall(r)
		})
		rec := sendOne(t, context.Background(), Request{Prompt: "p"}, WithTarget(url), WithTimeout(idle), WithIdleTimeout(time.Hour))
		assert.Equal(t, ErrTimeout, rec.Error)
		assert.Equal(t, StageBetweenTokens, rec.TimeoutStage)
		assert.NotContains(t, rec.ErrorMessage, "idle")
	})
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		res, err := Run(context.Background(), oneReq, WithTarget(serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 1) })),
			WithModel("m"), WithRequests(1))
		require.NoError(t, err)
		assert.Equal(t, DefaultIdleTimeout, res.Config.IdleTimeout)
		assert.Equal(t, time.Minute, DefaultIdleTimeout)
	})
}
