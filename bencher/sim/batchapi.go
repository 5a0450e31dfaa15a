package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Batch API paths.
const (
	PathFiles   = "/v1/files"
	PathBatches = "/v1/batches"
)

// batchRoutes are the Batch API's routes as http.ServeMux patterns; the
// path part is also the handler label of the HTTP metrics.
var batchRoutes = []string{
	PathFiles, PathFiles + "/{file_id}", PathFiles + "/{file_id}/content",
	PathBatches, PathBatches + "/{batch_id}", PathBatches + "/{batch_id}/cancel",
}

// newBatchMux routes the Batch API: each route's methods, and a 405 for
// the others.
func (s *Server) newBatchMux() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) int) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { h(w, r) })
	}
	handle("POST "+PathFiles, s.handleUpload)
	handle("GET "+PathFiles, s.handleListFiles)
	handle("GET "+PathFiles+"/{file_id}", s.handleGetFile)
	handle("DELETE "+PathFiles+"/{file_id}", s.handleDeleteFile)
	handle("GET "+PathFiles+"/{file_id}/content", s.handleFileContent)
	handle("POST "+PathBatches, s.handleCreateBatch)
	handle("GET "+PathBatches, s.handleListBatches)
	handle("GET "+PathBatches+"/{batch_id}", s.handleGetBatch)
	handle("POST "+PathBatches+"/{batch_id}/cancel", s.handleCancelBatch)
	for _, route := range batchRoutes {
		handle(route, func(w http.ResponseWriter, _ *http.Request) int {
			return s.writeAPIError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
				msg: "Method Not Allowed"})
		})
	}
	return mux
}

// isBatchPath reports whether a path is the Batch API's.
func isBatchPath(path string) bool {
	for _, p := range []string{PathFiles, PathBatches} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// batchRoute returns the route of a Batch API path ("" for none), for the
// handler label of the HTTP metrics.
func (s *Server) batchRoute(r *http.Request) string {
	_, pattern := s.batchMux.Handler(r)
	if pattern == "" {
		return ""
	}
	_, route, _ := strings.Cut(pattern, " ")
	if route == "" {
		return pattern
	}
	return route
}

// writeAPIError writes an OpenAI error object:
// {"error":{"message","type","param","code"}} with a string or null code.
func (s *Server) writeAPIError(w http.ResponseWriter, e *apiError) int {
	var code *string
	if e.code != "" {
		code = &e.code
	}
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	return s.writeJSON(w, e.status, struct {
		Error body `json:"error"`
	}{body{e.msg, e.typ, e.param, code}})
}

// invalid is a 400 invalid_request_error about param.
func invalid(code, param, format string, args ...any) *apiError {
	e := &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, msg: fmt.Sprintf(format, args...)}
	if param != "" {
		e.param = &param
	}
	return e
}

func notFound(object, id, param string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: &param,
		msg: fmt.Sprintf("No such %s object: %s", object, quoteID(id))}
}

// quoteID makes an id from a URL printable in a message: at most 64
// bytes, valid UTF-8.
func quoteID(id string) string {
	if len(id) > 64 || !utf8.ValidString(id) {
		return strconv.QuoteToASCII(id[:min(len(id), 64)])
	}
	return id
}

// fileView is the OpenAI File object.
type fileView struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int     `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	ExpiresAt     *int64  `json:"expires_at"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	StatusDetails *string `json:"status_details"`
}

func (f *fileObj) view() fileView {
	return fileView{ID: f.id, Object: "file", Bytes: len(f.data), CreatedAt: f.createdAt, Filename: f.filename,
		Purpose: f.purpose, Status: "processed"}
}

