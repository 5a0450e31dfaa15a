package plugin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// LabelProfile is the label that tells the series of a trend apart.
const LabelProfile = "profile"

// queryTrend answers "trend" queries.
func (d *Datasource) queryTrend(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		var tq TrendQuery
		if err := decodeQuery(q.JSON, &tq); err != nil {
			return badQuery(err)
		}
		if err := checkValueName(tq.Value); err != nil {
			return badQuery(err)
		}
		m, err := tq.compile(q.TimeRange)
		if err != nil {
			return badQuery(err)
		}
		var runs []*results.Header
		for _, h := range l.runs {
			// A run that did not complete is no point of a trend unless
			// the filter asks for its status.
			if m.match(h, false) && (h.Completed() || m.status != "") {
				runs = append(runs, h)
			}
		}
		return withNotices(TrendFrames(runs, tq.Value), l.notices()...)
	})
}

// checkValueName checks the value of a trend query.
func checkValueName(name string) error {
	switch {
	case name == "":
		return errors.New("value: required (a summary value such as ttft_p95, e2el_p95 or output_throughput)")
	case !stats.IsValueName(name):
		return fmt.Errorf("value: %q is not a summary value (such as ttft_p95, e2el_p95 or output_throughput)", name)
	}
	return nil
}

// TrendFrames returns the time series of the summary value name over runs
// (in start order), one frame per profile in the dataplane "timeseries-multi"
// format that alert rules read: a time field (the runs' starts) and a
// float64 field named name, with the label profile=<profile> (ProfileCustom
// for runs without one) and the unit of UnitOf. Runs without measured
// requests and runs whose summary lacks the value (see summaryValue: a run
// without a successful request has no latency) are left out, so that an
// empty run never reads as 0. With no points it returns one frame of that
// schema with fields of length 0.
func TrendFrames(runs []*results.Header, name string) data.Frames {
	type series struct {
		times  []time.Time
		values []float64
	}
	byProfile := map[string]*series{}
	for _, h := range runs {
		if h.Summary.Requests == 0 {
			continue
		}
		v, ok := summaryValue(&h.Summary, name)
		if !ok {
			continue
		}
		p := profileKey(h)
		s := byProfile[p]
		if s == nil {
			s = &series{}
			byProfile[p] = s
		}
		s.times = append(s.times, h.Environment.StartTime.UTC())
		s.values = append(s.values, v)
	}
	if len(byProfile) == 0 {
		return data.Frames{trendFrame(name, nil, []time.Time{}, []float64{})}
	}
	frames := make(data.Frames, 0, len(byProfile))
	for _, p := range slices.Sorted(maps.Keys(byProfile)) {
		s := byProfile[p]
		frames = append(frames, trendFrame(name, data.Labels{LabelProfile: p}, s.times, s.values))
	}
	return frames
}

// trendFrame returns one series of a trend.
func trendFrame(name string, labels data.Labels, times []time.Time, values []float64) *data.Frame {
	value := data.NewField(name, labels, values)
	if unit := UnitOf(name); unit != "" {
		value.SetConfig(&data.FieldConfig{Unit: unit})
	}
	frame := data.NewFrame(name, data.NewField("time", nil, times), value)
	frame.Meta = &data.FrameMeta{
		Type:        data.FrameTypeTimeSeriesMulti,
		TypeVersion: data.FrameTypeVersion{0, 1},
	}
	return frame
}
