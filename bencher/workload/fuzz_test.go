package workload

import (
	"testing"

	"github.com/benchstation/benchstation/bencher"
	"github.com/stretchr/testify/require"
)

// FuzzParsePromptLine checks that the prompt-line parser never panics and
// that what it accepts is a usable request for the API.
func FuzzParsePromptLine(f *testing.F) {
	for _, seed := range []string{
		`{"prompt": "hello"}`,
		`{"prompt": "hello", "max_tokens": 5}`,
		`{"messages": [{"role": "user", "content": "hi"}], "output_tokens": 3}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": 1}]}`,
		`{"prompt": "x", "max_tokens": 0}`,
		`{"prompt": null, "messages": null}`,
		`[1, 2]`,
		`{"prompt": "\ud800"}`,
		`{"prompt"`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, chat bool) {
		api := bencher.APICompletions
		if chat {
			api = bencher.APIChat
		}
		req, err := parsePromptLine(line, api)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.GreaterOrEqual(t, req.MaxTokens, 0)
		require.GreaterOrEqual(t, req.PromptTokens, 0)
		if chat {
			require.Empty(t, req.Prompt)
			require.NotEmpty(t, req.Messages)
			for _, msg := range req.Messages {
				require.NotEmpty(t, msg.Role)
			}
		} else {
			require.NotEmpty(t, req.Prompt)
			require.Nil(t, req.Messages)
			require.Positive(t, req.PromptTokens)
		}
	})
}

// FuzzParseDist checks that ParseDist never panics, that what it accepts
// is valid and reads back from its String, and that samples are at least 1.
func FuzzParseDist(f *testing.F) {
	for _, seed := range []string{"512", "256:1024", "512~64", "0", "9:5", "1e308~1e308", "-0~0", "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDist(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidDist)
			return
		}
		require.NoError(t, d.Validate())
		back, err := ParseDist(d.String())
		require.NoError(t, err)
		require.Equal(t, d, back)
	})
}

// FuzzParseBatchLine checks that the batch-line parser never panics and
// that what it accepts has an ID, a JSON object body and a supported url.
func FuzzParseBatchLine(f *testing.F) {
	for _, seed := range []string{
		`{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x", "max_tokens": 3}}`,
		`{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}}`,
		`{"custom_id": "c", "method": "POST", "url": "/v1/completions", "body": {"prompt": [1, 2], "ignore_eos": "yes"}}`,
		`{"custom_id": "", "method": "GET", "url": "/v1/embeddings", "body": null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, url, err := parseBatchLine(line)
		if err != nil {
			return
		}
		require.NotEmpty(t, req.ID)
		require.NotEmpty(t, batchAPI(url))
		_, err = decodeObject(req.Body)
		require.NoError(t, err)
		require.GreaterOrEqual(t, req.PromptTokens, 0)
		require.GreaterOrEqual(t, req.MaxTokens, 0)
	})
}
