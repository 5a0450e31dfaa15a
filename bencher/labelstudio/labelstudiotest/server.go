// Package labelstudiotest is a fake Label Studio server for tests: real
// HTTP on a loopback port, answering the endpoints package labelstudio
// uses the way Label Studio does (https://api.labelstud.io):
//
//	POST /api/projects/             {"title", "label_config", …} → 201 {"id", "title", "label_config"}
//	POST /api/projects/{id}/import  a JSON list of tasks → 201 {"task_count", …}
//	POST /api/token/refresh/        {"refresh": PAT} → 200 {"access"}
//
// It checks the token (Authorization: Token <token>, or Bearer <access>
// after a refresh), the path, the method and the body: every task must be
// an object whose "data" holds the project's $variables as strings. A bad
// task gets 400 with Django REST framework's per-task error list, as Label
// Studio's custom exception handler wraps it:
//
//	{"id": "…", "status_code": 400, "detail": "Validation error",
//	 "validation_errors": {"non_field_errors": [{}, {"data": ["…"]}]}}
//
// It is hostile where a real server could be: its error answers echo the
// Authorization header they got, so tests can check that the client
// scrubs what a server sends back.
package labelstudiotest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Token is the legacy token it accepts; PAT the personal access token
	// it trades for Access at /api/token/refresh/.
	Token, PAT, Access string

	srv *httptest.Server
	mu  sync.Mutex
	// projects maps a project id to the data keys its config uses.
	projects map[int][]string
	nextID   int
	fail     []int // statuses to answer next, once each, before anything else
	imports  []Import
	created  []Created
	requests []string
}

// Import is one import request the server accepted or refused.
type Import struct {
	Project int
	// Tasks are the tasks of the request, as sent.
	Tasks []json.RawMessage
	// Status is what the server answered.
	Status int
}

// Created is a project the server created.
type Created struct {
	ID                              int
	Title, Description, LabelConfig string
}

// New starts a server that accepts token (and PAT, when not empty). It
// has project 1, whose configuration uses $prompt and $answer, and
// project 2 ($prompt, $answer_a, $answer_b). It closes when the test ends.
func New(tb testing.TB, token, pat string) *Server {
	tb.Helper()
	s := &Server{Token: token, PAT: pat, Access: "access-" + strings.Repeat("x", 24),
		projects: map[int][]string{1: {"prompt", "answer"}, 2: {"prompt", "answer_a", "answer_b"}}, nextID: 3}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// FailNext makes the server answer the next len(statuses) requests with
// these statuses (a 503 with Retry-After: 0, a 429, …), one each.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// Imports returns the import requests received, in order.
func (s *Server) Imports() []Import {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.imports)
}

// Created returns the projects created.
func (s *Server) Created() []Created {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.created)
}

// Requests returns "METHOD PATH" of every request received.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// BatchSizes returns the number of tasks of each import request.
func (s *Server) BatchSizes() []int {
	var out []int
	for _, im := range s.Imports() {
		out = append(out, len(im.Tasks))
	}
	return out
}

