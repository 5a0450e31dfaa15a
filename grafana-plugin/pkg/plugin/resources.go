package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/benchstation/benchstation/bencher/results"
)

// maxImportBytes bounds the body of POST /import.
const maxImportBytes = 512 << 20

// maxSpecBytes bounds the body of POST /runs.
const maxSpecBytes = 64 << 10

// StartResponse is the body of a 201 answer to POST /runs.
type StartResponse struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
}

// RunListItem is one run of GET /runs: the header of a finished run or the
// progress of a running one.
type RunListItem struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Header   *results.Header `json:"header,omitempty"`
	Progress *RunProgress    `json:"progress,omitempty"`
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// newResourceMux returns the handler of the resource endpoints.
func (d *Datasource) newResourceMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /runs", d.editorOnly(d.handleStart))
	mux.HandleFunc("GET /runs", d.handleList)
	mux.HandleFunc("GET /runs/{id}", d.handleGet)
	mux.HandleFunc("POST /runs/{id}/cancel", d.editorOnly(d.handleCancel))
	mux.HandleFunc("POST /import", d.editorOnly(d.handleImport))
	mux.HandleFunc("GET /profiles", d.handleProfiles)
	mux.HandleFunc("POST /export/labelstudio", d.editorOnlyTo("send runs to Label Studio", d.handleExportLabelStudio))
	return withBody(mux)
}

// withBody gives every request a body: the SDK's adapter leaves
// http.Request.Body nil when Grafana sends none, which handlers that read
// it would dereference.
func withBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil {
			r.Body = http.NoBody
		}
		h.ServeHTTP(w, r)
	})
}

// Messages of an empty POST /runs or POST /import.
const (
	emptySpecMessage = `the request body is empty: send a run spec as JSON, such as ` +
		`{"profile": "high-parallelism", "requests": 100} (see RunSpec)`
	emptyImportMessage = "the request body is empty: send a run document as JSON (the .json file a bencher run wrote)"
)

// readBody reads a request body of at most limit bytes. It returns
// errEmptyBody for a body of only white space, and errTooLarge beyond limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("body: unreadable: %w", err)
	case int64(len(raw)) > limit:
		return nil, fmt.Errorf("%w: larger than %d bytes", errTooLarge, limit)
	case len(bytes.TrimSpace(raw)) == 0:
		return nil, errEmptyBody
	}
	return raw, nil
}

// Errors of readBody.
var (
	errEmptyBody = errors.New("the request body is empty")
	errTooLarge  = errors.New("body: too large")
)

// CallResource serves the resource endpoints (see the package doc); the
// answers are scrubbed of the settings' credentials.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, redactSender{next: sender, r: d.red})
}

// writeJSON answers v with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers an error message with the status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// callerRole returns the role of the calling user, "" when unknown.
func callerRole(r *http.Request) string {
	if u := backend.UserFromContext(r.Context()); u != nil {
		return u.Role
	}
	if u := backend.PluginConfigFromContext(r.Context()).User; u != nil {
		return u.Role
	}
	return ""
}

// editorOnly refuses users below the Editor role with 403.
func (d *Datasource) editorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch callerRole(r) {
		case "Admin", "Editor":
			h(w, r)
		default:
			writeError(w, http.StatusForbidden, "only users with the Editor or Admin role may start, cancel or import runs")
		}
	}
}

// editorOnlyTo refuses users below the Editor role with 403, saying that
// only Editors and Admins may do what.
func (d *Datasource) editorOnlyTo(what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch callerRole(r) {
		case "Admin", "Editor":
			h(w, r)
		default:
			writeError(w, http.StatusForbidden, "only users with the Editor or Admin role may "+what)
		}
	}
}

// usable answers 503 and reports false when the settings are invalid.
func (d *Datasource) usable(w http.ResponseWriter) bool {
	if d.configErr != nil {
		writeError(w, http.StatusServiceUnavailable, d.configErr.Error()+" (fix the data source's settings)")
		return false
	}
	return true
}

