package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// MinBucket is the smallest default bucket of a run query.
const MinBucket = 100 * time.Millisecond

// RunQuery is the model of a "run" query:
//
//	{"queryType": "run", "runId": "20261120T100000Z-aaaaa1", "bucket": "1s"}
//
// Bucket is a Go duration; by default the run's length / 100, at least
// MinBucket.
type RunQuery struct {
	RunID  string `json:"runId"`
	Bucket string `json:"bucket,omitempty"`
}

// DistributionQuery is the model of a "distribution" query:
//
//	{"queryType": "distribution", "runId": "…", "metric": "ttft",
//	 "kind": "histogram", "buckets": 30}
//
// RunIDs (one or two runs) may replace RunID; each run gives its own frame,
// named by the run. Metric is ttft, itl, e2el or tpot; Kind is histogram
// (default) or cdf; Buckets is the number of histogram buckets (default
// DefaultHistogramBuckets) or the most points of a CDF (default
// DefaultCDFPoints).
type DistributionQuery struct {
	RunID   string   `json:"runId,omitempty"`
	RunIDs  []string `json:"runIds,omitempty"`
	Metric  string   `json:"metric"`
	Kind    string   `json:"kind,omitempty"`
	Buckets int      `json:"buckets,omitempty"`
}

// Defaults of a distribution query.
const (
	DefaultHistogramBuckets = 30
	DefaultCDFPoints        = 200
	MaxDistributionBuckets  = 1000
)

// queryRun answers "run" queries.
func (d *Datasource) queryRun(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		var rq RunQuery
		if err := decodeQuery(q.JSON, &rq); err != nil {
			return badQuery(err)
		}
		var width time.Duration
		if rq.Bucket != "" {
			w, err := time.ParseDuration(rq.Bucket)
			if err != nil || w <= 0 {
				return badQuery(fmt.Errorf("bucket: %q is not a positive duration such as 1s or 500ms", rq.Bucket))
			}
			width = w
		}
		doc, err := d.document(l, rq.RunID)
		if err != nil {
			return docError(err)
		}
		frame, err := RunFrame(doc, width)
		if err != nil {
			return badQuery(err)
		}
		return backend.DataResponse{Frames: data.Frames{frame}}
	})
}

// docError is the response of a query whose run cannot be read.
func docError(err error) backend.DataResponse {
	if errors.Is(err, errNoRunID) {
		return badQuery(err)
	}
	return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream, err.Error())
}

// defaultBucket returns the bucket width of a run: its length / 100, at
// least MinBucket.
func defaultBucket(doc *results.Document) time.Duration {
	var last time.Duration
	for i := range doc.Records {
		last = max(last, doc.Records[i].End)
	}
	return max(MinBucket, (last / 100).Round(time.Millisecond))
}

// RunFrame returns one run over time in buckets of width (0: defaultBucket),
// a wide time series:
//
//	time                      time, the run's start + the bucket's end
//	in_flight                 int64, requests in flight
//	completions_per_second    float64 (reqps), successful completions
//	failures_per_second       float64 (reqps)
//	output_tokens_per_second  float64 (tok/s)
//	ttft_p50, ttft_p95,       *float64 (ms), null where no request
//	e2el_p50, e2el_p95        completed in the bucket
func RunFrame(doc *results.Document, width time.Duration) (*data.Frame, error) {
	if width <= 0 {
		width = defaultBucket(doc)
	}
	buckets, err := stats.Series(doc.Records, width)
	if err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	n := len(buckets)
	times, inFlight := make([]time.Time, n), make([]int64, n)
	rates := [3][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	pcts := [4][]*float64{make([]*float64, n), make([]*float64, n), make([]*float64, n), make([]*float64, n)}
	start := doc.Environment.StartTime.UTC()
	for i, b := range buckets {
		secs := (b.End - b.Start).Seconds()
		times[i], inFlight[i] = start.Add(b.End), int64(b.InFlight)
		rates[0][i], rates[1][i] = float64(b.Completed)/secs, float64(b.Failed)/secs
		rates[2][i] = b.OutputTokensPerSecond
		pcts[0][i], pcts[1][i], pcts[2][i], pcts[3][i] = b.TTFTP50, b.TTFTP95, b.E2ELP50, b.E2ELP95
	}
	frame := data.NewFrame(doc.ID,
		named(data.NewField("time", nil, times), "Time", ""),
		named(data.NewField("in_flight", nil, inFlight), "In flight", ""),
		named(data.NewField("completions_per_second", nil, rates[0]), "Completions/s", UnitRequestsPerS),
		named(data.NewField("failures_per_second", nil, rates[1]), "Failures/s", UnitRequestsPerS),
		named(data.NewField("output_tokens_per_second", nil, rates[2]), "Output tokens/s", UnitTokensPerS),
		named(data.NewField("ttft_p50", nil, pcts[0]), "TTFT p50", UnitMilliseconds),
		named(data.NewField("ttft_p95", nil, pcts[1]), "TTFT p95", UnitMilliseconds),
		named(data.NewField("e2el_p50", nil, pcts[2]), "E2EL p50", UnitMilliseconds),
		named(data.NewField("e2el_p95", nil, pcts[3]), "E2EL p95", UnitMilliseconds),
	)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1},
		PreferredVisualization: data.VisTypeGraph}
	return frame, nil
}

// distributionMetrics are the metrics of a distribution query.
func distributionMetrics() []stats.Metric {
	return []stats.Metric{stats.MetricTTFT, stats.MetricITL, stats.MetricE2EL, stats.MetricTPOT}
}

