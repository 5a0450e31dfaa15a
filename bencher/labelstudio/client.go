package labelstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// Defaults of a Client.
const (
	// DefaultBatchSize is the number of tasks per import request. Label
	// Studio takes up to 250,000 tasks or 200 MB per request (import API
	// reference); smaller batches keep a rejected one cheap to find and
	// retry.
	DefaultBatchSize = 500
	// DefaultRetries is how many times a request is retried after a 5xx
	// or 429 answer or a failed connection.
	DefaultRetries = 4
	// DefaultBackoff is the wait before the first retry; it doubles up
	// to DefaultMaxBackoff (a Retry-After header wins, up to that cap).
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 15 * time.Second
	// DefaultTimeout bounds each request.
	DefaultTimeout = 60 * time.Second
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// Client talks to one Label Studio server with one token. The token is
// sent to the server's origin (scheme, host and port) only: redirects to
// another origin are refused (secret.CheckRedirect) and every error the
// Client returns is scrubbed of it (and of the short-lived access token a
// personal access token is traded for).
//
// Label Studio's API (https://api.labelstud.io/api-reference/introduction/getting-started,
// https://labelstud.io/guide/api#Authenticate-to-the-API):
//
//	POST /api/projects/              {"title", "description", "label_config"} → 201 {"id", …}
//	POST /api/projects/{id}/import   a JSON list of tasks → 201 {"task_count", …}
//	                                 (Enterprise: 201 {"import": id}, imported in the background)
//	POST /api/token/refresh/         {"refresh": PAT} → 200 {"access"}
//
// A legacy token (Account & Settings > Legacy Token, or the
// LABEL_STUDIO_USER_TOKEN of the server's first start) is sent as
// "Authorization: Token <token>". A personal access token (a JWT,
// "eyJ…") is a refresh token: it is traded at /api/token/refresh/ for an
// access token sent as "Authorization: Bearer <access>", and traded again
// when the server answers 401.
type Client struct {
	base  *url.URL
	token secret.Secret
	pat   bool
	red   *secret.Redactor
	http  *http.Client

	batchSize           int
	retries             int
	backoff, maxBackoff time.Duration
	sleep               func(context.Context, time.Duration) error
	notify              func(string)

	mu     sync.Mutex
	access secret.Secret // the access token of a personal access token
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests with c's transport and timeout (its
// redirect policy is replaced by secret.CheckRedirect).
func WithHTTPClient(c *http.Client) Option {
	return func(cl *Client) {
		cp := *c
		cl.http = &cp
	}
}

// WithBatchSize sets the number of tasks per import request (default
// DefaultBatchSize).
func WithBatchSize(n int) Option { return func(c *Client) { c.batchSize = n } }

// WithRetries sets how many times a request is retried after a 5xx or 429
// answer or a failed connection, and the backoff: base, doubling, at most
// maxWait.
func WithRetries(n int, base, maxWait time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff, c.maxBackoff = n, base, maxWait }
}

// WithRedactor makes the Client teach r the token (and the access tokens
// it gets), so that whatever r guards (a program's stdout and stderr)
// never shows them.
func WithRedactor(r *secret.Redactor) Option { return func(c *Client) { c.red = r } }

// WithNotify receives one line for each retry (what failed and the wait).
func WithNotify(f func(string)) Option { return func(c *Client) { c.notify = f } }

// withSleep replaces the wait between retries (tests).
func withSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.sleep = f }
}

// CheckURL checks a Label Studio base URL (http or https, a host, no
// credentials, query or fragment) and returns it without a trailing
// slash. Its errors never quote credentials.
func CheckURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, errors.New("no Label Studio URL")
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", secret.URL(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: the Label Studio URL must start with http:// or https://", secret.URL(raw))
	case u.Host == "":
		return nil, fmt.Errorf("%s: the Label Studio URL has no host", secret.URL(raw))
	case u.User != nil:
		return nil, fmt.Errorf("%s: the Label Studio URL must not hold credentials (give the token with --token-file or LABEL_STUDIO_API_KEY)", secret.URL(raw))
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s: the Label Studio URL must not have a query or fragment", secret.URL(raw))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// IsPersonalAccessToken reports whether token looks like a Label Studio
// personal access token (a JWT: three base64url parts, the first "eyJ…")
// rather than a legacy token.
func IsPersonalAccessToken(token string) bool {
	parts := strings.Split(strings.TrimSpace(token), ".")
	return len(parts) == 3 && strings.HasPrefix(parts[0], "eyJ") && parts[1] != "" && parts[2] != ""
}

