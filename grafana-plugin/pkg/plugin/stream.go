package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// DefaultStreamInterval is how often RunStream sends a running run's
// progress.
const DefaultStreamInterval = 500 * time.Millisecond

// LiveQuery is the model of a "live" query:
//
//	{"queryType": "live", "runId": "20261127T101500Z-1a2b3c"}
//
// It returns the run's progress now, in a frame whose Meta.Channel
// ("ds/<datasource uid>/runs/<id>") makes the panel follow the run.
type LiveQuery struct {
	RunID string `json:"runId"`
}

// ProgressFrame returns the frame of one progress message: one row, with
// the fields time, done, total, in_flight, errors, requests_per_second,
// output_tokens_per_second, ttft_p50_ms and ttft_p95_ms, and for a batch
// run batch_status. in_flight, output_tokens_per_second and the TTFTs are
// nullable: null when not measured (before the first request, and for a
// batch run, whose done and errors are the server's counts).
func ProgressFrame(p RunProgress) *data.Frame {
	f := data.NewFrame("progress",
		data.NewField("time", nil, []time.Time{p.Time}),
		data.NewField("done", nil, []int64{p.Done}),
		data.NewField("total", nil, []int64{p.Total}),
		data.NewField("in_flight", nil, []*int64{p.InFlight}),
		data.NewField("errors", nil, []int64{p.Errors}),
		named(data.NewField("requests_per_second", nil, []float64{p.RequestsPerSecond}), "Requests per second", "reqps"),
		named(data.NewField("output_tokens_per_second", nil, []*float64{p.OutputTokensPerSecond}), "Output tokens per second", "none"),
		named(data.NewField("ttft_p50_ms", nil, []*float64{p.TTFTP50Ms}), "TTFT p50", "ms"),
		named(data.NewField("ttft_p95_ms", nil, []*float64{p.TTFTP95Ms}), "TTFT p95", "ms"),
	)
	if p.Batch {
		f.Fields = append(f.Fields, named(data.NewField("batch_status", nil, []string{p.BatchStatus}), "Batch status", ""))
	}
	return f
}

// progressOf returns the progress of the run with the given id: a run of
// this instance, or a finished run's document; ok is false for neither.
func (d *Datasource) progressOf(id string) (p RunProgress, run *liveRun, ok bool) {
	if r, found := d.runs.get(id); found {
		return r.snapshot(), r, true
	}
	if d.configErr != nil {
		return RunProgress{}, nil, false
	}
	h, err := d.findHeader(id)
	if err != nil || h == nil {
		return RunProgress{}, nil, false
	}
	return headerProgress(h, time.Now()), nil, true
}

// SubscribeStream allows the channels runs/<id> of known runs.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	id, err := ParseRunChannelPath(req.Path)
	if err != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	if _, _, ok := d.progressOf(id); !ok {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses every publication: only the plugin sends progress.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream sends the progress of the run of req.Path every
// DefaultStreamInterval while it runs, then its final frame, and returns
// nil; for a finished run it sends the final frame once.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	id, err := ParseRunChannelPath(req.Path)
	if err != nil {
		return err
	}
	p, run, ok := d.progressOf(id)
	if !ok { // an error would make Grafana retry at once: end instead
		d.logger.Warn("A stream of an unknown run ended", "path", req.Path)
		return nil
	}
	if run == nil || run.ended() {
		return d.sendProgress(sender, p)
	}
	tick := time.NewTicker(d.streamInterval)
	defer tick.Stop()
	for {
		if err := d.sendProgress(sender, run.snapshot()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-run.doneCh:
			return d.sendProgress(sender, run.snapshot())
		case <-tick.C:
		}
	}
}

// sendProgress sends one progress frame, scrubbed of the settings'
// credentials.
func (d *Datasource) sendProgress(sender *backend.StreamSender, p RunProgress) error {
	f := ProgressFrame(p)
	scrubFrames(d.red, data.Frames{f})
	if err := sender.SendFrame(f, data.IncludeAll); err != nil {
		return fmt.Errorf("sending the progress of run %s: %w", p.ID, err)
	}
	return nil
}

// queryLive answers "live" queries.
func (d *Datasource) queryLive(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	uid := ""
	if s := req.PluginContext.DataSourceInstanceSettings; s != nil {
		uid = s.UID
	}
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.liveResponse(q, uid)
	}
	return resp, nil
}

// liveResponse answers one "live" query.
func (d *Datasource) liveResponse(q backend.DataQuery, uid string) backend.DataResponse {
	var lq LiveQuery
	if err := decodeQuery(q.JSON, &lq); err != nil {
		return badQuery(err)
	}
	if err := CheckRunID(lq.RunID); err != nil {
		return badQuery(fmt.Errorf("runId: %w", err))
	}
	id, err := d.resolveLive(lq.RunID)
	if errors.Is(err, errUnresolved) { // no run yet: nothing to follow, and no error
		return withNotices(data.Frames{ProgressFrame(RunProgress{}).EmptyCopy()}, noticeOf(err))
	}
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream, "runId: "+err.Error())
	}
	lq.RunID = id
	if uid == "" {
		return badQuery(fmt.Errorf("the request names no data source uid"))
	}
	p, _, ok := d.progressOf(lq.RunID)
	if !ok {
		return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream,
			fmt.Sprintf("runId: no run with id %q", lq.RunID))
	}
	f := ProgressFrame(p)
	f.SetMeta(&data.FrameMeta{Channel: "ds/" + uid + "/" + RunChannelPath(lq.RunID)})
	return backend.DataResponse{Frames: data.Frames{f}}
}
