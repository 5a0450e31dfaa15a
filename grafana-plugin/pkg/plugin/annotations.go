package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
)

// AnnotationsQuery is the model of an "annotations" query, which Grafana
// sends through QueryData for the data source's annotations:
//
//	{"queryType": "annotations", "profile": "chat", "labels": ["ci=true"]}
//
// It takes the filter of a runs query and returns the runs that overlap
// the time range as regions.
type AnnotationsQuery struct {
	Filter
}

// queryAnnotations answers "annotations" queries.
func (d *Datasource) queryAnnotations(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		runs, err := selectRuns(q, l)
		if err != nil {
			return badQuery(err)
		}
		return withNotices(data.Frames{AnnotationsFrame(runs)}, l.notices()...)
	})
}

// AnnotationsFrame returns the runs as annotation regions, in the fields
// Grafana maps to annotations by name:
//
//	time, timeEnd   time: the run's start and end
//	title           string: the run's name (its id when unnamed)
//	text            string: id, profile, model, status and main figures
//	tags            string: comma-separated "benchstation", the status,
//	                the profile and the labels as k=v
//	id              string: the run id
func AnnotationsFrame(runs []*results.Header) *data.Frame {
	n := len(runs)
	start, end := make([]time.Time, n), make([]time.Time, n)
	title, text, tags, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, h := range runs {
		start[i], end[i] = h.Environment.StartTime.UTC(), h.Environment.EndTime.UTC()
		if end[i].Before(start[i]) {
			end[i] = start[i]
		}
		title[i], text[i], tags[i], ids[i] = cmpString(h.Name, h.ID), annotationText(h), annotationTags(h), h.ID
	}
	frame := data.NewFrame("annotations",
		data.NewField("time", nil, start), data.NewField("timeEnd", nil, end),
		data.NewField("title", nil, title), data.NewField("text", nil, text),
		data.NewField("tags", nil, tags), data.NewField("id", nil, ids))
	frame.Meta = &data.FrameMeta{DataTopic: data.DataTopicAnnotations}
	return frame
}

// cmpString returns a unless it is empty, else b.
func cmpString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// annotationText describes a run in one line.
func annotationText(h *results.Header) string {
	parts := []string{h.ID, "status " + string(h.Status)}
	if h.Profile != "" {
		parts = append(parts, "profile "+h.Profile)
	}
	if h.Environment.Model != "" {
		parts = append(parts, "model "+h.Environment.Model)
	}
	for _, c := range []string{"requests", "success_rate", "ttft_p95", "output_throughput"} {
		if v, ok := summaryValue(&h.Summary, c); ok { // absent values are left out, not 0
			parts = append(parts, fmt.Sprintf("%s %.4g", c, v))
		}
	}
	return strings.Join(parts, ", ")
}

// annotationTags returns a run's tags, comma-separated as Grafana splits
// them.
func annotationTags(h *results.Header) string {
	tags := []string{"benchstation", string(h.Status)}
	if h.Profile != "" {
		tags = append(tags, h.Profile)
	}
	if l := formatLabels(h.Labels); l != "" {
		tags = append(tags, strings.Split(l, ", ")...)
	}
	return strings.Join(tags, ",")
}
