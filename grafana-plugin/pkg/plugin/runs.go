package plugin

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// Grafana unit ids of the frames' fields.
const (
	UnitMilliseconds = "ms"
	UnitSeconds      = "s"
	UnitRatio        = "percentunit" // 0–1, shown as a percentage
	UnitRequestsPerS = "reqps"
	UnitTokensPerS   = "suffix: tok/s"
)

// numericColumn is a summary value shown as a column of the runs table.
type numericColumn struct {
	value   string // the stats.Summary.Value name, also the field name
	display string
}

// runsNumericColumns are the summary values of the runs table, in order.
func runsNumericColumns() []numericColumn {
	return []numericColumn{
		{"requests", "Requests"},
		{"success_rate", "Success rate"},
		{"request_throughput", "Request throughput"},
		{"output_throughput", "Output throughput"},
		{"ttft_p50", "TTFT p50"},
		{"ttft_p95", "TTFT p95"},
		{"e2el_p95", "E2EL p95"},
	}
}

// UnitOf returns the Grafana unit of a summary value name (see
// stats.Summary.Value), or "" for plain numbers.
func UnitOf(name string) string {
	if strings.HasSuffix(name, "_count") {
		return ""
	}
	for _, m := range append(stats.Metrics(), "failed_e2el") {
		if strings.HasPrefix(name, string(m)+"_") || name == string(m)+"_median" {
			return UnitMilliseconds
		}
	}
	switch name {
	case "success_rate", "error_rate", "slo_attainment":
		return UnitRatio
	case "request_throughput", "goodput", "request_rate", "requested_request_rate":
		return UnitRequestsPerS
	case "output_throughput", "total_token_throughput":
		return UnitTokensPerS
	case "duration_s":
		return UnitSeconds
	}
	return ""
}

// UnitText returns what a person reads for a Grafana unit id of UnitOf:
// "%" for ratios (whose values CompareFrame shows as percentages), "req/s",
// "tok/s", "ms", "s"; "" for plain numbers.
func UnitText(unit string) string {
	switch unit {
	case UnitRatio:
		return "%"
	case UnitRequestsPerS:
		return "req/s"
	case UnitTokensPerS:
		return "tok/s"
	}
	return unit
}

// queryRuns answers "runs" queries.
func (d *Datasource) queryRuns(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		runs, err := selectRuns(q, l)
		if err != nil {
			return badQuery(err)
		}
		return withNotices(data.Frames{RunsFrame(runs)}, l.notices()...)
	})
}

// RunsFrame returns the table of runs, one row per run in the order given:
//
//	time (start), end            time
//	start_ms, end_ms             int64, the start and end as Unix epoch
//	                             milliseconds, for data links to the run's
//	                             own time range (${__data.fields.start_ms});
//	                             end_ms is start_ms when the end is unknown
//	                             or before the start; the frame's last
//	                             fields, hidden from tables (hideFrom.viz)
//	id, name, labels, profile,   string (labels as "k=v, k=v", sorted)
//	model, status
//	simulated                    bool
//	client_saturated             bool: the bencher itself was the
//	                             bottleneck, its latencies read high
//	requests, success_rate,      *float64, with units (see UnitOf); null
//	request_throughput,          where the run has no such value (a run
//	output_throughput,           without measurements has no rates, no
//	ttft_p50, ttft_p95, e2el_p95 successful request no latencies; a
//	                             batch-api run has no TTFT)
//	mode                         string: online, or batch-api (the run was
//	                             one Batch API job)
//	makespan_s,                  *float64 (s): a batch-api run's time from
//	to_in_progress_s             its batch's creation to its end, and to
//	                             in_progress; null for online runs
//
// Every field has one value per run, so no runs give fields of length 0.
func RunsFrame(runs []*results.Header) *data.Frame {
	n := len(runs)
	start, end := make([]time.Time, n), make([]time.Time, n)
	startMS, endMS := make([]int64, n), make([]int64, n)
	text := [6][]string{}
	for i := range text {
		text[i] = make([]string, n)
	}
	simulated, saturated := make([]bool, n), make([]bool, n)
	cols := runsNumericColumns()
	nums := make([][]*float64, len(cols))
	for i := range nums {
		nums[i] = make([]*float64, n)
	}
	for r, h := range runs {
		start[r], end[r] = h.Environment.StartTime.UTC(), h.Environment.EndTime.UTC()
		startMS[r], endMS[r] = start[r].UnixMilli(), end[r].UnixMilli()
		if end[r].Before(start[r]) {
			endMS[r] = startMS[r]
		}
		for i, s := range []string{h.ID, h.Name, formatLabels(h.Labels), h.Profile, h.Environment.Model, string(h.Status)} {
			text[i][r] = s
		}
		simulated[r], saturated[r] = h.Environment.Simulated, h.ClientSaturated()
		for i, c := range cols {
			nums[i][r] = optionalValue(&h.Summary, c.value)
		}
	}
	fields := []*data.Field{
		named(data.NewField("time", nil, start), "Start", ""),
		named(data.NewField("end", nil, end), "End", ""),
	}
	for i, name := range []string{"id", "name", "labels", "profile", "model", "status"} {
		fields = append(fields, named(data.NewField(name, nil, text[i]), titleCase(name), ""))
	}
	fields = append(fields, named(data.NewField("simulated", nil, simulated), "Simulated", ""),
		named(data.NewField("client_saturated", nil, saturated), "Client saturated", ""))
	for i, c := range cols {
		fields = append(fields, named(data.NewField(c.value, nil, nums[i]), c.display, UnitOf(c.value)))
	}
	fields = append(fields, batchFields(runs)...)
	// Last and hidden: they are for data links, and a table (Explore's
	// shows 20 columns) would spend two columns on them.
	fields = append(fields, linkOnly(named(data.NewField("start_ms", nil, startMS), "Start (ms)", "")),
		linkOnly(named(data.NewField("end_ms", nil, endMS), "End (ms)", "")))
	frame := data.NewFrame("runs", fields...)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// named sets a field's display name and unit.
func named(f *data.Field, display, unit string) *data.Field {
	return f.SetConfig(&data.FieldConfig{DisplayNameFromDS: display, Unit: unit})
}

// linkOnly hides a field from the visualisation (a table's columns), as
// the dashboards' overrides do, keeping it for data links.
func linkOnly(f *data.Field) *data.Field {
	f.Config.Custom = map[string]any{"hideFrom": map[string]any{"viz": true, "legend": false, "tooltip": false}}
	return f
}

// titleCase upper-cases a field name's first letter ("id" is "ID").
func titleCase(s string) string {
	if s == "id" {
		return "ID"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formatLabels writes labels as "k=v, k=v", sorted by key.
func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, labels[k]))
	}
	return strings.Join(parts, ", ")
}

// batchFields are the runs table's columns of the mode and the batch job.
func batchFields(runs []*results.Header) []*data.Field {
	n := len(runs)
	mode := make([]string, n)
	makespan, toRun := make([]*float64, n), make([]*float64, n)
	for r, h := range runs {
		mode[r] = ModeOnline
		if b := h.Batch; b != nil {
			mode[r], makespan[r], toRun[r] = ModeBatchAPI, b.MakespanS, b.ToInProgressS
		}
	}
	return []*data.Field{
		named(data.NewField("mode", nil, mode), "Mode", ""),
		named(data.NewField("makespan_s", nil, makespan), "Makespan", UnitSeconds),
		named(data.NewField("to_in_progress_s", nil, toRun), "Time to in_progress", UnitSeconds),
	}
}