// check validates a distribution query and returns its run ids.
func (dq *DistributionQuery) check() ([]string, error) {
	ids := dq.RunIDs
	switch {
	case dq.RunID != "" && len(ids) > 0:
		return nil, errors.New("runId and runIds: give one of them")
	case dq.RunID != "":
		ids = []string{dq.RunID}
	case len(ids) == 0:
		return nil, errNoRunID
	case len(ids) > 2:
		return nil, fmt.Errorf("runIds: at most two runs, got %d", len(ids))
	}
	if !slices.Contains(distributionMetrics(), stats.Metric(dq.Metric)) {
		return nil, fmt.Errorf("metric: %q is not one of ttft, itl, e2el and tpot", dq.Metric)
	}
	switch dq.Kind {
	case "":
		dq.Kind = "histogram"
	case "histogram", "cdf":
	default:
		return nil, fmt.Errorf("kind: %q is not histogram or cdf", dq.Kind)
	}
	if dq.Buckets < 0 || dq.Buckets > MaxDistributionBuckets {
		return nil, fmt.Errorf("buckets: must be between 1 and %d, got %d", MaxDistributionBuckets, dq.Buckets)
	}
	return ids, nil
}

// queryDistribution answers "distribution" queries.
func (d *Datasource) queryDistribution(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.each(ctx, req, func(q backend.DataQuery, l *listing) backend.DataResponse {
		var dq DistributionQuery
		if err := decodeQuery(q.JSON, &dq); err != nil {
			return badQuery(err)
		}
		ids, err := dq.check()
		if err != nil {
			return badQuery(err)
		}
		docs := make([]*results.Document, len(ids))
		for i, id := range ids {
			if docs[i], err = d.document(l, id); err != nil {
				return docError(err)
			}
		}
		if dq.Kind == "cdf" {
			return backend.DataResponse{Frames: CDFFrames(docs, stats.Metric(dq.Metric), cmpInt(dq.Buckets, DefaultCDFPoints))}
		}
		return backend.DataResponse{Frames: HistogramFrames(docs, stats.Metric(dq.Metric), cmpInt(dq.Buckets, DefaultHistogramBuckets))}
	})
}

// cmpInt returns a unless it is 0, else b.
func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// HistogramFrames returns one histogram frame per run of metric, in the
// format of Grafana's histogram panel: float64 fields xMin and xMax (ms,
// bucket bounds) and count (int64), one row per bucket, frame named by the
// run id. The buckets are n equal slices between the smallest and largest
// value over all runs, so that two runs share their buckets; a run without
// values gives a frame of length 0.
func HistogramFrames(docs []*results.Document, metric stats.Metric, n int) data.Frames {
	values := make([][]float64, len(docs))
	lo, hi, first := 0.0, 0.0, true
	for i, doc := range docs {
		values[i] = stats.Latencies(doc.Records, metric)
		for _, v := range values[i] {
			if first {
				lo, hi, first = v, v, false
			}
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	edges := stats.LinearEdges(lo, hi, n)
	if hi <= lo {
		edges = nil
	}
	frames := make(data.Frames, 0, len(docs))
	for i, doc := range docs {
		var xMin, xMax []float64
		var count []int64
		if h, err := stats.NewHistogram(values[i], edges); err == nil {
			for b, c := range h.Counts {
				xMin, xMax, count = append(xMin, h.Edges[b]), append(xMax, h.Edges[b+1]), append(count, int64(c))
			}
		} else if len(values[i]) > 0 { // every value equal: one bucket
			xMin, xMax, count = []float64{lo}, []float64{lo}, []int64{int64(len(values[i]))}
		}
		frames = append(frames, histogramFrame(doc.ID, metric, xMin, xMax, count))
	}
	return frames
}

// histogramFrame returns the histogram frame of one run.
func histogramFrame(id string, metric stats.Metric, xMin, xMax []float64, count []int64) *data.Frame {
	unit := data.FieldConfig{Unit: UnitMilliseconds}
	frame := data.NewFrame(id,
		data.NewField("xMin", nil, nonNil(xMin)).SetConfig(&unit),
		data.NewField("xMax", nil, nonNil(xMax)).SetConfig(&unit),
		data.NewField("count", nil, nonNil(count)).SetConfig(&data.FieldConfig{DisplayNameFromDS: id}),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: "histogram",
		Custom: map[string]any{"metric": string(metric), "runId": id}}
	return frame
}

// nonNil returns s, or an empty slice for nil (a field needs a typed
// slice).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CDFFrames returns one CDF frame per run of metric: float64 fields
// latency (ms) and fraction (0–1, cumulative), at most points rows, frame
// named by the run id.
func CDFFrames(docs []*results.Document, metric stats.Metric, points int) data.Frames {
	frames := make(data.Frames, 0, len(docs))
	for _, doc := range docs {
		values := stats.Latencies(doc.Records, metric)
		slices.Sort(values)
		cdf := stats.CDF(values, points)
		latency, fraction := make([]float64, len(cdf)), make([]float64, len(cdf))
		for i, p := range cdf {
			latency[i], fraction[i] = p.Value, p.Fraction
		}
		frame := data.NewFrame(doc.ID,
			named(data.NewField("latency", nil, latency), string(metric)+" (ms)", UnitMilliseconds),
			named(data.NewField("fraction", nil, fraction), doc.ID, UnitRatio),
		)
		frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeGraph,
			Custom: map[string]any{"metric": string(metric), "runId": doc.ID}}
		frames = append(frames, frame)
	}
	return frames
}