// handleStart serves POST /runs.
func (d *Datasource) handleStart(w http.ResponseWriter, r *http.Request) {
	if !d.usable(w) {
		return
	}
	raw, err := readBody(r, maxSpecBytes)
	if errors.Is(err, errEmptyBody) {
		writeError(w, http.StatusBadRequest, emptySpecMessage)
		return
	}
	var p *runPlan
	if err == nil {
		var spec RunSpec
		if spec, err = decodeSpec(bytes.NewReader(raw)); err == nil {
			p, err = spec.plan(d.settings)
		}
	}
	var se *specError
	switch {
	case errors.As(err, &se) && se.forbidden:
		writeError(w, http.StatusForbidden, se.msg)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	run, err := d.runs.start(p)
	switch {
	case errors.Is(err, errBusy):
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		d.logger.Error("Starting a run failed", "error", err)
		writeError(w, http.StatusInternalServerError, "starting the run: "+err.Error())
		return
	}
	d.logger.Info("Benchmark run started", "id", run.id, "simulated", p.target == "")
	writeJSON(w, http.StatusCreated, StartResponse{ID: run.id, Channel: RunChannelPath(run.id)})
}

// handleCancel serves POST /runs/{id}/cancel.
func (d *Datasource) handleCancel(w http.ResponseWriter, r *http.Request) {
	if !d.usable(w) {
		return
	}
	id := r.PathValue("id")
	if !d.runs.cancel(id) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no running run with id %q", id))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "cancelling"})
}

// handleList serves GET /runs: the documents, then the runs still going.
func (d *Datasource) handleList(w http.ResponseWriter, _ *http.Request) {
	if !d.usable(w) {
		return
	}
	l, err := d.index.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("reading the results directory: %v", err))
		return
	}
	items := make([]RunListItem, 0, len(l.Runs))
	seen := make(map[string]bool, len(l.Runs))
	for _, e := range l.Runs {
		items = append(items, RunListItem{ID: e.Header.ID, Status: string(e.Header.Status), Header: e.Header})
		seen[e.Header.ID] = true
	}
	for _, run := range d.runs.list() {
		if !run.ended() && !seen[run.id] { // a run ending now may have both
			p := run.snapshot()
			items = append(items, RunListItem{ID: run.id, Status: p.Status, Progress: &p})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": items})
}

// handleGet serves GET /runs/{id}.
func (d *Datasource) handleGet(w http.ResponseWriter, r *http.Request) {
	if !d.usable(w) {
		return
	}
	id := r.PathValue("id")
	if run, ok := d.runs.get(id); ok && !run.ended() {
		p := run.snapshot()
		writeJSON(w, http.StatusOK, RunListItem{ID: id, Status: p.Status, Progress: &p})
		return
	}
	h, err := d.findHeader(id)
	if err != nil || h == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no run with id %q", id))
		return
	}
	writeJSON(w, http.StatusOK, RunListItem{ID: id, Status: string(h.Status), Header: h})
}

// findHeader returns the header of the document with the given id, nil
// when there is none.
func (d *Datasource) findHeader(id string) (*results.Header, error) {
	if err := CheckRunID(id); err != nil {
		return nil, err
	}
	l, err := d.index.List()
	if err != nil {
		return nil, fmt.Errorf("reading the results directory: %w", err)
	}
	for _, e := range l.Runs {
		if e.Header.ID == id {
			return e.Header, nil
		}
	}
	return nil, nil
}

// handleImport serves POST /import: a whole run document, checked by the
// results package's decoder (which rejects unknown schema versions).
func (d *Datasource) handleImport(w http.ResponseWriter, r *http.Request) {
	if !d.usable(w) {
		return
	}
	raw, err := readBody(r, maxImportBytes)
	switch {
	case errors.Is(err, errEmptyBody):
		writeError(w, http.StatusBadRequest, emptyImportMessage)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body: unreadable or larger than %d MiB", maxImportBytes>>20))
		return
	}
	doc, err := results.Decode(bytes.NewReader(raw))
	if err == nil && doc.SchemaVersion != results.SchemaVersion {
		err = fmt.Errorf("schema_version %d is not supported (want %d)", doc.SchemaVersion, results.SchemaVersion)
	}
	if err == nil {
		err = CheckRunID(doc.ID)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "not a valid run document: "+err.Error())
		return
	}
	if _, err := os.Stat(filepath.Join(d.settings.ResultsDir, doc.ID+".json")); err == nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("a run with id %q already exists", doc.ID))
		return
	}
	if _, running := d.runs.get(doc.ID); running {
		writeError(w, http.StatusConflict, fmt.Sprintf("a run with id %q already exists", doc.ID))
		return
	}
	if _, err := results.Write(d.settings.ResultsDir, doc); errors.Is(err, results.ErrExists) {
		writeError(w, http.StatusConflict, fmt.Sprintf("a run with id %q already exists", doc.ID))
		return
	} else if err != nil {
		d.logger.Error("Importing a run failed", "id", doc.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "writing the document failed")
		return
	}
	d.logger.Info("Run imported", "id", doc.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"id": doc.ID})
}

// handleProfiles serves GET /profiles.
func (d *Datasource) handleProfiles(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"profiles": Profiles()})
}
