package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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
// RunIDs (one or two runs) may replace RunID: a histogram is one frame
// with one count field per run (HistogramFrame), a CDF one frame per run
// (CDFFrames). Metric is ttft, itl, e2el or tpot; Kind is histogram
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
		if errors.Is(err, errUnresolved) {
			return withNotices(data.Frames{emptyRunFrame()}, noticeOf(err))
		}
		if err != nil {
			return docError(err)
		}
		frame, err := RunFrame(doc, width)
		if err != nil {
			return badQuery(err)
		}
		return withNotices(data.Frames{frame}, saturationNotices(&doc.Header)...)
	})
}

// saturationNotices returns a warning for a run whose client was
// saturated: its latencies read high, and the reasons say why.
func saturationNotices(h *results.Header) []data.Notice {
	if !h.ClientSaturated() {
		return nil
	}
	return []data.Notice{{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf(
		"run %s: the bencher itself was saturated (%s), so its latencies read high; "+
			"give the client its own cores or fewer streams and run again", h.ID, strings.Join(h.Client.Reasons, ", "))}}
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
	return runFrame(doc.ID, times, inFlight, rates, pcts), nil
}

// emptyRunFrame is the frame of RunFrame without a run: its fields, with
// no rows.
func emptyRunFrame() *data.Frame {
	return runFrame("run", []time.Time{}, []int64{},
		[3][]float64{{}, {}, {}}, [4][]*float64{{}, {}, {}, {}})
}

// runFrame builds the frame of RunFrame from its columns.
func runFrame(name string, times []time.Time, inFlight []int64, rates [3][]float64, pcts [4][]*float64) *data.Frame {
	frame := data.NewFrame(name,
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
	return frame
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
		docs := make([]*results.Document, 0, len(ids))
		var notices []data.Notice
		for _, id := range ids {
			doc, err := d.document(l, id)
			switch {
			case errors.Is(err, errUnresolved):
				notices = addNotice(notices, noticeOf(err))
				continue
			case err != nil:
				return docError(err)
			}
			docs = append(docs, doc)
		}
		metric := stats.Metric(dq.Metric)
		if dq.Kind == "cdf" {
			return withNotices(CDFFrames(docs, metric, cmpInt(dq.Buckets, DefaultCDFPoints)), notices...)
		}
		return withNotices(data.Frames{HistogramFrame(docs, metric, cmpInt(dq.Buckets, DefaultHistogramBuckets))}, notices...)
	})
}

// cmpInt returns a unless it is 0, else b.
func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// HistogramFrame returns the histograms of metric of one or two runs as
// one frame named "histogram", in the format of Grafana's histogram panel,
// which reads pre-bucketed data only from a response of one frame:
//
//	xMin, xMax   float64 (ms), the bounds of the buckets the runs share
//	<run id>     int64, the count of one run per bucket, one field per run
//	             in the order given, named (and displayed) by the run id
//
// one row per bucket. The buckets are n equal slices between the smallest
// and largest value over all runs; when every value is the same, one
// bucket holds them, ±1% of the value (at least ±0.5 ms, never below 0
// for values that are not) so that the panel draws it. Without values the fields have length 0.
// Meta.Custom holds the metric and the run ids (runIds).
func HistogramFrame(docs []*results.Document, metric stats.Metric, n int) *data.Frame {
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
	var xMin, xMax []float64
	counts := make([][]int64, len(docs))
	switch edges := stats.LinearEdges(lo, hi, n); {
	case edges != nil:
		xMin, xMax = slices.Clone(edges[:len(edges)-1]), slices.Clone(edges[1:])
		for i := range docs {
			h, _ := stats.NewHistogram(values[i], edges) // the edges are valid
			for _, c := range h.Counts {
				counts[i] = append(counts[i], int64(c))
			}
		}
	case !first: // every value equal: one bucket around it, wide enough to draw
		half := max(math.Abs(lo)*0.01, 0.5)
		xMin, xMax = []float64{max(lo-half, min(lo, 0))}, []float64{lo + half}
		for i := range docs {
			counts[i] = []int64{int64(len(values[i]))}
		}
	}
	unit := data.FieldConfig{Unit: UnitMilliseconds}
	fields := []*data.Field{
		data.NewField("xMin", nil, nonNil(xMin)).SetConfig(&unit),
		data.NewField("xMax", nil, nonNil(xMax)).SetConfig(&unit),
	}
	ids := make([]string, len(docs))
	for i, doc := range docs {
		ids[i] = doc.ID
		fields = append(fields, data.NewField(doc.ID, nil, nonNil(counts[i])).
			SetConfig(&data.FieldConfig{DisplayNameFromDS: doc.ID}))
	}
	frame := data.NewFrame("histogram", fields...)
	frame.Meta = &data.FrameMeta{PreferredVisualization: "histogram",
		Custom: map[string]any{"metric": string(metric), "runIds": ids}}
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
// named by the run id. Without runs it returns one frame "cdf" of these
// fields with no rows.
func CDFFrames(docs []*results.Document, metric stats.Metric, points int) data.Frames {
	if len(docs) == 0 {
		return data.Frames{cdfFrame("cdf", "", metric, []float64{}, []float64{})}
	}
	frames := make(data.Frames, 0, len(docs))
	for _, doc := range docs {
		values := stats.Latencies(doc.Records, metric)
		slices.Sort(values)
		cdf := stats.CDF(values, points)
		latency, fraction := make([]float64, len(cdf)), make([]float64, len(cdf))
		for i, p := range cdf {
			latency[i], fraction[i] = p.Value, p.Fraction
		}
		frames = append(frames, cdfFrame(doc.ID, doc.ID, metric, latency, fraction))
	}
	return frames
}

// cdfFrame returns a CDF frame of the run id ("": none).
func cdfFrame(name, id string, metric stats.Metric, latency, fraction []float64) *data.Frame {
	frame := data.NewFrame(name,
		named(data.NewField("latency", nil, latency), string(metric)+" (ms)", UnitMilliseconds),
		named(data.NewField("fraction", nil, fraction), cmpString(id, "fraction"), UnitRatio),
	)
	custom := map[string]any{"metric": string(metric)}
	if id != "" {
		custom["runId"] = id
	}
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeGraph, Custom: custom}
	return frame
}
