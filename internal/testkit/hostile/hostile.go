// Package hostile is a hostile OpenAI-compatible server for the tests of
// Benchstation's secret policy (internal/secret): it echoes every request
// header it receives into the answers of every endpoint — in 200, 4xx and
// 5xx bodies, in every free JSON string field of /v1/models, /version,
// /v1/batches, completions, chat completions, SSE events and error objects
// — and can redirect every request to another origin (another port,
// another host name, another scheme), where sinks count the requests that
// arrive and the ones that carry a credential.
//
// A test runs a program against it with a known key and then greps all
// that program produced with [Leaks].
package hostile

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Mode is how the server answers.
type Mode int

// The modes.
const (
	// EchoOK answers 200 with OpenAI-shaped bodies whose free string fields
	// all hold the echo of the request's headers.
	EchoOK Mode = iota
	// Unauthorized answers 401 with an OpenAI error object made of the echo.
	Unauthorized
	// BadRequest answers 400, the same way.
	BadRequest
	// ServerError answers 500, the same way.
	ServerError
	// PlainError answers 502 with the echo as text/plain.
	PlainError
	// RedirectPort answers 302 to the same path on another port of the
	// same host (http://127.0.0.1:OTHER).
	RedirectPort
	// RedirectHost answers 302 to another host name on the sink's port
	// (http://localhost:OTHER).
	RedirectHost
	// RedirectScheme answers 302 to https on another port of the same host.
	RedirectScheme
)

func (m Mode) String() string {
	return [...]string{"echo", "401", "400", "500", "502-text", "redirect-port", "redirect-host", "redirect-scheme"}[m]
}

// Modes returns every mode, for table tests.
func Modes() []Mode {
	return []Mode{EchoOK, Unauthorized, BadRequest, ServerError, PlainError, RedirectPort, RedirectHost, RedirectScheme}
}

// Server is the hostile server and its sinks. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT (no /v1).
	URL string
	// Sink is the other origin of RedirectPort and RedirectHost, Sink over
	// TLS that of RedirectScheme.
	Sink, TLSSink *Sink

	srv  *httptest.Server
	mode atomic.Int32

	mu   sync.Mutex
	reqs []Request
}

// Request is what the server or a sink received.
type Request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// New starts a server answering in mode EchoOK, and its sinks; all close
// when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Sink: newSink(false), TLSSink: newSink(true)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.Sink.close()
		s.TLSSink.close()
	})
	return s
}

// SetMode changes how the server answers from the next request on.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// Requests returns the requests the server itself received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Echo returns the echo of h: every header as "Name: value", sorted, joined
// with "; ". Credentials in the URL arrive as an Authorization header, so
// they are echoed too.
func Echo(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k + ": " + v)
		}
	}
	return b.String()
}

// echoValue is what the free string fields hold: the Authorization value,
// then the whole header echo.
func echoValue(r *http.Request) string {
	return strings.TrimSpace(r.Header.Get("Authorization") + " " + Echo(r.Header))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	s.mu.Unlock()
	e := echoValue(r)
	w.Header().Set("X-Echo", strings.ReplaceAll(e, "\n", " "))
	switch m := Mode(s.mode.Load()); m {
	case RedirectPort, RedirectHost, RedirectScheme:
		http.Redirect(w, r, s.redirectTarget(m, r), http.StatusFound)
	case Unauthorized:
		writeError(w, http.StatusUnauthorized, e)
	case BadRequest:
		writeError(w, http.StatusBadRequest, e)
	case ServerError:
		writeError(w, http.StatusInternalServerError, e)
	case PlainError:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream failed for request with %s\n", e)
	default:
		s.answer(w, r, body, e)
	}
}

// redirectTarget is where mode m sends r: the same path and query, and the
// echo in the query as well, on another origin.
func (s *Server) redirectTarget(m Mode, r *http.Request) string {
	var base string
	switch m {
	case RedirectPort:
		base = s.Sink.URL
	case RedirectHost:
		base = s.Sink.HostURL
	default:
		base = s.TLSSink.URL
	}
	return base + r.URL.Path + "?echo=" + url.QueryEscape(echoValue(r))
}

func writeError(w http.ResponseWriter, code int, e string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": "request with " + e + " refused", "type": e, "code": e, "param": e},
	})
}

