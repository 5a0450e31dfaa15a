package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/benchstation/benchstation/bencher"
)

// The batch URLs and their APIs.
const (
	batchURLChat        = "/v1/chat/completions"
	batchURLCompletions = "/v1/completions"
)

// ReadBatch reads an OpenAI batch input file (the format of the OpenAI Batch
// API and of vLLM's run-batch): one JSON object per line, blank lines skipped,
//
//	{"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
//
// Request.ID is custom_id, which must be unique and non-empty; Request.Body
// is body, a JSON object sent as it is. The url, the same on every line,
// gives the API: /v1/chat/completions (chat) or /v1/completions
// (completions); any other url is an error, and so is a method other than
// POST. Other fields are ignored, as in [ReadJSONL].
//
// What the body says is copied, where this package can read it, to the
// request's informational fields: max_tokens (or max_completion_tokens) to
// MaxTokens, ignore_eos to IgnoreEOS, and the [EstimateTokens] estimate of a
// string prompt (or of the string and text-part contents of messages; a
// token-id array counts its ids) to PromptTokens. Body fields of other types
// are left to the server to judge.
//
// Errors name the file and the line, as ReadJSONL's do, and on error no
// request is returned.
func ReadBatch(path string) ([]bencher.Request, bencher.API, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("workload: %w", err)
	}
	defer f.Close()
	return ParseBatch(f, path)
}

// ParseBatch reads a batch input file from r as [ReadBatch] does, naming it
// name in errors.
func ParseBatch(r io.Reader, name string) ([]bencher.Request, bencher.API, error) {
	var (
		reqs     []bencher.Request
		firstURL string
		seen     = make(map[string]int) // custom_id → line
	)
	err := eachLine(r, name, func(n int, line []byte) error {
		req, url, err := parseBatchLine(line)
		if err != nil {
			return err
		}
		if first, dup := seen[req.ID]; dup {
			return fmt.Errorf("duplicate custom_id %q (first on line %d)", req.ID, first)
		}
		if firstURL == "" {
			firstURL = url
		} else if url != firstURL {
			return fmt.Errorf("url %q differs from the file's first, %q: a batch has one API", url, firstURL)
		}
		seen[req.ID] = n
		reqs = append(reqs, req)
		return nil
	})
	switch {
	case err != nil:
		return nil, "", err
	case len(reqs) == 0:
		return nil, "", fmt.Errorf("%s: %w", name, ErrNoRequests)
	}
	return reqs, batchAPI(firstURL), nil
}

// batchAPI returns the API of a supported batch url, or "".
func batchAPI(url string) bencher.API {
	switch url {
	case batchURLChat:
		return bencher.APIChat
	case batchURLCompletions:
		return bencher.APICompletions
	}
	return ""
}

// parseBatchLine reads one line of a batch input file.
func parseBatchLine(line []byte) (req bencher.Request, url string, err error) {
	m, err := decodeObject(line)
	if err != nil {
		return req, "", err
	}
	for _, key := range []string{"custom_id", "method", "url"} {
		if _, ok, err := stringField(m, key); err != nil {
			return req, "", err
		} else if !ok {
			return req, "", fmt.Errorf("missing %q", key)
		}
	}
	id, _, _ := stringField(m, "custom_id")
	method, _, _ := stringField(m, "method")
	url, _, _ = stringField(m, "url")
	switch {
	case id == "":
		return req, "", errors.New(`"custom_id" is empty`)
	case method != "POST":
		return req, "", fmt.Errorf("method %q is not POST", method)
	case batchAPI(url) == "":
		return req, "", fmt.Errorf("unsupported url %q (want %s or %s)", url, batchURLChat, batchURLCompletions)
	}
	body, ok := m["body"]
	if !ok || string(body) == "null" {
		return req, "", errors.New(`missing "body"`)
	}
	fields, err := decodeObject(body)
	if err != nil {
		return req, "", errors.New(`"body" is not a JSON object`)
	}
	req = bencher.Request{ID: id, Body: body}
	readBody(&req, fields)
	return req, url, nil
}

// readBody copies to req what it can read of a batch body's fields.
func readBody(req *bencher.Request, body map[string]json.RawMessage) {
	if n, ok, _ := intField(body, "max_tokens"); ok && n > 0 {
		req.MaxTokens = n
	} else if n, ok, _ := intField(body, "max_completion_tokens"); ok && n > 0 {
		req.MaxTokens = n
	}
	_ = json.Unmarshal(body["ignore_eos"], &req.IgnoreEOS)
	req.PromptTokens = rawTokens(body["prompt"])
	var msgs []struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(body["messages"], &msgs) == nil {
		for _, msg := range msgs {
			req.PromptTokens += rawTokens(msg.Content)
		}
	}
}

// rawTokens estimates the tokens of a JSON prompt or content value: a string,
// an array of strings, an array of token ids, or an array of content parts
// ({"type": "text", "text": ...}). Anything else counts 0.
func rawTokens(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return EstimateTokens(s)
	}
	var ids []int64
	if json.Unmarshal(raw, &ids) == nil {
		return len(ids)
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return 0
	}
	n := 0
	for _, part := range parts {
		var text struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(part, &s) == nil {
			n += EstimateTokens(s)
		} else if json.Unmarshal(part, &text) == nil {
			n += EstimateTokens(text.Text)
		}
	}
	return n
}
