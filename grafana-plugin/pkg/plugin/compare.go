package plugin

import (
	"context"
	"errors"
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
		runs := make([]*results.Header, 0, len(cq.RunIDs))
		var notices []data.Notice
		for _, id := range cq.RunIDs {
			e, err := l.find(id)
			switch {
			case errors.Is(err, errUnresolved):
				notices = addNotice(notices, noticeOf(err))
				continue
			case err != nil:
				return docError(err)
			}
			runs = append(runs, e.Header)
		}
		return withNotices(data.Frames{CompareFrame(runs, ts)}, notices...)
	})
}

// CompareFrame returns the comparison of runs[1:] with runs[0] as a table,
// one row per metric of report.CompareHeaders:
//
//	metric, unit                  string; the unit as a person reads it
//	                              (UnitText: ms, %, req/s, tok/s)
//	<id>                          *float64, the value of each run, null
//	                              where the run has none (summaryValue);
//	                              ratios as percentages (0.98 is 98)
//	<id> change, <id> change %    *float64, absolute and relative change of
//	                              each later run vs the first, null where
//	                              either value is (percentage points for
//	                              ratios)
//	<id> verdict                  string: pass, fail, missing or ""
//
// Warnings and regressions of the comparisons are notices of the frame.
// One run (the other of "previous" and "latest" does not exist yet) gives
// the metrics and that run's values; no run gives metric and unit with no
// rows.
func CompareFrame(runs []*results.Header, ts []report.Threshold) *data.Frame {
	if len(runs) == 0 {
		frame := data.NewFrame("compare",
			named(data.NewField("metric", nil, []string{}), "Metric", ""),
			named(data.NewField("unit", nil, []string{}), "Unit", ""))
		frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
		return frame
	}
	comps := make([]*report.Comparison, 0, len(runs)-1)
	for _, cur := range runs[1:] {
		comps = append(comps, report.CompareHeaders(runs[0], cur, ts))
	}
	rows := comps
	if len(comps) == 0 { // one run: its own rows
		rows = []*report.Comparison{report.CompareHeaders(runs[0], runs[0], ts)}
	}
	var names []string
	for _, c := range rows {
		for _, r := range c.Rows {
			if !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
		}
	}
	units := make([]string, len(names))
	for i, n := range names {
		units[i] = UnitText(UnitOf(n))
	}
	fields := []*data.Field{
		named(data.NewField("metric", nil, names), "Metric", ""),
		named(data.NewField("unit", nil, units), "Unit", ""),
	}
	for _, h := range runs {
		fields = append(fields, compareValues(h, names))
	}
	for i, c := range comps {
		fields = append(fields, compareColumns(names, runs[0], runs[1+i], c)...)
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

// compareValues returns the column of one run's values, null where it has
// none.
func compareValues(h *results.Header, names []string) *data.Field {
	vals := make([]*float64, len(names))
	for i, n := range names {
		vals[i] = asShown(n, optionalValue(&h.Summary, n))
	}
	return data.NewField(h.ID, nil, vals)
}

// compareColumns returns the change and verdict columns of the comparison
// c of cur with base. A value either run lacks has no change, and its
// verdict is "missing" where a threshold names it.
func compareColumns(names []string, base, cur *results.Header, c *report.Comparison) []*data.Field {
	delta, rel, verdict := make([]*float64, len(names)), make([]*float64, len(names)), make([]string, len(names))
	for i, n := range names {
		r, ok := rowOf(c, n)
		if !ok {
			continue
		}
		delta[i], rel[i], verdict[i] = asShown(n, r.Delta), r.Relative, string(r.Verdict)
		if optionalValue(&base.Summary, n) == nil || optionalValue(&cur.Summary, n) == nil {
			delta[i], rel[i] = nil, nil
			if r.Threshold != nil {
				verdict[i] = string(report.VerdictMissing)
			}
		}
	}
	id := cur.ID
	return []*data.Field{
		named(data.NewField(id+" change", nil, delta), id+" change", ""),
		named(data.NewField(id+" change %", nil, rel), id+" change %", UnitRatio),
		named(data.NewField(id+" verdict", nil, verdict), id+" verdict", ""),
	}
}

// asShown returns the value of metric name as the comparison shows it
// beside its UnitText: a ratio as a percentage. nil stays nil.
func asShown(name string, v *float64) *float64 {
	if v == nil || UnitOf(name) != UnitRatio {
		return v
	}
	pct := *v * 100
	return &pct
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
