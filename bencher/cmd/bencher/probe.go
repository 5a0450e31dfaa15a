package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// probeTimeout limits the check of a target.
const probeTimeout = 30 * time.Second

// maxProbeBody is the most bytes of a GET /models answer read.
const maxProbeBody = 1 << 20

// notOpenAIError is the error of a target that answers, but not as an
// OpenAI-compatible server does.
type notOpenAIError struct{ msg string }

func (e *notOpenAIError) Error() string { return e.msg }

// keyRefusedError is the error of a target that answered 401 or 403: it
// speaks HTTP, and refused the credentials (or their absence).
type keyRefusedError struct{ msg string }

func (e *keyRefusedError) Error() string { return e.msg }

// notOpenAI returns a notOpenAIError.
func notOpenAI(format string, args ...any) error {
	return &notOpenAIError{fmt.Sprintf(format, args...)}
}

// probeModels asks GET BASE/models which models the target serves, as an
// OpenAI-compatible server answers it, and returns the first, as the
// server names it. Its errors say whether the target could not be reached
// or answered something else; what they quote of the answer is scrubbed by
// red first.
func probeModels(ctx context.Context, hc *http.Client, base string, red *secret.Redactor) (string, error) {
	model, err := probe(ctx, hc, base, red)
	return model, red.Error(err)
}

// probe is probeModels without the scrubbing of its errors.
func probe(ctx context.Context, hc *http.Client, base string, red *secret.Redactor) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	where := "GET " + results.RedactURL(strings.TrimRight(base, "/")) + "/models"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/models", nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		// The URL is said already, without credentials; that of a refused
		// redirect is another origin's, which may carry the echo of a key.
		err = urlCause(err)
		if errors.Is(err, secret.ErrNotAllowed) {
			return "", fmt.Errorf("%s: %w", where, err)
		}
		return "", fmt.Errorf("cannot reach the target: %s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if err != nil {
		return "", fmt.Errorf("%s: reading the answer: %w", where, err)
	}
	shown := []byte(red.String(string(body))) // scrubbed whole, before bodyNote cuts it
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", &keyRefusedError{fmt.Sprintf("%s answered %s%s", where, resp.Status,
			bodyNote(resp.Header.Get("Content-Type"), shown))}
	}
	if resp.StatusCode != http.StatusOK {
		return "", notOpenAI("%s answered %s%s", where, resp.Status, bodyNote(resp.Header.Get("Content-Type"), shown))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", notOpenAI("%s answered 200 with a body that is not an OpenAI model list%s",
			where, bodyNote(resp.Header.Get("Content-Type"), shown))
	}
	if len(list.Data) == 0 || list.Data[0].ID == "" {
		return "", notOpenAI("%s lists no model", where)
	}
	return list.Data[0].ID, nil
}

// bodyNote describes an answer's body in a few words: the message of an
// OpenAI error, "an HTML page", or its start.
func bodyNote(contentType string, body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		if msg := firstNonEmpty(e.Error.Message, e.Message); msg != "" {
			return ": " + clip(msg, 160)
		}
	}
	text := strings.TrimSpace(string(body))
	switch {
	case strings.Contains(contentType, "html") || strings.HasPrefix(strings.ToLower(text), "<!doctype html") ||
		strings.HasPrefix(strings.ToLower(text), "<html"):
		return " (an HTML page)"
	case text == "":
		return " (empty body)"
	}
	return ": " + clip(text, 80)
}

// firstNonEmpty returns the first of ss that is not empty.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// clip returns s on one line, at most n runes long.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
