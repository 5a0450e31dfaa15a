package workload

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/benchstation/benchstation/bencher"
)

// FileOptions are the settings of a prompt file's requests that its lines do
// not give.
type FileOptions struct {
	// Output is the distribution of max_tokens for lines that give neither
	// "max_tokens" nor "output_tokens"; the zero Dist leaves max_tokens to
	// the server.
	Output Dist
	// IgnoreEOS asks the server to generate exactly max_tokens tokens.
	IgnoreEOS bool
	// Seed makes the draws from Output reproducible.
	Seed uint64
}

// ReadJSONL reads a prompt file: one JSON object per line, blank lines
// skipped, each object either
//
//	{"prompt": "text"}                                  a prompt
//	{"messages": [{"role": "user", "content": "text"}]} a chat conversation
//
// with an optional "max_tokens" or "output_tokens" (the same thing; at least
// 1). Other fields are ignored, so that the lines of a data set can carry
// their own metadata (a misspelled optional field is therefore ignored too).
// With api chat a prompt becomes one "user" message; with api completions
// (or "", DefaultAPI) a "messages" line is an error. Request i (counting the
// lines that hold a request) has ID i in decimal and PromptTokens estimated
// by [EstimateTokens] over the prompt or the messages' contents.
//
// Errors name the file and the line, as
//
//	prompts.jsonl:7: invalid JSON: unexpected end of JSON input
//	prompts.jsonl:9: neither "prompt" nor "messages"
//
// and on error no request is returned.
func ReadJSONL(path string, api bencher.API, opts FileOptions) ([]bencher.Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	defer f.Close()
	return ParseJSONL(f, path, api, opts)
}

// ParseJSONL reads a prompt file from r as [ReadJSONL] does, naming it name
// in errors.
func ParseJSONL(r io.Reader, name string, api bencher.API, opts FileOptions) ([]bencher.Request, error) {
	api = cmp.Or(api, DefaultAPI)
	if err := checkAPI(api); err != nil {
		return nil, err
	}
	if err := opts.Output.Validate(); err != nil {
		return nil, fmt.Errorf("workload: output length: %w", err)
	}
	var reqs []bencher.Request
	err := eachLine(r, name, func(_ int, line []byte) error {
		req, err := parsePromptLine(line, api)
		if err != nil {
			return err
		}
		i := len(reqs)
		req.ID = strconv.Itoa(i)
		if req.MaxTokens == 0 && !opts.Output.IsZero() {
			req.MaxTokens = opts.Output.Sample(rand.New(newPCG(opts.Seed, streamOutput, uint64(i))))
		}
		req.IgnoreEOS = opts.IgnoreEOS
		reqs = append(reqs, req)
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case len(reqs) == 0:
		return nil, fmt.Errorf("%s: %w", name, ErrNoRequests)
	}
	return reqs, nil
}

// parsePromptLine reads one line of a prompt file into a request without
// ID, for api.
func parsePromptLine(line []byte, api bencher.API) (bencher.Request, error) {
	var req bencher.Request
	m, err := decodeObject(line)
	if err != nil {
		return req, err
	}
	prompt, hasPrompt, err := stringField(m, "prompt")
	if err != nil {
		return req, err
	}
	msgs, hasMsgs := m["messages"]
	hasMsgs = hasMsgs && string(msgs) != "null" // null is absent, as for "prompt"
	switch {
	case hasPrompt && hasMsgs:
		return req, errors.New(`both "prompt" and "messages"`)
	case hasPrompt && prompt == "":
		return req, errors.New(`"prompt" is empty`)
	case hasPrompt && api == bencher.APIChat:
		req.Messages = []bencher.Message{{Role: "user", Content: prompt}}
	case hasPrompt:
		req.Prompt = prompt
	case !hasMsgs:
		return req, errors.New(`neither "prompt" nor "messages"`)
	case api != bencher.APIChat:
		return req, fmt.Errorf(`"messages" needs the %q API`, bencher.APIChat)
	default:
		if req.Messages, err = parseMessages(msgs); err != nil {
			return req, err
		}
	}
	req.PromptTokens = EstimateTokens(prompt)
	if !hasPrompt {
		req.PromptTokens = messageTokens(req.Messages)
	}
	req.MaxTokens, err = outputTokens(m)
	return req, err
}

// parseMessages reads a "messages" array: objects with a non-empty "role"
// and a string "content".
func parseMessages(raw json.RawMessage) ([]bencher.Message, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, errors.New(`"messages" is not an array`)
	}
	if len(items) == 0 {
		return nil, errors.New(`"messages" is empty`)
	}
	msgs := make([]bencher.Message, len(items))
	for i, item := range items {
		m, err := decodeObject(item)
		if err != nil {
			return nil, fmt.Errorf("messages[%d] is not an object", i)
		}
		role, ok, err := stringField(m, "role")
		switch {
		case err != nil:
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		case !ok || role == "":
			return nil, fmt.Errorf(`messages[%d]: missing "role"`, i)
		}
		content, ok, err := stringField(m, "content")
		switch {
		case err != nil:
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		case !ok:
			return nil, fmt.Errorf(`messages[%d]: missing "content"`, i)
		}
		msgs[i] = bencher.Message{Role: role, Content: content}
	}
	return msgs, nil
}

// outputTokens reads "max_tokens" or "output_tokens": 0 when neither is
// given.
func outputTokens(m map[string]json.RawMessage) (int, error) {
	key := "max_tokens"
	if _, ok := m["output_tokens"]; ok {
		if _, both := m[key]; both {
			return 0, errors.New(`both "max_tokens" and "output_tokens"`)
		}
		key = "output_tokens"
	}
	n, ok, err := intField(m, key)
	switch {
	case err != nil:
		return 0, err
	case ok && n < 1:
		return 0, fmt.Errorf("%q is %d, below 1", key, n)
	}
	return n, nil
}

// messageTokens estimates the tokens of the messages' contents.
func messageTokens(msgs []bencher.Message) int {
	n := 0
	for _, msg := range msgs {
		n += EstimateTokens(msg.Content)
	}
	return n
}
