package bencher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// DefaultDetectTimeout limits model detection when no WithTimeout is given
// (or it is longer).
const DefaultDetectTimeout = 30 * time.Second

// DetectModel returns the first model (data[0].id) that GET BASE/models
// lists, as vLLM serves one model. It uses the API key, headers and HTTP
// client of opts. It returns an error wrapping ErrNoModels when the list is
// empty.
func DetectModel(ctx context.Context, baseURL string, opts ...Option) (string, error) {
	cfg := newConfig(opts)
	cfg.baseURL = baseURL
	base, target, err := parseBaseURL(baseURL)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	timeout := DefaultDetectTimeout
	if cfg.timeout > 0 {
		timeout = min(timeout, cfg.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/models", nil)
	if err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: %w", target, redactURLError(err))
	}
	for k, vs := range requestHeaders(&cfg) {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	hc := cfg.httpClient
	if hc == nil {
		tr := newTransport(1)
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: %w", target, err)
	}
	defer resp.Body.Close()
	b, err := readLimited(nil, resp.Body, maxErrorBody)
	if err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: reading the answer: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bencher: detecting the model at %s: GET /models: %s", target, sanitize(errorMessage(b, resp.Status), cfg.apiKey))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: invalid /models answer: %w", target, err)
	}
	if len(list.Data) == 0 || list.Data[0].ID == "" {
		return "", fmt.Errorf("%w (GET %s/models)", ErrNoModels, target)
	}
	return list.Data[0].ID, nil
}
