package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
)

// MaxCompareRuns bounds the runs of a compare query.
const MaxCompareRuns = 8

// CompareQuery is the model of a "compare" query:
//
//	{"queryType": "compare", "runIds": ["base", "new"],
//	 "thresholds": "ttft_p95=+10%,output_throughput=-5%"}
//
// The first run is the base of every other; Thresholds are written as the
// CLI's --threshold (report.ParseThresholds), report.DefaultThresholds when
// empty.
type CompareQuery struct {
	RunIDs     []string `json:"runIds"`
	Thresholds string   `json:"thresholds,omitempty"`
}

// check validates a compare query and returns its thresholds.
func (cq CompareQuery) check() ([]report.Threshold, error) {
	if n := len(cq.RunIDs); n < 2 || n > MaxCompareRuns {
		return nil, fmt.Errorf("runIds: between 2 and %d runs, got %d", MaxCompareRuns, n)
	}
	if cq.Thresholds == "" {
		return report.DefaultThresholds(), nil
	}
	ts, err := report.ParseThresholds(cq.Thresholds)
	if err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	return ts, nil
}

// queryCompare answers "compare" queries from the runs' headers.
func (d *Datasource) queryCompare(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		var cq CompareQuery
		if err := decodeQuery(q.JSON, &cq); err != nil {
			return badQuery(err)
		}
		ts, err := cq.check()
		if err != nil {
			return badQuery(err)
		}
		runs := make([]*results.Header, len(cq.RunIDs))
		for i, id := range cq.RunIDs {
			e, err := l.find(id)
			if err != nil {
				return docError(err)
			}
			runs[i] = e.Header
		}
		return backend.DataResponse{Frames: data.Frames{CompareFrame(runs, ts)}}
	})
}

// CompareFrame returns the comparison of runs[1:] with runs[0] as a table,
// one row per metric of report.CompareHeaders:
//
//	metric, unit                  string
//	<id>                          *float64, the value of each run
//	<id> change, <id> change %    *float64, absolute and relative change of
//	                              each later run vs the first
//	<id> verdict                  string: pass, fail, missing or ""
//
// Warnings and regressions of the comparisons are notices of the frame.
func CompareFrame(runs []*results.Header, ts []report.Threshold) *data.Frame {
	comps := make([]*report.Comparison, 0, len(runs)-1)
	var names []string
	for _, cur := range runs[1:] {
		c := report.CompareHeaders(runs[0], cur, ts)
		comps = append(comps, c)
		for _, r := range c.Rows {
			if !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
		}
	}
	units := make([]string, len(names))
	for i, n := range names {
		units[i] = UnitOf(n)
	}
	fields := []*data.Field{
		named(data.NewField("metric", nil, names), "Metric", ""),
		named(data.NewField("unit", nil, units), "Unit", ""),
	}
	fields = append(fields, compareValues(runs[0].ID, names, comps[0], func(r report.Row) *float64 { return r.Base }))
	for _, c := range comps {
		fields = append(fields, compareValues(c.New.ID, names, c, func(r report.Row) *float64 { return r.New }))
	}
	for _, c := range comps {
		fields = append(fields, compareColumns(names, c)...)
	}
	frame := data.NewFrame("compare", fields...)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, Notices: compareNotices(comps)}
	return frame
}

// rowOf returns the row of metric name in c.
func rowOf(c *report.Comparison, name string) (report.Row, bool) {
	for _, r := range c.Rows {
		if r.Name == name {
			return r, true
		}
	}
	return report.Row{}, false
}

// compareValues returns the column of one run's values.
func compareValues(id string, names []string, c *report.Comparison, pick func(report.Row) *float64) *data.Field {
	vals := make([]*float64, len(names))
	for i, n := range names {
		if r, ok := rowOf(c, n); ok {
			vals[i] = pick(r)
		}
	}
	return data.NewField(id, nil, vals)
}

// compareColumns returns the change and verdict columns of one comparison.
func compareColumns(names []string, c *report.Comparison) []*data.Field {
	delta, rel, verdict := make([]*float64, len(names)), make([]*float64, len(names)), make([]string, len(names))
	for i, n := range names {
		if r, ok := rowOf(c, n); ok {
			delta[i], rel[i], verdict[i] = r.Delta, r.Relative, string(r.Verdict)
		}
	}
	id := c.New.ID
	return []*data.Field{
		named(data.NewField(id+" change", nil, delta), id+" change", ""),
		named(data.NewField(id+" change %", nil, rel), id+" change %", UnitRatio),
		named(data.NewField(id+" verdict", nil, verdict), id+" verdict", ""),
	}
}

// compareNotices returns the warnings and regressions of comps.
func compareNotices(comps []*report.Comparison) []data.Notice {
	var out []data.Notice
	for _, c := range comps {
		for _, w := range c.Warnings {
			out = append(out, data.Notice{Severity: data.NoticeSeverityInfo, Text: c.New.ID + ": " + w})
		}
		if c.Regressed {
			out = append(out, data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("%s regressed vs %s: %s", c.New.ID, c.Base.ID, strings.Join(c.Reasons, "; "))})
		}
	}
	return out
}
