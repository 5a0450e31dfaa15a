package serverside

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// The queries go through client_golang's api.Client (URL building, the
// request's context), and their answers are decoded here with
// prometheus/common/model: client_golang's api/prometheus/v1 needs
// github.com/json-iterator/go, which the module did not require.

// queryPath is the endpoint of instant queries of Prometheus's HTTP API.
const queryPath = "/api/v1/query"

// apiResponse is the envelope of every answer of Prometheus's HTTP API.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// queryData is the data of an instant query's answer.
type queryData struct {
	ResultType model.ValueType `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// instant evaluates expr at ts (Prometheus's now when zero) and returns its
// one value; ok is false when the result is empty.
func (c *Client) instant(ctx context.Context, expr string, ts time.Time) (v float64, ok bool, err error) {
	qctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	data, err := c.post(qctx, expr, ts)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", c.timeout, context.DeadlineExceeded)
		}
		return 0, false, c.queryError(expr, err)
	}
	v, ok, err = value(data)
	if err != nil {
		return 0, false, c.queryError(expr, err)
	}
	return v, ok, nil
}

// post sends an instant query and returns the data of a successful answer.
func (c *Client) post(ctx context.Context, expr string, ts time.Time) (*queryData, error) {
	form := url.Values{"query": {expr}, "timeout": {c.timeout.String()}}
	if !ts.IsZero() {
		form.Set("time", formatTime(ts))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api.URL(queryPath, nil).String(),
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := c.api.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Status == "" {
		return nil, fmt.Errorf("HTTP %s, not an answer of Prometheus's API: %q", resp.Status, snippet([]byte(c.red.String(string(body)))))
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("HTTP %s: %s: %s", resp.Status, r.ErrorType, r.Error)
	}
	for _, w := range r.Warnings {
		c.log.Warn("Prometheus warned about a query", "query", expr, "warning", c.red.String(w))
	}
	var d queryData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return &d, nil
}

// value returns the one number of a query's result: ok is false for an
// empty vector; several series or a range vector are errors.
func value(d *queryData) (v float64, ok bool, err error) {
	switch d.ResultType {
	case model.ValVector:
		var vec model.Vector
		if err := json.Unmarshal(d.Result, &vec); err != nil {
			return 0, false, fmt.Errorf("decoding the vector: %w", err)
		}
		switch len(vec) {
		case 0:
			return 0, false, nil
		case 1:
			return float64(vec[0].Value), true, nil
		}
		return 0, false, fmt.Errorf("%d series, want one", len(vec))
	case model.ValScalar:
		var s model.Scalar
		if err := json.Unmarshal(d.Result, &s); err != nil {
			return 0, false, fmt.Errorf("decoding the scalar: %w", err)
		}
		return float64(s.Value), true, nil
	}
	return 0, false, fmt.Errorf("a %s result, want a vector", d.ResultType)
}

// formatTime formats t as Prometheus's API takes it: Unix seconds, with
// milliseconds.
func formatTime(t time.Time) string {
	ms := t.UnixMilli()
	return strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000)
}

// snippet returns the start of a body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return s
}