// listView is an OpenAI list page.
type listView[T any] struct {
	Object  string  `json:"object"`
	Data    []T     `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

func newList[T any](data []T, more bool, id func(*T) string) listView[T] {
	l := listView[T]{Object: "list", Data: data, HasMore: more}
	if len(data) > 0 {
		first, last := id(&data[0]), id(&data[len(data)-1])
		l.FirstID, l.LastID = &first, &last
	}
	return l
}

// handleUpload serves POST /v1/files: a multipart/form-data body with the
// fields file and purpose ("batch"), read as it streams in.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) int {
	limit := s.cfg.batchLimits.MaxUploadBytes
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20) // the file and the other fields
	mr, err := r.MultipartReader()
	if err != nil {
		return s.writeAPIError(w, invalid("invalid_request", "",
			"Expected a multipart/form-data body with the fields 'file' and 'purpose': %v", err))
	}
	var (
		data           []byte
		name, purpose  string
		file, purposed bool
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s.writeAPIError(w, uploadError(err, limit))
		}
		switch part.FormName() {
		case "file":
			var buf bytes.Buffer
			if r.ContentLength > 0 { // one allocation for the whole file, not a doubling series
				buf.Grow(int(min(r.ContentLength, limit+1)))
			}
			if _, err := buf.ReadFrom(io.LimitReader(part, limit+1)); err != nil {
				return s.writeAPIError(w, uploadError(err, limit))
			}
			if int64(buf.Len()) > limit {
				return s.writeAPIError(w, uploadError(&http.MaxBytesError{Limit: limit}, limit))
			}
			data, name, file = buf.Bytes(), part.FileName(), true
		case "purpose":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return s.writeAPIError(w, uploadError(err, limit))
			}
			purpose, purposed = string(b), true
		}
	}
	switch {
	case !file:
		return s.writeAPIError(w, invalid("missing_required_parameter", "file", "Missing required parameter: 'file'."))
	case !purposed:
		return s.writeAPIError(w, invalid("missing_required_parameter", "purpose", "Missing required parameter: 'purpose'."))
	case purpose != purposeBatch:
		return s.writeAPIError(w, invalid("invalid_value", "purpose",
			"Invalid value: %s. The simulator stores only files with purpose 'batch'.", strconv.QuoteToASCII(purpose)))
	}
	if name == "" {
		name = "file"
	}
	f, apiErr := s.batches.addFile(name, purposeBatch, data, false)
	if apiErr != nil {
		return s.writeAPIError(w, apiErr)
	}
	return s.writeJSON(w, http.StatusOK, f.view())
}

// uploadError is the answer to an upload that could not be read.
func uploadError(err error, limit int64) *apiError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "file_too_large",
			msg: fmt.Sprintf("The file is larger than the simulator's limit on one upload, %d bytes (BatchLimits.MaxUploadBytes).", limit)}
	}
	return invalid("invalid_request", "", "The multipart/form-data body could not be read: %v", err)
}

func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request) int {
	f, ok := s.batches.file(r.PathValue("file_id"))
	if !ok {
		return s.writeAPIError(w, notFound("File", r.PathValue("file_id"), "file_id"))
	}
	return s.writeJSON(w, http.StatusOK, f.view())
}

func (s *Server) handleFileContent(w http.ResponseWriter, r *http.Request) int {
	f, ok := s.batches.file(r.PathValue("file_id"))
	if !ok {
		return s.writeAPIError(w, notFound("File", r.PathValue("file_id"), "file_id"))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.data)
	return http.StatusOK
}

func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) int {
	id := r.PathValue("file_id")
	if !s.batches.deleteFile(id) {
		return s.writeAPIError(w, notFound("File", id, "file_id"))
	}
	return s.writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Deleted bool   `json:"deleted"`
	}{id, "file", true})
}

// handleListFiles serves GET /v1/files: purpose, limit (1 to 10,000,
// default 10,000), order (desc, the default, or asc) and after.
func (s *Server) handleListFiles(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	limit, apiErr := queryLimit(q.Get("limit"), 10_000, 10_000)
	if apiErr != nil {
		return s.writeAPIError(w, apiErr)
	}
	order := q.Get("order")
	if order != "" && order != "asc" && order != "desc" {
		return s.writeAPIError(w, invalid("invalid_value", "order",
			"Invalid value: %s. Supported values are: 'asc' and 'desc'.", strconv.QuoteToASCII(order)))
	}
	files, more := s.batches.listFiles(q.Get("purpose"), q.Get("after"), limit, order != "asc")
	views := make([]fileView, len(files))
	for i := range files {
		views[i] = files[i].view()
	}
	return s.writeJSON(w, http.StatusOK, newList(views, more, func(v *fileView) string { return v.ID }))
}

// queryLimit parses a list's limit: def when empty, else 1 to most.
func queryLimit(v string, def, most int) (int, *apiError) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, invalid("invalid_value", "limit", "Invalid value for 'limit': %s. Expected an integer from 1 to %d.",
			strconv.QuoteToASCII(v), most)
	}
	return n, nil
}

// createBatchRequest is the body of POST /v1/batches.
type createBatchRequest struct {
	InputFileID      *string                    `json:"input_file_id"`
	Endpoint         *string                    `json:"endpoint"`
	CompletionWindow *string                    `json:"completion_window"`
	Metadata         map[string]json.RawMessage `json:"metadata"`
}

// handleCreateBatch serves POST /v1/batches.
func (s *Server) handleCreateBatch(w http.ResponseWriter, r *http.Request) int {
	var req createBatchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		return s.writeAPIError(w, invalid("invalid_request", "", "The body is not a valid JSON object: %v", err))
	}
	b, apiErr := newBatchJob(&req)
	if apiErr != nil {
		return s.writeAPIError(w, apiErr)
	}
	if f, ok := s.batches.file(b.inputFileID); ok && f.purpose != purposeBatch {
		return s.writeAPIError(w, invalid("invalid_value", "input_file_id",
			"The file %s has purpose '%s'; a batch's input file must have purpose 'batch'.", f.id, f.purpose))
	}
	now := time.Now()
	b.createdAt, b.expiresAt = now.Unix(), now.Add(s.cfg.batchWindow)
	if apiErr := s.batches.addBatch(b); apiErr != nil {
		return s.writeAPIError(w, apiErr)
	}
	_, view, _ := s.batches.batch(b.id) // validating: its goroutine has not started
	if !s.startBatch(b) {
		s.batches.update(b, func(b *batchJob) {
			b.status, b.failedAt = BatchFailed, time.Now().Unix()
			b.errors = []lineError{{Code: "server_shutting_down", Message: "The simulator was shutting down."}}
		})
		return s.writeAPIError(w, &apiError{status: http.StatusServiceUnavailable, typ: "server_error",
			msg: "The simulator is shutting down; it runs no new batch."})
	}
	return s.writeJSON(w, http.StatusOK, view)
}

// newBatchJob checks a create request as OpenAI does.
func newBatchJob(req *createBatchRequest) (*batchJob, *apiError) {
	for _, p := range []struct {
		name string
		v    *string
	}{{"input_file_id", req.InputFileID}, {"endpoint", req.Endpoint}, {"completion_window", req.CompletionWindow}} {
		if p.v == nil {
			return nil, invalid("missing_required_parameter", p.name, "Missing required parameter: '%s'.", p.name)
		}
	}
	if e := *req.Endpoint; e != PathChatCompletions && e != PathCompletions {
		return nil, invalid("invalid_value", "endpoint", "Invalid value: %s. Supported values are: '%s' and '%s'.",
			strconv.QuoteToASCII(e), PathChatCompletions, PathCompletions)
	}
	if cw := *req.CompletionWindow; cw != "24h" {
		return nil, invalid("invalid_value", "completion_window", "Invalid value: %s. Supported values are: '24h'.",
			strconv.QuoteToASCII(cw))
	}
	meta, apiErr := checkMetadata(req.Metadata)
	if apiErr != nil {
		return nil, apiErr
	}
	return &batchJob{inputFileID: *req.InputFileID, endpoint: *req.Endpoint, window: *req.CompletionWindow, metadata: meta}, nil
}

// checkMetadata applies OpenAI's rules: at most 16 pairs, keys of at most
// 64 characters, string values of at most 512.
func checkMetadata(raw map[string]json.RawMessage) (map[string]string, *apiError) {
	if raw == nil {
		return nil, nil
	}
	if len(raw) > 16 {
		return nil, invalid("invalid_value", "metadata", "Invalid 'metadata': too many properties. Expected an object "+
			"with at most 16 properties, but got an object with %d properties instead.", len(raw))
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		param := "metadata." + k
		if utf8.RuneCountInString(k) > 64 {
			return nil, invalid("invalid_value", "metadata", "Invalid 'metadata': a key is longer than 64 characters.")
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, invalid("invalid_type", param, "Invalid type for %s: expected a string.", strconv.QuoteToASCII(param))
		}
		if utf8.RuneCountInString(str) > 512 {
			return nil, invalid("string_above_max_length", param,
				"Invalid %s: string too long. Expected a string with maximum length 512.", strconv.QuoteToASCII(param))
		}
		out[k] = str
	}
	return out, nil
}

// handleListBatches serves GET /v1/batches: limit (1 to 100, default 20)
// and after, newest first.
func (s *Server) handleListBatches(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	limit, apiErr := queryLimit(q.Get("limit"), 20, 100)
	if apiErr != nil {
		return s.writeAPIError(w, apiErr)
	}
	views, more := s.batches.listBatches(q.Get("after"), limit)
	return s.writeJSON(w, http.StatusOK, newList(views, more, func(v *batchView) string { return v.ID }))
}

func (s *Server) handleGetBatch(w http.ResponseWriter, r *http.Request) int {
	_, view, ok := s.batches.batch(r.PathValue("batch_id"))
	if !ok {
		return s.writeAPIError(w, notFound("Batch", r.PathValue("batch_id"), "batch_id"))
	}
	return s.writeJSON(w, http.StatusOK, view)
}

// handleCancelBatch serves POST /v1/batches/{batch_id}/cancel: an
// unfinished batch goes to cancelling (and then, by itself, to cancelled);
// cancelling a cancelling or cancelled batch again changes nothing; a
// completed, failed or expired batch cannot be cancelled (409).
func (s *Server) handleCancelBatch(w http.ResponseWriter, r *http.Request) int {
	b, _, ok := s.batches.batch(r.PathValue("batch_id"))
	if !ok {
		return s.writeAPIError(w, notFound("Batch", r.PathValue("batch_id"), "batch_id"))
	}
	var refused string
	view := s.batches.update(b, func(b *batchJob) {
		switch b.status {
		case BatchCancelling, BatchCancelled:
		case BatchCompleted, BatchFailed, BatchExpired:
			refused = b.status
		default:
			b.status, b.cancellingAt = BatchCancelling, time.Now().Unix()
			close(b.cancel)
		}
	})
	if refused != "" {
		return s.writeAPIError(w, &apiError{status: http.StatusConflict, typ: "invalid_request_error",
			msg: fmt.Sprintf("Cannot cancel a batch with status '%s'.", refused)})
	}
	return s.writeJSON(w, http.StatusOK, view)
}
