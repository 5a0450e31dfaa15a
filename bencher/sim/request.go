package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// maxBodyBytes bounds a request body.
const maxBodyBytes = 32 << 20

// genRequest is the part of a completions or chat request the simulator reads.
// Other fields are accepted and ignored, as vLLM does.
type genRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	N                   *int            `json:"n"`
}

type streamOptions struct {
	IncludeUsage         bool `json:"include_usage"`
	ContinuousUsageStats bool `json:"continuous_usage_stats"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// genParams is a validated request.
type genParams struct {
	chat            bool
	stream          bool
	includeUsage    bool
	continuousUsage bool
	ignoreEOS       bool
	prompt          []byte // the token stream: CharsPerToken bytes per token
	promptTokens    int
	maxTokens       int
}

// apiError is an OpenAI-style error answer.
type apiError struct {
	status int
	typ    string
	msg    string
	param  *string
	// code is the Batch API's error code ("" for null); the generation
	// endpoints send the HTTP status as the code, as vLLM does.
	code string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "BadRequestError", msg: fmt.Sprintf(format, args...)}
}

// parseRequest reads and validates a generation request.
func (s *Server) parseRequest(w http.ResponseWriter, r *http.Request, chat bool) (genParams, *apiError) {
	var req genRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&req); err != nil {
		return genParams{}, badRequest("Invalid JSON body: %v", err)
	}
	return s.validate(&req, chat)
}

// validate checks a decoded generation request as vLLM does.
func (s *Server) validate(req *genRequest, chat bool) (genParams, *apiError) {
	if req.Model != "" && req.Model != s.cfg.model {
		param := "model"
		return genParams{}, &apiError{status: http.StatusNotFound, typ: "NotFoundError",
			msg: fmt.Sprintf("The model `%s` does not exist.", req.Model), param: &param}
	}
	if req.N != nil && *req.N != 1 {
		return genParams{}, badRequest("Only n=1 is supported by the simulator, got n=%d.", *req.N)
	}
	p := genParams{chat: chat, stream: req.Stream, ignoreEOS: req.IgnoreEOS}
	if req.StreamOptions != nil {
		p.includeUsage = req.StreamOptions.IncludeUsage
		p.continuousUsage = req.StreamOptions.ContinuousUsageStats
	}
	var err error
	if chat {
		p.prompt, err = renderChat(req.Messages)
	} else {
		p.prompt, err = parsePrompt(req.Prompt)
	}
	if err != nil {
		return genParams{}, badRequest("%v", err)
	}
	p.promptTokens = countTokens(p.prompt)
	maxTokens := req.MaxTokens
	if chat && req.MaxCompletionTokens != nil {
		maxTokens = req.MaxCompletionTokens
	}
	if apiErr := s.checkLength(&p, maxTokens); apiErr != nil {
		return genParams{}, apiErr
	}
	return p, nil
}

// checkLength applies vLLM's context-window checks and sets p.maxTokens.
func (s *Server) checkLength(p *genParams, maxTokens *int) *apiError {
	limit := s.cfg.maxModelLen
	if maxTokens != nil && *maxTokens < 1 {
		return badRequest("max_tokens must be at least 1, got %d.", *maxTokens)
	}
	if p.promptTokens >= limit {
		return badRequest("This model's maximum context length is %d tokens. However, your request has %d input tokens. "+
			"Please reduce the length of the input messages.", limit, p.promptTokens)
	}
	if maxTokens == nil {
		p.maxTokens = limit - p.promptTokens
		return nil
	}
	if p.promptTokens+*maxTokens > limit {
		return contextTooLong(limit, *maxTokens, p.promptTokens)
	}
	p.maxTokens = *maxTokens
	return nil
}

func contextTooLong(limit, maxTokens, promptTokens int) *apiError {
	return badRequest("This model's maximum context length is %d tokens. However, you requested %d output tokens "+
		"and your prompt contains at least %d input tokens, for a total of at least %d tokens. "+
		"Please reduce the length of the input prompt or the number of requested output tokens.",
		limit, maxTokens, promptTokens, maxTokens+promptTokens)
}

// parsePrompt accepts a string, an array of one string, an array of token ids
// or an array of one array of token ids.
func parsePrompt(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New("'prompt' is required")
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil // no escapes: the JSON string is the text
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return []byte(text), nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return nil, fmt.Errorf("batched prompts are not supported by the simulator, got %d prompts", len(texts))
		}
		return []byte(texts[0]), nil
	}
	var ids []int64
	if json.Unmarshal(raw, &ids) == nil {
		return encodeIDs(ids), nil
	}
	var idLists [][]int64
	if json.Unmarshal(raw, &idLists) == nil && len(idLists) == 1 {
		return encodeIDs(idLists[0]), nil
	}
	return nil, errors.New("'prompt' must be a string, an array of one string, or an array of token ids")
}

// encodeIDs writes token ids as CharsPerToken bytes each.
func encodeIDs(ids []int64) []byte {
	out := make([]byte, 0, len(ids)*CharsPerToken)
	for _, id := range ids {
		out = binary.LittleEndian.AppendUint32(out, uint32(id))
	}
	return out
}

// renderChat applies the simulator's chat template.
func renderChat(msgs []chatMessage) ([]byte, error) {
	if len(msgs) == 0 {
		return nil, errors.New("'messages' must be a non-empty array")
	}
	var out []byte
	for i, m := range msgs {
		text, err := m.text()
		if err != nil {
			return nil, fmt.Errorf("messages[%d].content: %w", i, err)
		}
		out = append(out, "<|"...)
		out = append(out, m.Role...)
		out = append(out, "|>\n"...)
		out = append(out, text...)
		out = append(out, '\n')
	}
	return append(out, "<|assistant|>\n"...), nil
}

// text returns a message's content: a string, or the text parts of an array.
func (m chatMessage) text() (string, error) {
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// countTokens is the simulator's tokenizer: CharsPerToken bytes per token,
// rounded up, at least one.
func countTokens(prompt []byte) int {
	return max(1, (len(prompt)+CharsPerToken-1)/CharsPerToken)
}

// blockHashes hashes the full blocks of a prompt, each with its parent's
// hash, as vLLM's prefix cache does.
func blockHashes(prompt []byte, promptTokens, blockSize int) []uint64 {
	step := blockSize * CharsPerToken
	full := min(promptTokens/blockSize, len(prompt)/step)
	if full == 0 {
		return nil
	}
	out := make([]uint64, full)
	h := uint64(0x6a09e667f3bcc908)
	for i := range out {
		h = mix(h ^ fnv64(prompt[i*step:(i+1)*step]))
		out[i] = h
	}
	return out
}

// fnv64 is FNV-1a.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finaliser: a bijection on uint64.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unitFloat maps a hash to [0, 1).
func unitFloat(h uint64) float64 { return float64(h>>11) / (1 << 53) }
