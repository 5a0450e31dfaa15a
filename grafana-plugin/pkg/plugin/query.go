package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
)

// Filter selects runs; every set field must match. It is part of every
// query model.
type Filter struct {
	// Name matches runs whose name contains it, ignoring case.
	Name string `json:"name,omitempty"`
	// Labels are "key=value" pairs that a run's labels must all hold.
	Labels []string `json:"labels,omitempty"`
	// Profile, Model and Status match exactly; Status is one of
	// completed, interrupted and failed. Profile ProfileCustom also
	// matches the runs without a profile.
	Profile string `json:"profile,omitempty"`
	Model   string `json:"model,omitempty"`
	Status  string `json:"status,omitempty"`
	// Size matches the runs of that many requests (config.run.requests,
	// such as a matrix's size: "100"); a string, so that a dashboard
	// variable can give it. Empty: any size.
	Size string `json:"size,omitempty"`
}

// RunsQuery is the model of a "runs" query:
//
//	{"queryType": "runs", "name": "nightly", "labels": ["ci=true"],
//	 "profile": "chat", "model": "m1", "status": "completed"}
//
// It returns one table of the runs that overlap the time range.
type RunsQuery struct {
	Filter
}

// TrendQuery is the model of a "trend" query:
//
//	{"queryType": "trend", "value": "ttft_p95", "profile": "chat"}
//
// It returns one time series per profile of the summary value Value (a
// stats.Summary.Value name), one point per completed run that started in
// the time range (see TrendFrames); runs without measured requests and runs
// whose summary lacks the value are left out, and runs that did not
// complete unless Status asks for their status.
type TrendQuery struct {
	Filter
	Value string `json:"value"`
}

// statuses are the run statuses a filter accepts.
func statuses() []results.Status {
	return []results.Status{results.StatusCompleted, results.StatusInterrupted, results.StatusFailed}
}

// decodeQuery reads a query's JSON into q. Fields of Grafana's own (refId,
// datasource, intervalMs …) are ignored; a field of the wrong type is an
// error that names it.
func decodeQuery(raw json.RawMessage, q any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	err := json.Unmarshal(raw, q)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("query field %s: must be %s, not a JSON %s", jsonPath(typeErr.Field), describeType(typeErr.Type), typeErr.Value)
	}
	return fmt.Errorf("the query is not a valid JSON object: %w", err)
}

// jsonPath drops the names of embedded Go structs (such as "Filter.") from
// the field path of a JSON type error, leaving the JSON names.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	parts = slices.DeleteFunc(parts, func(p string) bool { return p != "" && unicode.IsUpper(rune(p[0])) })
	return strings.Join(parts, ".")
}

// matcher is a compiled Filter with a time range.
type matcher struct {
	name           string
	labels         map[string]string
	profile, model string
	status         results.Status
	size           int       // 0: any
	from, to       time.Time // both zero: any time
}

