package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// Limits of an outputs query.
const (
	DefaultOutputsLimit = 100
	MaxOutputsLimit     = 10_000
)

// OutputsQuery is the model of an "outputs" query:
//
//	{"queryType": "outputs", "runIds": ["a", "b"], "limit": 100}
//
// One run gives its requests; two runs are joined on the request id, side
// by side. Limit bounds the rows (default DefaultOutputsLimit).
type OutputsQuery struct {
	RunIDs []string `json:"runIds"`
	Limit  int      `json:"limit,omitempty"`
}

// promptNote is the description of the id field.
const promptNote = "The request id, as the workload named it."

// queryOutputs answers "outputs" queries.
func (d *Datasource) queryOutputs(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		var oq OutputsQuery
		if err := decodeQuery(q.JSON, &oq); err != nil {
			return badQuery(err)
		}
		if n := len(oq.RunIDs); n < 1 || n > 2 {
			return badQuery(fmt.Errorf("runIds: one or two runs, got %d", n))
		}
		if oq.Limit < 0 || oq.Limit > MaxOutputsLimit {
			return badQuery(fmt.Errorf("limit: must be between 1 and %d, got %d", MaxOutputsLimit, oq.Limit))
		}
		docs := make([]*results.Document, 0, len(oq.RunIDs))
		var notices []data.Notice
		for _, id := range oq.RunIDs {
			doc, err := d.document(l, id)
			switch {
			case errors.Is(err, errUnresolved):
				notices = addNotice(notices, noticeOf(err))
				continue
			case err != nil:
				return docError(err)
			}
			if !hasOutputs(doc) {
				notices = addNotice(notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: noOutputsText(doc.ID)})
			}
			docs = append(docs, doc)
		}
		return withNotices(data.Frames{OutputsFrame(docs, cmpInt(oq.Limit, DefaultOutputsLimit))}, notices...)
	})
}

// noOutputsText says that the run id has no outputs, and how to record
// them.
func noOutputsText(id string) string {
	return fmt.Sprintf("Run %s was recorded without outputs, so its prompts and generated texts are empty: "+
		"record them with --record-outputs (bencher CLI) or the record outputs option of the query editor's Run benchmark", id)
}

// hasOutputs reports whether doc's run recorded its generated texts.
func hasOutputs(doc *results.Document) bool {
	if doc.Config.Run.RecordOutputs {
		return true
	}
	for i := range doc.Records {
		if doc.Records[i].Output != "" {
			return true
		}
	}
	return false
}

// OutputsFrame returns the requests of one or two runs as a table, at most
// limit rows, joined on the request id (the first run's order, then the
// second's own requests); a run recorded without outputs has null outputs
// and prompts, and no run gives the columns of one run with no rows:
//
//	id                                    string (see promptNote)
//	status, output, tokens, ttft, e2el    string, string, *int64, *float64
//	                                      (ms), *float64 (ms); with two
//	                                      runs, once per run, suffixed
//	                                      " (<run id>)"; null where a run
//	                                      lacks the request
func OutputsFrame(docs []*results.Document, limit int) *data.Frame {
	var ids []string
	byRun := make([]map[string]*bencher.Record, len(docs))
	for i, doc := range docs {
		byRun[i] = make(map[string]*bencher.Record, len(doc.Records))
		for j := range doc.Records {
			r := &doc.Records[j]
			id := recordID(r)
			if _, seen := byRun[i][id]; seen {
				continue
			}
			byRun[i][id] = r
			if i == 0 || byRun[0][id] == nil {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > limit {
		ids = ids[:limit]
	}
	ids = nonNil(ids)
	fields := []*data.Field{data.NewField("id", nil, ids).SetConfig(&data.FieldConfig{
		DisplayNameFromDS: "Request", Description: promptNote}), promptColumn(ids, byRun)}
	if len(docs) == 0 {
		fields = append(fields, outputColumns(ids, nil, "", false)...)
	}
	for i, doc := range docs {
		suffix := ""
		if len(docs) > 1 {
			suffix = " (" + doc.ID + ")"
		}
		fields = append(fields, outputColumns(ids, byRun[i], suffix, hasOutputs(doc))...)
	}
	frame := data.NewFrame("outputs", fields...)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// recordID returns a record's request id, or its index when it has none.
func recordID(r *bencher.Record) string {
	if r.ID != "" {
		return r.ID
	}
	return fmt.Sprintf("#%d", r.Index)
}

// outputColumns returns the columns of one run for the requests ids; the
// outputs are null unless the run recorded them.
func outputColumns(ids []string, recs map[string]*bencher.Record, suffix string, recorded bool) []*data.Field {
	n := len(ids)
	status, output := make([]*string, n), make([]*string, n)
	tokens := make([]*int64, n)
	ttft, e2el := make([]*float64, n), make([]*float64, n)
	for i, id := range ids {
		r := recs[id]
		if r == nil {
			continue
		}
		s, out, tok, e := recordStatus(r), r.Output, int64(r.OutputTokens), ms(r.E2E())
		status[i], tokens[i], e2el[i] = &s, &tok, &e
		if recorded {
			output[i] = &out
		}
		if t, ok := r.TTFT(); ok {
			v := ms(t)
			ttft[i] = &v
		}
	}
	return []*data.Field{
		named(data.NewField("status"+suffix, nil, status), "Status"+suffix, ""),
		named(data.NewField("output"+suffix, nil, output), "Output"+suffix, ""),
		named(data.NewField("output_tokens"+suffix, nil, tokens), "Output tokens"+suffix, ""),
		named(data.NewField("ttft"+suffix, nil, ttft), "TTFT"+suffix, UnitMilliseconds),
		named(data.NewField("e2el"+suffix, nil, e2el), "E2EL"+suffix, UnitMilliseconds),
	}
}

// recordStatus describes how a request ended: "ok (stop)", or its error
// class, HTTP status and message.
func recordStatus(r *bencher.Record) string {
	if r.OK() {
		if r.FinishReason != "" {
			return "ok (" + r.FinishReason + ")"
		}
		return "ok"
	}
	parts := []string{string(r.Error)}
	if r.HTTPStatus != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", r.HTTPStatus))
	}
	if r.ErrorMessage != "" {
		parts = append(parts, r.ErrorMessage)
	}
	return strings.Join(parts, ": ")
}

// ms returns d in float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// promptColumn returns each request's prompt, from the first run that has
// it (runs recorded with outputs keep their prompts).
func promptColumn(ids []string, byRun []map[string]*bencher.Record) *data.Field {
	prompts := make([]*string, len(ids))
	for i, id := range ids {
		for _, recs := range byRun {
			if r := recs[id]; r != nil && r.Prompt != "" {
				p := r.Prompt
				prompts[i] = &p
				break
			}
		}
	}
	return named(data.NewField("prompt", nil, prompts), "Prompt", "")
}