// answer writes a 200 answer for r's endpoint, its free strings all e.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, e string) {
	now := time.Now().Unix()
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/version":
		writeJSON(w, map[string]any{"version": e})
	case strings.HasSuffix(path, "/models"):
		writeJSON(w, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": e, "object": "model", "created": now, "owned_by": e, "root": e},
		}})
	case strings.HasSuffix(path, "/batches"):
		writeJSON(w, map[string]any{"object": "list", "has_more": false, "first_id": e, "last_id": e,
			"data": []any{batch(e, "in_progress", now), batch(e+" #2", "failed", now)}})
	case strings.Contains(path, "/batches/"):
		writeJSON(w, batch(e, "in_progress", now))
	case strings.HasSuffix(path, "/completions"):
		chat := strings.HasSuffix(path, "/chat/completions")
		var req struct {
			Stream bool `json:"stream"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Stream {
			stream(w, chat, e, now)
			return
		}
		writeJSON(w, completion(chat, e, now, false))
	case path == "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP vllm:num_requests_running %s\n# TYPE vllm:num_requests_running gauge\n"+
			"vllm:num_requests_running{model_name=%q} 1\n", strings.ReplaceAll(e, "\n", " "), e)
	default:
		writeError(w, http.StatusNotFound, e)
	}
}

func batch(e, status string, now int64) map[string]any {
	return map[string]any{
		"id": e, "object": "batch", "endpoint": e, "model": e, "input_file_id": e, "output_file_id": e,
		"error_file_id": e, "completion_window": "24h", "status": status, "created_at": now - 60,
		"in_progress_at": now - 30, "expires_at": now + 3600,
		"request_counts": map[string]any{"total": 10, "completed": 4, "failed": 1},
		"metadata":       map[string]any{"description": e},
		"errors": map[string]any{"object": "list", "data": []any{
			map[string]any{"code": e, "message": e, "param": e, "line": 1},
		}},
	}
}

func completion(chat bool, e string, now int64, chunk bool) map[string]any {
	choice := map[string]any{"index": 0, "finish_reason": "stop", "text": e}
	object := "text_completion"
	if chat {
		delete(choice, "text")
		choice["message"] = map[string]any{"role": "assistant", "content": e}
		object = "chat.completion"
		if chunk {
			delete(choice, "message")
			choice["delta"] = map[string]any{"role": "assistant", "content": e}
			object = "chat.completion.chunk"
		}
	}
	return map[string]any{
		"id": e, "object": object, "created": now, "model": e, "system_fingerprint": e,
		"choices": []any{choice},
		"usage":   map[string]any{"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12},
	}
}

func stream(w http.ResponseWriter, chat bool, e string, now int64) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	for i := range 4 {
		c := completion(chat, e, now, true)
		if i < 3 {
			delete(c, "usage")
			c["choices"].([]any)[0].(map[string]any)["finish_reason"] = nil
		}
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", i, "message", b)
		if fl != nil {
			fl.Flush()
		}
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": e}})
	fmt.Fprintf(w, ": %s\ndata: [DONE]\n\n", b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Sink is another origin: it answers 200 with an empty JSON object and
// counts what arrives, including connections that never made a request.
type Sink struct {
	// URL is http(s)://127.0.0.1:PORT; HostURL the same port under the
	// host name localhost.
	URL, HostURL string

	srv   *httptest.Server
	conns atomic.Int64

	mu   sync.Mutex
	reqs []Request
}

func newSink(tlsOn bool) *Sink {
	s := &Sink{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		s.mu.Unlock()
		writeJSON(w, map[string]any{})
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tlsOn {
		s.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	s.HostURL = scheme + "://localhost:" + port
	return s
}

func (s *Sink) close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns the requests that arrived.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Conns returns how many connections were opened to the sink.
func (s *Sink) Conns() int64 { return s.conns.Load() }

// Carrying returns the requests that arrived with any of secrets (in any of
// the forms Leaks looks for) in a header, the URL or the body.
func (s *Sink) Carrying(secrets ...string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		text := Echo(r.Header) + "\n" + r.Path + "?" + r.Query + "\n" + r.Body
		if len(Leaks(text, secrets...)) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Forms returns the forms of secret a leak may take: the secret itself and
// its base64 encodings (standard and URL, padded or not).
func Forms(secret string) []string {
	forms := []string{secret}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if f := enc.EncodeToString([]byte(secret)); !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	if q := url.QueryEscape(secret); !slices.Contains(forms, q) {
		forms = append(forms, q)
	}
	return forms
}

// Leaks returns a line for every place text holds one of secrets in one of
// its forms (see Forms): the form and the text around it. No secrets, no
// leaks.
func Leaks(text string, secrets ...string) []string {
	var out []string
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, f := range Forms(sec) {
			for i := 0; ; {
				j := strings.Index(text[i:], f)
				if j < 0 {
					break
				}
				at := i + j
				lo, hi := max(0, at-60), min(len(text), at+len(f)+60)
				out = append(out, fmt.Sprintf("form %q at byte %d: …%s…", f, at, strconv.Quote(text[lo:hi])))
				i = at + len(f)
			}
		}
	}
	return out
}

// BasicForm returns the base64 of "user:pass", what Basic authentication
// sends for URL credentials.
func BasicForm(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// NoLeaks fails the test for every leak of secrets in text (see Leaks);
// where names what text is (stderr, the result document, /metrics…).
func NoLeaks(tb testing.TB, where, text string, secrets ...string) bool {
	tb.Helper()
	leaks := Leaks(text, secrets...)
	for _, l := range leaks {
		tb.Errorf("%s leaks a secret: %s", where, l)
	}
	return len(leaks) == 0
}

// Client returns a client that trusts the sink's certificate (for TLS
// sinks) and follows redirects as Go does by default: a naive client.
func (s *Sink) Client() *http.Client { return s.srv.Client() }
