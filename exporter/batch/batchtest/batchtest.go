// Package batchtest is a fake OpenAI Batch API for tests: GET /v1/batches
// with the after/limit/has_more pagination of the real one, over a list of
// batches that a test changes between polls, with hooks to make it fail.
package batchtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/benchstation/benchstation/exporter/batch"
)

// Server is a fake Batch API server. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	batches  []batch.Batch
	key      string
	fail     http.HandlerFunc
	requests []string
}

// NewServer starts a server listing batches (in the order given, as the
// API lists newest first) and closes it when the test ends. A non-empty
// key is required as "Authorization: Bearer <key>".
func NewServer(tb testing.TB, key string, batches ...batch.Batch) *Server {
	tb.Helper()
	s := &Server{key: key, batches: slices.Clone(batches)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Set replaces the listed batches.
func (s *Server) Set(batches ...batch.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = slices.Clone(batches)
}

// Prepend adds batches before the others, as new batches appear.
func (s *Server) Prepend(batches ...batch.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(slices.Clone(batches), s.batches...)
}

// Update changes the batch with the given id.
func (s *Server) Update(id string, change func(*batch.Batch)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.batches {
		if s.batches[i].ID == id {
			change(&s.batches[i])
		}
	}
}

// Fail makes every request answered by h instead (nil: serve normally).
func (s *Server) Fail(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = h
}

// Requests returns the query strings of the list requests so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RawQuery)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		fail(w, r)
		return
	}
	s.ServeList(w, r)
}

// ServeList answers r as the API would, whatever Fail says; a Fail handler
// may call it to fail only some requests.
func (s *Server) ServeList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	if r.URL.Path != "/v1/batches" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		Error(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided")
		return
	}
	page, err := s.page(r.URL.Query().Get("after"), r.URL.Query().Get("limit"))
	if err != nil {
		Error(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// page cuts one page of at most limit (default 20, at most 100) batches
// after the batch with id after.
func (s *Server) page(after, limitParam string) (batch.Page, error) {
	limit := 20
	if limitParam != "" {
		n, err := strconv.Atoi(limitParam)
		if err != nil || n < 1 || n > 100 {
			return batch.Page{}, fmt.Errorf("limit must be 1 to 100")
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from := 0
	if after != "" {
		i := slices.IndexFunc(s.batches, func(b batch.Batch) bool { return b.ID == after })
		if i < 0 {
			return batch.Page{}, fmt.Errorf("no batch %s", after)
		}
		from = i + 1
	}
	to := min(from+limit, len(s.batches))
	p := batch.Page{Object: "list", Data: slices.Clone(s.batches[from:to]), HasMore: to < len(s.batches)}
	if p.Data == nil {
		p.Data = []batch.Batch{}
	}
	if len(p.Data) > 0 {
		p.FirstID, p.LastID = p.Data[0].ID, p.Data[len(p.Data)-1].ID
	}
	return p, nil
}

// Error writes an OpenAI-style error body with the given status.
func Error(w http.ResponseWriter, code int, typ, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": message, "type": typ, "param": nil, "code": typ},
	})
}

// Batch returns a batch with the given id, status, created_at and request
// counts (total, completed, failed); finished statuses get their own
// *_at timestamp at created+600 s.
func Batch(id string, st batch.Status, created int64, counts ...int64) batch.Batch {
	b := batch.Batch{ID: id, Object: "batch", Endpoint: "/v1/chat/completions", Status: st,
		CreatedAt: batch.Timestamp(created)}
	for i, p := range []*int64{&b.RequestCounts.Total, &b.RequestCounts.Completed, &b.RequestCounts.Failed} {
		if i < len(counts) {
			*p = counts[i]
		}
	}
	done := batch.Timestamp(created + 600)
	switch st {
	case batch.StatusCompleted:
		b.CompletedAt = done
	case batch.StatusFailed:
		b.FailedAt = done
	case batch.StatusExpired:
		b.ExpiredAt = done
	case batch.StatusCancelled:
		b.CancelledAt = done
	}
	return b
}
