package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher/labelstudio"
	"github.com/benchstation/benchstation/bencher/results"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

// maxExportBytes bounds the body of POST /export/labelstudio.
const maxExportBytes = 16 << 10

// exportTimeout bounds one export (every batch and retry).
const exportTimeout = 5 * time.Minute

// ExportRequest is the body of POST /export/labelstudio: the runs of an
// outputs view (one: a rating task per request; two: a pairwise task per
// request both ran; "latest" and "previous" name runs as in queries) and
// the Label Studio project to send them to, an existing one (ProjectID)
// or a new one (CreateProject, its title, with the labeling
// configuration of provisioning/labelstudio).
type ExportRequest struct {
	RunIDs        []string `json:"runIds"`
	ProjectID     int      `json:"projectId,omitempty"`
	CreateProject string   `json:"createProject,omitempty"`
	IncludeFailed bool     `json:"includeFailed,omitempty"`
}

// ExportResponse is the body of a 200 answer to POST /export/labelstudio.
type ExportResponse struct {
	// Kind is "rating" (one run) or "pairwise" (two).
	Kind string `json:"kind"`
	// Tasks were imported in Batches requests into ProjectID, which
	// ProjectURL shows; Created says that the project was created.
	Tasks      int    `json:"tasks"`
	Batches    int    `json:"batches"`
	ProjectID  int    `json:"projectId"`
	ProjectURL string `json:"projectUrl"`
	Created    bool   `json:"created"`
	// LeftOut counts the requests that did not become tasks.
	LeftOut ExportLeftOut `json:"leftOut"`
}

// ExportLeftOut counts the requests an export left out, by reason.
type ExportLeftOut struct {
	Failed        int `json:"failed"`
	NotSent       int `json:"notSent"`
	Unpaired      int `json:"unpaired"`
	PromptsDiffer int `json:"promptsDiffer"`
}

// AllowsLabelStudio reports whether the Label Studio URL's host is
// allowed, as a run's target must be (AllowsTarget): in AllowedHosts or,
// when that is empty, the default target's host.
func (s Settings) AllowsLabelStudio() bool {
	u, err := url.Parse(s.LabelStudioURL)
	return err == nil && s.LabelStudioURL != "" && s.AllowsTarget(u)
}

// handleExportLabelStudio serves POST /export/labelstudio (Editors and
// Admins only).
func (d *Datasource) handleExportLabelStudio(w http.ResponseWriter, r *http.Request) {
	if !d.usable(w) {
		return
	}
	s := d.settings
	switch {
	case s.LabelStudioURL == "":
		writeError(w, http.StatusServiceUnavailable, "no Label Studio URL in the data source's settings (labelStudioUrl): "+
			"an administrator sets it, and its token, in the data source's configuration")
		return
	case !s.AllowsLabelStudio():
		u, _ := url.Parse(s.LabelStudioURL)
		writeError(w, http.StatusForbidden, fmt.Sprintf("Label Studio's host %q is not an allowed host: an administrator adds it "+
			"to allowedHosts in the data source's settings", u.Host))
		return
	case !s.LabelStudioToken.IsSet():
		writeError(w, http.StatusServiceUnavailable, "no Label Studio token in the data source's settings "+
			"(secureJsonData.labelStudioToken): an administrator sets it in the data source's configuration")
		return
	}
	req, err := decodeExportRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	logger := d.logger.FromContext(r.Context())
	l, err := d.list(logger)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	docs := make([]*results.Document, 0, len(req.RunIDs))
	for _, id := range req.RunIDs {
		doc, err := d.document(l, id)
		if err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		docs = append(docs, doc)
	}
	tasks, counts, err := labelstudio.Build(docs, labelstudio.Options{IncludeFailed: req.IncludeFailed})
	if err == nil && len(tasks) == 0 {
		err = errors.New("no request of these runs can be a task (every one failed, was never sent, or ran in one run only): nothing was sent")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := d.exportTasks(r.Context(), req, tasks, len(docs) == 2)
	if err != nil {
		logger.Warn("Export to Label Studio failed", "runs", req.RunIDs, "error", err)
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	resp.LeftOut = ExportLeftOut{Failed: counts.Failed, NotSent: counts.NotSent, Unpaired: counts.Unpaired, PromptsDiffer: counts.PromptsDiffer}
	logger.Info("Exported to Label Studio", "runs", req.RunIDs, "project", resp.ProjectID, "tasks", resp.Tasks, "created", resp.Created)
	writeJSON(w, http.StatusOK, resp)
}

// decodeExportRequest reads and checks the body of POST /export/labelstudio.
func decodeExportRequest(r *http.Request) (ExportRequest, error) {
	var req ExportRequest
	raw, err := readBody(r, maxExportBytes)
	if errors.Is(err, errEmptyBody) {
		return req, errors.New(`the request body is empty: send {"runIds": ["<run id>"], "projectId": <id>} or {"runIds": [...], "createProject": "<title>"}`)
	}
	if err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body: not an export request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("body: unexpected data after the object")
	}
	req.CreateProject = strings.TrimSpace(req.CreateProject)
	switch n := len(req.RunIDs); {
	case n < 1 || n > 2:
		return req, fmt.Errorf("runIds: one or two runs, got %d", n)
	case (req.ProjectID != 0) == (req.CreateProject != ""):
		return req, errors.New("give either projectId (an existing Label Studio project) or createProject (the title of a new one)")
	case req.ProjectID < 0:
		return req, fmt.Errorf("projectId: a positive number, got %d", req.ProjectID)
	}
	for _, id := range req.RunIDs {
		if recentIndex(id) >= 0 {
			continue
		}
		if err := CheckRunID(id); err != nil {
			return req, fmt.Errorf("runIds: %w", err)
		}
	}
	return req, nil
}

// exportTasks sends tasks to the settings' Label Studio, creating the
// project first when asked. The token goes to Label Studio's origin only;
// errors are scrubbed by the instance's redactor, which knows it.
func (d *Datasource) exportTasks(ctx context.Context, req ExportRequest, tasks []labelstudio.Task, pairwise bool) (ExportResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	defer cancel()
	kind, config := "rating", lsconfig.Rating
	if pairwise {
		kind, config = "pairwise", lsconfig.Pairwise
	}
	client, err := labelstudio.New(d.settings.LabelStudioURL, d.settings.LabelStudioToken, labelstudio.WithRedactor(d.red),
		labelstudio.WithHTTPClient(&http.Client{Transport: d.client.Transport, Timeout: labelstudio.DefaultTimeout}),
		labelstudio.WithNotify(func(line string) { d.logger.Info("Label Studio: " + line) }))
	if err != nil {
		return ExportResponse{}, d.red.Error(err)
	}
	resp := ExportResponse{Kind: kind, ProjectID: req.ProjectID}
	if req.CreateProject != "" {
		p, err := client.CreateProject(ctx, req.CreateProject,
			fmt.Sprintf("Benchstation %s of run(s) %s (Grafana)", kind, strings.Join(req.RunIDs, " vs ")), config)
		if err != nil {
			return resp, d.red.Error(err)
		}
		resp.ProjectID, resp.Created = p.ID, true
	}
	resp.ProjectURL = client.ProjectURL(resp.ProjectID)
	res, err := client.Import(ctx, resp.ProjectID, tasks, nil)
	resp.Tasks, resp.Batches = res.Tasks, res.Batches
	if err != nil {
		if res.Tasks > 0 {
			err = fmt.Errorf("%w (%d of %d tasks were imported into project %d first)", err, res.Tasks, len(tasks), resp.ProjectID)
		}
		return resp, d.red.Error(err)
	}
	return resp, nil
}