var importPath = regexp.MustCompile(`^/api/projects/([0-9]+)/import$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	var status int
	if len(s.fail) > 0 {
		status, s.fail = s.fail[0], s.fail[1:]
	}
	s.mu.Unlock()
	if status != 0 {
		if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		writeError(w, status, "try again later (request with "+r.Header.Get("Authorization")+")", nil)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method), nil)
		return
	}
	if r.URL.Path == "/api/token/refresh/" {
		s.refresh(w, body)
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		// Label Studio answers {"detail": "Invalid token."}; this one also
		// echoes what it got, as a careless proxy might.
		writeError(w, http.StatusUnauthorized, "Invalid token. Got "+r.Header.Get("Authorization"), nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", ct), nil)
		return
	}
	switch m := importPath.FindStringSubmatch(r.URL.Path); {
	case r.URL.Path == "/api/projects/":
		s.create(w, body)
	case m != nil:
		id, _ := strconv.Atoi(m[1])
		s.importTasks(w, id, body)
	default:
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path, nil)
	}
}

func (s *Server) authorized(auth string) bool {
	switch {
	case s.Token != "" && auth == "Token "+s.Token:
		return true
	case s.PAT != "" && auth == "Bearer "+s.Access:
		return true
	}
	return false
}

func (s *Server) refresh(w http.ResponseWriter, body []byte) {
	var in struct {
		Refresh string `json:"refresh"`
	}
	if json.Unmarshal(body, &in) != nil || s.PAT == "" || in.Refresh != s.PAT {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Token is invalid or expired", "code": "token_not_valid"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access": s.Access})
}

var variable = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)

func (s *Server) create(w http.ResponseWriter, body []byte) {
	var in struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		LabelConfig string `json:"label_config"`
	}
	if err := json.Unmarshal(body, &in); err != nil || strings.TrimSpace(in.Title) == "" {
		writeError(w, http.StatusBadRequest, "Validation error", map[string]any{"title": []string{"This field is required."}})
		return
	}
	if !strings.Contains(in.LabelConfig, "<View") {
		writeError(w, http.StatusBadRequest, "Validation error", map[string]any{"label_config": []string{"not a labeling configuration"}})
		return
	}
	var keys []string
	for _, m := range variable.FindAllStringSubmatch(in.LabelConfig, -1) {
		if !slices.Contains(keys, m[1]) {
			keys = append(keys, m[1])
		}
	}
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.projects[id] = keys
	s.created = append(s.created, Created{ID: id, Title: in.Title, Description: in.Description, LabelConfig: in.LabelConfig})
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "title": in.Title, "label_config": in.LabelConfig})
}

func (s *Server) importTasks(w http.ResponseWriter, project int, body []byte) {
	s.mu.Lock()
	keys, ok := s.projects[project]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "No Project matches the given query.", nil)
		return
	}
	var tasks []json.RawMessage
	if err := json.Unmarshal(body, &tasks); err != nil {
		writeError(w, http.StatusBadRequest, "Validation error", map[string]any{"non_field_errors": []string{"not a JSON list of tasks: " + err.Error()}})
		return
	}
	errs := make([]map[string]any, len(tasks))
	bad := false
	for i, raw := range tasks {
		errs[i] = checkTask(raw, keys)
		bad = bad || len(errs[i]) > 0
	}
	status := http.StatusCreated
	if bad {
		status = http.StatusBadRequest
	}
	s.mu.Lock()
	s.imports = append(s.imports, Import{Project: project, Tasks: tasks, Status: status})
	s.mu.Unlock()
	if bad {
		writeError(w, status, "Validation error", map[string]any{"non_field_errors": errs})
		return
	}
	writeJSON(w, status, map[string]any{"task_count": len(tasks), "annotation_count": 0, "prediction_count": 0,
		"duration": 0.01, "file_upload_ids": []int{}, "could_be_tasks_list": false, "found_formats": []string{}, "data_columns": []string{}})
}

// checkTask returns the errors of one task, empty when it is valid.
func checkTask(raw json.RawMessage, keys []string) map[string]any {
	var task map[string]json.RawMessage
	if json.Unmarshal(raw, &task) != nil {
		return map[string]any{"non_field_errors": []string{"Invalid data. Expected a dictionary."}}
	}
	var data map[string]any
	if json.Unmarshal(task["data"], &data) != nil || data == nil {
		return map[string]any{"data": []string{"This field is required and must be an object."}}
	}
	for _, k := range keys {
		if _, ok := data[k].(string); !ok {
			return map[string]any{"data": []string{fmt.Sprintf("%q is used in the labeling config and must be a string in data", k)}}
		}
	}
	for _, k := range []string{"meta"} {
		if v, ok := task[k]; ok && !strings.HasPrefix(strings.TrimSpace(string(v)), "{") {
			return map[string]any{k: []string{"must be an object"}}
		}
	}
	if v, ok := task["predictions"]; ok && !strings.HasPrefix(strings.TrimSpace(string(v)), "[") {
		return map[string]any{"predictions": []string{"must be a list"}}
	}
	return map[string]any{}
}

// writeError answers as Label Studio's custom exception handler does.
func writeError(w http.ResponseWriter, status int, detail string, validation map[string]any) {
	body := map[string]any{"id": "00000000-0000-0000-0000-000000000000", "status_code": status,
		"version": "1.20.0", "detail": detail, "exc_info": nil}
	if validation != nil {
		body["validation_errors"] = validation
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
