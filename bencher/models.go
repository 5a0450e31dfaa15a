package bencher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// DefaultDetectTimeout limits model detection when no WithTimeout is given
// (or it is longer).
const DefaultDetectTimeout = 30 * time.Second

// DetectModel returns the first model (data[0].id) that GET BASE/models
// lists, as vLLM serves one model. It uses the API key, headers, HTTP
// client and redactor of opts; it follows redirects within the target's
// origin only. It returns an error wrapping ErrNoModels when the list is
// empty. A model name that holds a credential (the echo of a hostile
// server) is returned as secret.Redacted, and the errors are scrubbed of
// every credential.
func DetectModel(ctx context.Context, baseURL string, opts ...Option) (string, error) {
	cfg := newConfig(opts)
	cfg.baseURL = baseURL
	red := cfg.secrets()
	model, err := detectModel(ctx, &cfg)
	return red.Value(model), red.Error(err)
}

// detectModel is DetectModel with its configuration; the model name is the
// server's, as it must be sent back, and the errors are not yet scrubbed.
func detectModel(ctx context.Context, cfg *config) (string, error) {
	base, target, err := parseBaseURL(cfg.baseURL)
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
		return "", fmt.Errorf("bencher: detecting the model at %s: %w", target, urlCause(err))
	}
	for k, vs := range requestHeaders(cfg) {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	var hc *http.Client
	if cfg.httpClient != nil {
		hc = sameOriginClient(cfg.httpClient)
	} else {
		tr := newTransport(1, false)
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr, CheckRedirect: secret.CheckRedirect}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: %w", target, urlCause(err))
	}
	defer resp.Body.Close()
	b, err := readLimited(nil, resp.Body, maxErrorBody)
	if err != nil {
		return "", fmt.Errorf("bencher: detecting the model at %s: reading the answer: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := clipMessage(cfg.redactor.String(errorMessage(b, resp.Status)))
		return "", fmt.Errorf("bencher: detecting the model at %s: GET /models: %s", target, msg)
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
