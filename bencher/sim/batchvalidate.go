package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// batchItem is one valid request line of a batch's input file.
type batchItem struct {
	line     int    // 1-based
	customID string //
	raw      []byte // the line, in the input file's data (not a copy)
}

// batchLine is what a batch reads from an input line.
type batchLine struct {
	CustomID *string         `json:"custom_id"`
	Method   *string         `json:"method"`
	URL      *string         `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// validateInput checks every line of a batch's input file as OpenAI does
// and returns the requests, or the errors (at most maxBatchErrors) that
// fail the batch. Blank lines are skipped.
func (s *Server) validateInput(b *batchJob, data []byte) ([]batchItem, []lineError) {
	var (
		items []batchItem
		errs  []lineError
		seen  = map[string]bool{}
	)
	for n := 1; len(data) > 0 && len(errs) < maxBatchErrors; n++ {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte{'\n'})
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if len(items) == s.cfg.batchLimits.MaxRequests {
			errs = append(errs, newLineError(n, "invalid_request", "",
				"The input file has more than %d requests, the limit per batch.", s.cfg.batchLimits.MaxRequests))
			break
		}
		id, e := s.checkLine(raw, b.endpoint, seen)
		if e != nil {
			e.Line = &n
			errs = append(errs, *e)
			continue
		}
		seen[id] = true
		items = append(items, batchItem{line: n, customID: id, raw: raw})
	}
	if len(items) == 0 && len(errs) == 0 {
		errs = append(errs, lineError{Code: "empty_file", Message: "The batch input file is empty."})
	}
	return items, errs
}

func newLineError(line int, code, param, format string, args ...any) lineError {
	e := lineError{Code: code, Message: fmt.Sprintf(format, args...), Line: &line}
	if param != "" {
		e.Param = &param
	}
	return e
}

// checkLine checks one input line and returns its custom_id.
func (s *Server) checkLine(raw []byte, endpoint string, seen map[string]bool) (string, *lineError) {
	fail := func(code, param, format string, args ...any) (string, *lineError) {
		e := newLineError(0, code, param, format, args...)
		return "", &e
	}
	var l batchLine
	if err := json.Unmarshal(raw, &l); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return fail("invalid_request", te.Field, "Invalid type for '%s': expected %s.", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return fail("invalid_json_line", "", "This line is not parseable as valid JSON.")
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"custom_id", l.CustomID == nil}, {"method", l.Method == nil}, {"url", l.URL == nil},
		{"body", len(l.Body) == 0 || string(l.Body) == "null"}} {
		if f.missing {
			return fail("missing_required_parameter", f.name, "Missing required parameter: '%s'.", f.name)
		}
	}
	switch {
	case seen[*l.CustomID]:
		return fail("duplicate_custom_id", "custom_id", "The custom_id for this request is a duplicate of another request. "+
			"The custom_id parameter must be unique for each request in a batch.")
	case *l.Method != http.MethodPost:
		return fail("invalid_value", "method", "Invalid value: %s. Supported values are: 'POST'.", strconv.QuoteToASCII(*l.Method))
	case *l.URL != endpoint:
		return fail("invalid_url", "url", "The URL provided for this request does not match the batch endpoint.")
	case l.Body[0] != '{':
		return fail("invalid_request", "body", "Invalid type for 'body': expected an object.")
	}
	if e := s.checkBody(l.Body, endpoint == PathChatCompletions); e != nil {
		return "", e
	}
	return *l.CustomID, nil
}

// checkBody checks what the Batch API checks of a request body before the
// batch runs; the rest is checked when the request runs, as online.
func (s *Server) checkBody(body []byte, chat bool) *lineError {
	fail := func(code, param, format string, args ...any) *lineError {
		e := newLineError(0, code, param, format, args...)
		return &e
	}
	api := "Completions"
	if chat {
		api = "Chat Completions"
	}
	var req genRequest
	if err := json.Unmarshal(body, &req); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return fail("invalid_request", "body."+te.Field, "Invalid type for 'body.%s': expected %s.", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return fail("invalid_request", "body", "The body is not a valid %s request: %v", api, err)
	}
	switch {
	case req.Model == "":
		return fail("invalid_request", "body.model", "Model parameter is required.")
	case req.Model != s.cfg.model:
		return fail("model_not_found", "body.model", "The provided model %s is not supported by the Batch API.",
			strconv.QuoteToASCII(req.Model))
	case req.Stream:
		return fail("streaming_unsupported", "body.stream", "%s: Streaming is not supported in the Batch API.", api)
	case chat && len(req.Messages) == 0:
		return fail("invalid_request", "body.messages", "Messages parameter is required.")
	case !chat && (len(req.Prompt) == 0 || string(req.Prompt) == "null"):
		return fail("invalid_request", "body.prompt", "Prompt parameter is required.")
	}
	return nil
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return "a number"
	}
}