// New returns a Client of the server at baseURL (such as
// http://label-studio:8080) with token.
func New(baseURL string, token secret.Secret, opts ...Option) (*Client, error) {
	u, err := CheckURL(baseURL)
	if err != nil {
		return nil, err
	}
	if !token.IsSet() {
		return nil, errors.New("no Label Studio token: give it with --token-file or LABEL_STUDIO_API_KEY " +
			"(Label Studio: Account & Settings, or LABEL_STUDIO_USER_TOKEN of its first start)")
	}
	if strings.ContainsAny(token.Value(), " \t\r\n") {
		return nil, errors.New("the Label Studio token holds spaces or line breaks")
	}
	c := &Client{
		base: u, token: token, pat: IsPersonalAccessToken(token.Value()),
		batchSize: DefaultBatchSize, retries: DefaultRetries,
		backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff, sleep: sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.red == nil {
		c.red = secret.NewRedactor()
	}
	c.red.AddSecret(token)
	c.red.AddHeader("Authorization", "Token "+token.Value(), "Bearer "+token.Value())
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	c.http.CheckRedirect = secret.CheckRedirect
	c.batchSize = max(c.batchSize, 1)
	return c, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// ProjectURL returns the address of a project's Data Manager in Label
// Studio's web interface.
func (c *Client) ProjectURL(id int) string {
	return c.base.JoinPath("projects", strconv.Itoa(id), "data").String()
}

// Project is a created project.
type Project struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	// URL is its Data Manager in Label Studio's web interface.
	URL string `json:"url"`
}

// CreateProject creates a project with a labeling configuration (see
// provisioning/labelstudio). Label Studio's "Create new project":
// POST /api/projects/ (https://api.labelstud.io/api-reference/api-reference/projects/create).
func (c *Client) CreateProject(ctx context.Context, title, description, labelConfig string) (Project, error) {
	if strings.TrimSpace(title) == "" {
		return Project{}, errors.New("a project needs a title")
	}
	body, err := json.Marshal(map[string]string{"title": title, "description": description, "label_config": labelConfig})
	if err != nil {
		return Project{}, err
	}
	var out struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	err = c.do(ctx, "creating the project", "/api/projects/", body, &out)
	var re *RejectedError
	if errors.As(err, &re) {
		return Project{}, fmt.Errorf("creating the project: Label Studio refused it (HTTP %d): %s", re.Status, summarize(re.Message))
	}
	if err != nil {
		return Project{}, err
	}
	if out.ID <= 0 {
		return Project{}, errors.New("creating the project: Label Studio answered without a project id")
	}
	return Project{ID: out.ID, Title: title, URL: c.ProjectURL(out.ID)}, nil
}

// ImportResult is what an import did.
type ImportResult struct {
	// Tasks is the number of tasks sent and accepted; Batches the number
	// of requests.
	Tasks, Batches int
	// Background counts the batches Label Studio imports in the
	// background (Enterprise answers {"import": id}): accepted, and
	// checked later by the server.
	Background int
}

// RejectedError is a batch Label Studio refused (400): it names the first
// task it rejected, or the batch when the answer does not say which.
type RejectedError struct {
	// Status is the HTTP status.
	Status int
	// Task is the index of the first rejected task in the whole list
	// (-1 when the answer does not say), Request its data.request.
	Task    int
	Request string
	// First and Last bound the rejected batch (indexes in the whole list);
	// Imported is the number of tasks of earlier batches, which were
	// imported.
	First, Last, Imported int
	// Message is Label Studio's reason.
	Message string
}

func (e *RejectedError) Error() string {
	where := fmt.Sprintf("a task of tasks %d-%d (the batch was not imported)", e.First, e.Last)
	if e.Task >= 0 {
		where = fmt.Sprintf("task %d (request %s; tasks %d-%d of its batch were not imported)", e.Task, e.Request, e.First, e.Last)
	}
	return fmt.Sprintf("Label Studio rejected %s with HTTP %d: %s; the %d task(s) before the batch were imported",
		where, e.Status, e.Message, e.Imported)
}

// Import sends tasks to project id in batches (POST
// /api/projects/{id}/import, https://api.labelstud.io/api-reference/api-reference/projects/import-tasks).
// A batch answered 5xx or 429 is retried with backoff; a batch answered
// 400 stops the import with a *RejectedError naming the first rejected
// task (earlier batches stay imported). progress, when not nil, is called
// after each batch with the tasks sent so far.
func (c *Client) Import(ctx context.Context, project int, tasks []Task, progress func(done, total int)) (ImportResult, error) {
	var res ImportResult
	if project <= 0 {
		return res, fmt.Errorf("project id must be a positive number, got %d", project)
	}
	path := "/api/projects/" + strconv.Itoa(project) + "/import"
	for first := 0; first < len(tasks); first += c.batchSize {
		last := min(first+c.batchSize, len(tasks)) - 1
		body, err := json.Marshal(tasks[first : last+1])
		if err != nil {
			return res, err
		}
		var out struct {
			TaskCount *int `json:"task_count"`
			Import    *int `json:"import"`
		}
		err = c.do(ctx, fmt.Sprintf("importing tasks %d-%d into project %d", first, last, project), path, body, &out)
		var re *RejectedError
		if errors.As(err, &re) {
			re.First, re.Last, re.Imported = first, last, res.Tasks
			var why string
			re.Task, why = rejectedTask(re.Message, last-first+1, first)
			if re.Task >= 0 {
				re.Request = tasks[re.Task].Data.Request
				re.Message = why
			} else {
				re.Message = summarize(re.Message)
			}
			return res, re
		}
		if err != nil {
			return res, err
		}
		res.Batches++
		res.Tasks += last - first + 1
		if out.TaskCount == nil && out.Import != nil {
			res.Background++
		}
		if progress != nil {
			progress(res.Tasks, len(tasks))
		}
	}
	return res, nil
}

// do POSTs body to path and decodes a 2xx answer into out, retrying 5xx,
// 429 and failed connections. A 400 is a *RejectedError (its Message the
// raw answer), 401 and 403 say the token was refused.
func (c *Client) do(ctx context.Context, what, path string, body []byte, out any) error {
	target := c.endpoint(path)
	refreshed := false
	for attempt := 0; ; attempt++ {
		auth, err := c.authorization(ctx, false)
		if err != nil {
			return err
		}
		status, raw, header, err := c.post(ctx, target, auth, body)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !retryableErr(err) {
				return c.red.Error(fmt.Errorf("%s: %w", what, err))
			}
			wait = c.wait(attempt, "")
			err = fmt.Errorf("%s: %w", what, err)
		case status >= 200 && status < 300:
			if out == nil || len(bytes.TrimSpace(raw)) == 0 {
				return nil
			}
			if jerr := json.Unmarshal(raw, out); jerr != nil {
				return fmt.Errorf("%s: Label Studio answered HTTP %d with a body that is not the expected JSON: %w", what, status, jerr)
			}
			return nil
		case status == http.StatusUnauthorized && c.pat && !refreshed:
			refreshed = true // the access token may have expired: trade the PAT again, once
			if _, err := c.authorization(ctx, true); err != nil {
				return err
			}
			attempt--
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return fmt.Errorf("%s: Label Studio refused the token (HTTP %d: %s)%s", what, status,
				summarize(c.red.String(string(raw))), tokenHint(c.pat))
		case status == http.StatusBadRequest:
			return &RejectedError{Status: status, Task: -1, Message: c.red.String(string(raw))}
		case status == http.StatusTooManyRequests || status >= 500:
			wait = c.wait(attempt, header.Get("Retry-After"))
			err = fmt.Errorf("%s: Label Studio answered HTTP %d: %s", what, status, summarize(c.red.String(string(raw))))
		default:
			return fmt.Errorf("%s: Label Studio answered HTTP %d at %s: %s", what, status, target.Path,
				summarize(c.red.String(string(raw))))
		}
		if attempt >= c.retries {
			return c.red.Error(fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1))
		}
		if c.notify != nil {
			c.notify(c.red.String(fmt.Sprintf("%v; retrying in %s", err, wait.Round(time.Millisecond))))
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// endpoint returns the URL of an API path (with its trailing slash, which
// Django's routes of Label Studio distinguish) under the base URL.
func (c *Client) endpoint(path string) *url.URL {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	return &u
}

// tokenHint says what to check when a token is refused.
func tokenHint(pat bool) string {
	if pat {
		return ": check the personal access token (Account & Settings > Personal Access Token)"
	}
	return ": check the token, and that the organization allows legacy tokens (Label Studio 1.20 and later: " +
		"Organization > Access Token Settings, or LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true at its first start)"
}

// post sends one request and reads the answer (up to maxErrorBody for
// errors).
func (c *Client) post(ctx context.Context, target *url.URL, auth string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	hc := *c.http
	hc.Transport = secret.NewTransport(c.http.Transport, c.base, http.Header{"Authorization": {auth}})
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	limit := int64(maxErrorBody)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		limit = 16 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading Label Studio's answer: %w", err)
	}
	return resp.StatusCode, raw, resp.Header, nil
}

// authorization returns the Authorization value: "Token <token>", or for
// a personal access token "Bearer <access>", trading the PAT for an
// access token first (again when renew).
func (c *Client) authorization(ctx context.Context, renew bool) (string, error) {
	if !c.pat {
		return "Token " + c.token.Value(), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access.IsSet() && !renew {
		return "Bearer " + c.access.Value(), nil
	}
	body, _ := json.Marshal(map[string]string{"refresh": c.token.Value()})
	target := c.endpoint("/api/token/refresh/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := *c.http
	hc.Transport = secret.NewTransport(c.http.Transport, c.base, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return "", c.red.Error(fmt.Errorf("trading the personal access token for an access token: %w", err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var out struct {
		Access string `json:"access"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Access == "" {
		return "", fmt.Errorf("Label Studio refused the personal access token at %s (HTTP %d: %s)%s",
			target.Path, resp.StatusCode, summarize(c.red.String(string(raw))), tokenHint(true))
	}
	c.access = secret.New(out.Access)
	c.red.AddSecret(c.access)
	return "Bearer " + out.Access, nil
}

// wait is the backoff before retry attempt+1: Retry-After when given (at
// most maxBackoff), else backoff·2^attempt, at most maxBackoff.
func (c *Client) wait(attempt int, retryAfter string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, c.maxBackoff)
	}
	d := c.backoff
	for i := 0; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	return min(d, c.maxBackoff)
}

// retryableErr reports whether a transport error is worth retrying: a
// refused or reset connection, a timeout, an answer cut short. A refused
// redirect is not.
func retryableErr(err error) bool {
	var re *secret.RedirectError
	if errors.As(err, &re) || errors.Is(err, secret.ErrNotAllowed) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// summarize returns the gist of a Label Studio error answer: its detail
// and validation errors, or the text itself, on one line and short.
func summarize(raw string) string {
	var body struct {
		Detail           any `json:"detail"`
		ValidationErrors any `json:"validation_errors"`
	}
	text := strings.TrimSpace(raw)
	if json.Unmarshal([]byte(text), &body) == nil && (body.Detail != nil || body.ValidationErrors != nil) {
		var parts []string
		if s, ok := body.Detail.(string); ok && s != "" {
			parts = append(parts, s)
		}
		if body.ValidationErrors != nil {
			if b, err := json.Marshal(pruneEmpty(body.ValidationErrors)); err == nil {
				parts = append(parts, string(b))
			}
		}
		text = strings.Join(parts, ": ")
	}
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return "(no message)"
	}
	const limit = 400
	if len(text) > limit {
		text = text[:limit] + "…"
	}
	return text
}

// pruneEmpty drops the empty entries of per-task error lists ([{}, {…}]),
// keeping their positions readable as indexes.
func pruneEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = pruneEmpty(e)
		}
		return out
	case []any:
		if i := firstNonEmpty(x); i >= 0 && isObjectList(x) {
			return map[string]any{"task " + strconv.Itoa(i) + " of the batch": x[i]}
		}
	}
	return v
}

// rejectedTask finds the first rejected task in a 400 answer: Label
// Studio (Django REST framework) answers a list serializer's errors as a
// list with one object per task, empty for the valid ones, under
// validation_errors (as non_field_errors when the list is the whole
// answer). It returns the index in the whole list and its errors as
// text ("data: …"), or -1.
func rejectedTask(raw string, batch, offset int) (int, string) {
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return -1, ""
	}
	var find func(v any) (int, map[string]any)
	find = func(v any) (int, map[string]any) {
		switch x := v.(type) {
		case []any:
			if len(x) == batch && isObjectList(x) {
				if i := firstNonEmpty(x); i >= 0 {
					return i, x[i].(map[string]any)
				}
			}
			for _, e := range x {
				if i, m := find(e); i >= 0 {
					return i, m
				}
			}
		case map[string]any:
			for _, k := range []string{"validation_errors", "non_field_errors", "errors"} {
				if e, ok := x[k]; ok {
					if i, m := find(e); i >= 0 {
						return i, m
					}
				}
			}
		}
		return -1, nil
	}
	i, m := find(v)
	if i < 0 {
		return -1, ""
	}
	return offset + i, errorText(m)
}

// errorText renders a field → messages object as "field: message; …",
// fields sorted.
func errorText(m map[string]any) string {
	fields := make([]string, 0, len(m))
	for k := range m {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	var parts []string
	for _, k := range fields {
		var msgs []string
		switch x := m[k].(type) {
		case []any:
			for _, e := range x {
				msgs = append(msgs, fmt.Sprint(e))
			}
		default:
			msgs = append(msgs, fmt.Sprint(x))
		}
		parts = append(parts, k+": "+strings.Join(msgs, "; "))
	}
	return summarize(strings.Join(parts, "; "))
}

// isObjectList reports whether every element of x is an object.
func isObjectList(x []any) bool {
	for _, e := range x {
		if _, ok := e.(map[string]any); !ok {
			return false
		}
	}
	return len(x) > 0
}

// firstNonEmpty returns the index of the first non-empty object of x, or -1.
func firstNonEmpty(x []any) int {
	for i, e := range x {
		if m, ok := e.(map[string]any); ok && len(m) > 0 {
			return i
		}
	}
	return -1
}