// compile checks f and returns its matcher for the time range tr.
func (f Filter) compile(tr backend.TimeRange) (matcher, error) {
	m := matcher{
		name: strings.ToLower(f.Name), profile: f.Profile, model: f.Model,
		status: results.Status(f.Status), from: tr.From, to: tr.To,
	}
	if s := strings.TrimSpace(f.Size); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return m, fmt.Errorf("size: %q is not a number of requests (a whole number of at least 1)", f.Size)
		}
		m.size = n
	}
	if m.status != "" && !slices.Contains(statuses(), m.status) {
		return m, fmt.Errorf("status: %q is not a run status (want completed, interrupted or failed)", f.Status)
	}
	for i, kv := range f.Labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return m, fmt.Errorf("labels[%d]: %q is not key=value", i, kv)
		}
		if m.labels == nil {
			m.labels = map[string]string{}
		}
		m.labels[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// match reports whether h passes the filter and lies in the time range:
// the whole run overlaps it when overlap is set, else its start is in it.
func (m matcher) match(h *results.Header, overlap bool) bool {
	if !m.from.IsZero() || !m.to.IsZero() {
		start, end := h.Environment.StartTime, h.Environment.EndTime
		if !overlap || end.Before(start) {
			end = start
		}
		if end.Before(m.from) || start.After(m.to) {
			return false
		}
	}
	switch {
	case m.name != "" && !strings.Contains(strings.ToLower(h.Name), m.name),
		m.profile != "" && h.Profile != m.profile && profileKey(h) != m.profile,
		m.model != "" && h.Environment.Model != m.model,
		m.status != "" && h.Status != m.status,
		m.size != 0 && h.Config.Run.Requests != m.size:
		return false
	}
	for k, v := range m.labels {
		if got, ok := h.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// listing is what a request reads of the results directory once for all
// its queries.
type listing struct {
	runs    []*results.Header
	entries []results.Entry // of runs, in the same order
	notice  *data.Notice    // about skipped files, or nil
	dir     string          // the results directory
}

// list reads the results directory through the index; files that are not
// run documents are logged once each and counted in a notice.
func (d *Datasource) list(logger log.Logger) (*listing, error) {
	l, err := d.index.List()
	if err != nil {
		return nil, fmt.Errorf("reading the results directory %s: %w", d.settings.ResultsDir, err)
	}
	out := &listing{runs: make([]*results.Header, 0, len(l.Runs)), entries: l.Runs, dir: d.settings.ResultsDir}
	for _, e := range l.Runs {
		out.runs = append(out.runs, e.Header)
	}
	d.logSkipped(logger, l.Skipped)
	if n := len(l.Skipped); n > 0 {
		names := make([]string, 0, n)
		for _, s := range l.Skipped {
			names = append(names, baseName(s.Path))
		}
		out.notice = &data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("%d file(s) of the results directory are not readable run documents and were skipped: %s (the plugin log says why)",
				n, strings.Join(names, ", ")),
		}
	}
	return out, nil
}

// logSkipped logs each skipped file once per reason.
func (d *Datasource) logSkipped(logger log.Logger, skipped []results.Skipped) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range skipped {
		if d.skipped[s.Path] == s.Reason {
			continue
		}
		d.skipped[s.Path] = s.Reason
		logger.Warn("Skipping a file of the results directory", "file", s.Path, "reason", s.Reason)
	}
}

// baseName returns the last element of a slash or OS path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// queryFunc answers one query from a listing.
type queryFunc func(q backend.DataQuery, l *listing) backend.DataResponse

// each lists the results directory once and answers every query of req
// with fn; a listing error becomes every query's error.
func (d *Datasource) each(ctx context.Context, req *backend.QueryDataRequest, fn queryFunc) (*backend.QueryDataResponse, error) {
	logger := d.logger.FromContext(ctx)
	resp := backend.NewQueryDataResponse()
	l, err := d.list(logger)
	for _, q := range req.Queries {
		if err != nil {
			resp.Responses[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusInternal,
				backend.ErrorSourceDownstream, err.Error())
			continue
		}
		resp.Responses[q.RefID] = fn(q, l)
	}
	d.logListError(logger, err)
	return resp, nil
}

// listErrKey is the key of Datasource.skipped (whose other keys are file
// paths) that holds the error of the last listing, so that a results
// directory that cannot be read is logged once, not at every refresh of
// every panel (the panels show the error).
const listErrKey = ""

// logListError logs the error of a listing unless the last listing failed
// the same way; a listing without error forgets it.
func (d *Datasource) logListError(logger log.Logger, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		delete(d.skipped, listErrKey)
		return
	}
	if d.skipped[listErrKey] == err.Error() {
		return
	}
	d.skipped[listErrKey] = err.Error()
	logger.Error("Listing the results directory", "error", err)
}

// queryTypeList names the query types in errors.
const queryTypeList = QueryTypeRuns + ", " + QueryTypeTrend + ", " + QueryTypeLive + ", " + QueryTypeRun + ", " +
	QueryTypeDistribution + ", " + QueryTypeCompare + ", " + QueryTypeOutputs + " or " + QueryTypeAnnotations

// badQuery is the response of a query that cannot be answered as written.
func badQuery(err error) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
}

// queryUnknown answers queries of a type this plugin does not know.
func (d *Datasource) queryUnknown(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		msg := fmt.Sprintf("unknown query type %q (want %s)", q.QueryType, queryTypeList)
		if q.QueryType == "" {
			msg = fmt.Sprintf("the query has no query type (want %s)", queryTypeList)
		}
		resp.Responses[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, msg)
	}
	return resp, nil
}

// selectRuns decodes q as a filter query (runs, annotations) and returns
// the listed runs it selects: those matching the filter that overlap the
// query's time range.
func selectRuns(q backend.DataQuery, l *listing) ([]*results.Header, error) {
	var f Filter
	if err := decodeQuery(q.JSON, &f); err != nil {
		return nil, err
	}
	m, err := f.compile(q.TimeRange)
	if err != nil {
		return nil, err
	}
	var runs []*results.Header
	for _, h := range l.runs {
		if m.match(h, true) {
			runs = append(runs, h)
		}
	}
	return runs, nil
}
