package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/workload"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// resourceSender keeps the response of a CallResource call.
type resourceSender struct {
	resp *backend.CallResourceResponse
}

// Send keeps resp.
func (s *resourceSender) Send(resp *backend.CallResourceResponse) error {
	s.resp = resp
	return nil
}

// call sends one resource request as the given role ("" for no user) and
// returns the status and body.
func call(t *testing.T, ds *plugin.Datasource, role, method, path, body string) (int, string) {
	t.Helper()
	pc := backend.PluginContext{PluginID: plugin.PluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bench-uid"}}
	if role != "" {
		pc.User = &backend.User{Login: "u", Role: role}
	}
	s := &resourceSender{}
	err := ds.CallResource(context.Background(), &backend.CallResourceRequest{PluginContext: pc,
		Method: method, Path: path, URL: path, Body: []byte(body)}, s)
	require.NoError(t, err)
	require.NotNil(t, s.resp)
	return s.resp.Status, string(s.resp.Body)
}

// errorOf returns the error message of an error body.
func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error
}

// simDatasource returns an instance over dir whose runs without a target
// use a fast simulator (3 ms per decode step).
func simDatasource(t *testing.T, dir string, jsonData map[string]any, logger plugintest.Logger) *plugin.Datasource {
	t.Helper()
	jsonData["resultsDir"] = dir
	ds := plugin.New(instanceSettings(t, jsonData, map[string]string{"apiKey": testAPIKey}),
		plugin.WithLogger(logger), plugin.WithSimulatorOptions(sim.WithDecodeTime(3*time.Millisecond, 0)),
		plugin.WithStreamInterval(20*time.Millisecond))
	_, err := ds.Settings()
	require.NoError(t, err)
	t.Cleanup(ds.Dispose)
	return ds
}

func TestStartValidation(t *testing.T) {
	ds := simDatasource(t, t.TempDir(), map[string]any{"allowedHosts": []string{"allowed.example"}}, plugintest.NewLogger())
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"not json", `{`, 400, "body: not a valid JSON object: unexpected EOF"},
		{"unknown field", `{"requests": 1, "concurrency": 1, "bogus": 1}`, 400, `unknown field "bogus"`},
		{"requests type", `{"requests": "x"}`, 400, "requests: must be an integer, not a JSON string"},
		{"no bound", `{"concurrency": 1}`, 400, "requests: give requests or duration"},
		{"both bounds", `{"concurrency": 1, "requests": 5, "duration": "5s"}`, 400, "duration: give requests or duration, not both"},
		{"negative requests", `{"concurrency": 1, "requests": -1}`, 400, "requests: must be between 1 and 1000000, got -1"},
		{"bad duration", `{"concurrency": 1, "duration": "soon"}`, 400, `duration: must be a duration such as "30s" or "5m", at most 24h0m0s, got "soon"`},
		{"no load", `{"requests": 5}`, 400, "profile: give a profile, a concurrency or a rate"},
		{"unknown profile", `{"requests": 5, "profile": "fast"}`, 400, `profile: unknown profile "fast" (known: high-parallelism, inngest-style, batch-api)`},
		{"profile and concurrency", `{"requests": 5, "profile": "inngest-style", "concurrency": 3}`, 400, "profile: give a profile or concurrency/rate, not both"},
		{"batch by duration", `{"duration": "30s", "profile": "batch-api"}`, 400, "duration: the batch-api profile runs a fixed number of requests as one batch: give requests"},
		{"negative concurrency", `{"requests": 5, "concurrency": -2}`, 400, "concurrency: must be between 1 and 10000, got -2"},
		{"negative rate", `{"requests": 5, "rate": -1}`, 400, "rate: must be a positive number of requests per second, got -1"},
		{"bad api", `{"requests": 5, "concurrency": 1, "api": "embeddings"}`, 400, `api: must be "completions" or "chat", got "embeddings"`},
		{"bad input", `{"requests": 5, "concurrency": 1, "inputTokens": "9:5"}`, 400, `inputTokens: invalid length distribution "9:5": low 9 is above high 5`},
		{"bad output", `{"requests": 5, "concurrency": 1, "outputTokens": "x"}`, 400, "outputTokens: "},
		{"long name", `{"requests": 5, "concurrency": 1, "name": "` + strings.Repeat("n", 201) + `"}`, 400, "name: longer than 200 characters"},
		{"empty label", `{"requests": 5, "concurrency": 1, "labels": {"": "x"}}`, 400, `labels: "": keys must be 1 to 100 characters and values at most 200`},
		{"target scheme", `{"requests": 5, "concurrency": 1, "target": "ftp://allowed.example"}`, 400, "target: must start with http:// or https://"},
		{"target credentials", `{"requests": 5, "concurrency": 1, "target": "http://u:p@allowed.example"}`, 400, "target: must not contain credentials (the API key is in the data source's settings)"},
		{"forbidden host", `{"requests": 5, "concurrency": 1, "target": "http://evil.example:8000/v1"}`, 403, `target: host "evil.example:8000" is not an allowed target host (see the data source's allowed hosts)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, ds, "Editor", http.MethodPost, "runs", tc.body)
			assert.Equal(t, tc.code, code, body)
			assert.True(t, strings.HasPrefix(errorOf(t, body), tc.msg), "got %q, want prefix %q", errorOf(t, body), tc.msg)
		})
	}
}

func TestPermissions(t *testing.T) {
	ds := simDatasource(t, t.TempDir(), map[string]any{}, plugintest.NewLogger())
	spec := `{"requests": 1, "concurrency": 1}`
	doc, err := json.Marshal(plugintest.Document(plugintest.Runs()[0], plugintest.Start()))
	require.NoError(t, err)
	for _, role := range []string{"", "Viewer", "None"} {
		for _, req := range [][2]string{{"runs", spec}, {"runs/x/cancel", ""}, {"import", string(doc)}} {
			t.Run(role+" "+req[0], func(t *testing.T) {
				code, body := call(t, ds, role, http.MethodPost, req[0], req[1])
				assert.Equal(t, http.StatusForbidden, code)
				assert.Equal(t, "only users with the Editor or Admin role may start, cancel or import runs", errorOf(t, body))
			})
		}
	}
	code, body := call(t, ds, "Viewer", http.MethodGet, "profiles", "")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"profiles": [
		{"name": "high-parallelism", "description": "50 concurrent requests, no retries", "mode": "online", "concurrency": 50, "retries": 0},
		{"name": "inngest-style", "description": "a durable job queue: 10 concurrent requests, each retried up to 5 times with exponential backoff (1s, doubling, at most 30s; Retry-After honoured)", "mode": "online", "concurrency": 10, "retries": 5},
		{"name": "batch-api", "description": "all requests as one OpenAI Batch API job (upload, create, poll, download): makespan and throughput; no TTFT, ITL or TPOT", "mode": "batch-api", "concurrency": 0, "retries": 0}]}`, body)
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	ds := simDatasource(t, dir, map[string]any{}, plugintest.NewLogger())
	good, err := json.Marshal(plugintest.Document(plugintest.Runs()[0], plugintest.Start()))
	require.NoError(t, err)
	id := plugintest.Document(plugintest.Runs()[0], plugintest.Start()).ID
	newer := strings.Replace(string(good), `"schema_version":1`, `"schema_version":99`, 1)
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"good", string(good), 201, ""},
		{"duplicate", string(good), 409, `a run with id "` + id + `" already exists`},
		{"corrupt", string(good[:len(good)/2]), 400, "not a valid run document: "},
		{"not json", "hello", 400, "not a valid run document: "},
		{"newer schema", newer, 400, "not a valid run document: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, ds, "Admin", http.MethodPost, "import", tc.body)
			require.Equal(t, tc.code, code, body)
			if tc.msg != "" {
				assert.True(t, strings.HasPrefix(errorOf(t, body), tc.msg), body)
			}
		})
	}
	code, body := call(t, ds, "Viewer", http.MethodGet, "runs/"+id, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"status":"completed"`)
	code, _ = call(t, ds, "Viewer", http.MethodGet, "runs/nope", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = call(t, ds, "Editor", http.MethodPost, "runs/nope/cancel", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, body = call(t, ds, "Viewer", http.MethodGet, "runs", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, id)
}

// packetSender keeps the frames sent over a stream.
type packetSender struct {
	mu     sync.Mutex
	frames []*data.Frame
}

// Send decodes and keeps one frame.
func (s *packetSender) Send(p *backend.StreamPacket) error {
	var f data.Frame
	if err := json.Unmarshal(p.Data, &f); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, &f)
	return nil
}

// checkProgressFrames checks that every frame has one row of each field.
func checkProgressFrames(t *testing.T, frames []*data.Frame) {
	t.Helper()
	want := []string{"time", "done", "total", "in_flight", "errors", "requests_per_second",
		"output_tokens_per_second", "ttft_p50_ms", "ttft_p95_ms"}
	for _, f := range frames {
		plintFrame(t, f)
		if len(f.Fields) == len(want)+1 { // a batch run's
			assert.Equal(t, "batch_status", f.Fields[len(want)].Name)
		} else {
			require.Len(t, f.Fields, len(want))
		}
		for i, name := range want {
			assert.Equal(t, name, f.Fields[i].Name)
		}
	}
}

// plintFrame checks one frame as plintest.CheckFrames does.
func plintFrame(t *testing.T, f *data.Frame) {
	t.Helper()
	resp := backend.NewQueryDataResponse()
	resp.Responses["A"] = backend.DataResponse{Frames: data.Frames{f}}
	plugintest.CheckFrames(t, resp)
	n, err := f.RowLen()
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestRunThroughResourcesAndStream(t *testing.T) {
	dir, logger := t.TempDir(), plugintest.NewLogger()
	ds := simDatasource(t, dir, map[string]any{}, logger)
	code, body := call(t, ds, "Editor", http.MethodPost, "runs",
		`{"requests": 20, "concurrency": 4, "inputTokens": "16", "outputTokens": "8", "name": "live-test", "labels": {"ci": "true"}}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	assert.Equal(t, plugin.RunChannelPath(started.ID), started.Channel)

	sub, err := ds.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: started.Channel})
	require.NoError(t, err)
	assert.Equal(t, backend.SubscribeStreamStatusOK, sub.Status)
	pub, err := ds.PublishStream(context.Background(), &backend.PublishStreamRequest{Path: started.Channel})
	require.NoError(t, err)
	assert.Equal(t, backend.PublishStreamStatusPermissionDenied, pub.Status)

	ps := &packetSender{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, ds.RunStream(ctx, &backend.RunStreamRequest{Path: started.Channel}, backend.NewStreamSender(ps)))
	require.GreaterOrEqual(t, len(ps.frames), 3, "progress frames while running, then the final one")
	checkProgressFrames(t, ps.frames)
	assert.Less(t, ps.frames[0].Fields[1].At(0).(int64), int64(20), "the first frame is sent while the run goes")
	last := ps.frames[len(ps.frames)-1]
	assert.Equal(t, int64(20), last.Fields[1].At(0))
	assert.Equal(t, int64(0), last.Fields[4].At(0))
	require.NotNil(t, last.Fields[7].At(0).(*float64))
	assert.Greater(t, *last.Fields[7].At(0).(*float64), 0.0)
	assert.Nil(t, ps.frames[0].Fields[7].At(0), "no TTFT before the first request: null, not 0")

	resp := runQueries(t, ds, dataQuery(t, "A", plugin.QueryTypeRuns, map[string]any{"name": "live-test"},
		backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}))
	require.NoError(t, resp.Responses["A"].Error)
	n, err := resp.Responses["A"].Frames[0].RowLen()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	h, err := results.ReadHeader(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusCompleted, h.Status)
	assert.True(t, h.Environment.Simulated)
	assert.NoDirExists(t, filepath.Join(dir, ".running", started.ID+".json"))

	// A finished run: subscribing works and RunStream sends one final frame.
	ps2 := &packetSender{}
	require.NoError(t, ds.RunStream(ctx, &backend.RunStreamRequest{Path: started.Channel}, backend.NewStreamSender(ps2)))
	require.Len(t, ps2.frames, 1)
	checkProgressFrames(t, ps2.frames)

	live, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
			DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bench-uid"}},
		Queries: []backend.DataQuery{
			dataQuery(t, "L", plugin.QueryTypeLive, map[string]any{"runId": started.ID}, allTime()),
			dataQuery(t, "M", plugin.QueryTypeLive, map[string]any{"runId": "nope"}, allTime()),
		},
	})
	require.NoError(t, err)
	plugintest.CheckFrames(t, live)
	require.NoError(t, live.Responses["L"].Error)
	assert.EqualError(t, live.Responses["M"].Error, `runId: no run with id "nope"`)
	assert.Equal(t, "ds/bench-uid/runs/"+started.ID, live.Responses["L"].Frames[0].Meta.Channel)
	assert.NotContains(t, logger.String(), testAPIKey)
}

func TestSubscribeUnknown(t *testing.T) {
	ds := simDatasource(t, t.TempDir(), map[string]any{}, plugintest.NewLogger())
	for _, path := range []string{"runs/nope", "other/x", "runs/../x"} {
		sub, err := ds.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: path})
		require.NoError(t, err)
		assert.Equal(t, backend.SubscribeStreamStatusNotFound, sub.Status, path)
	}
	ps := &packetSender{}
	require.NoError(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: "runs/nope"}, backend.NewStreamSender(ps)))
	assert.Empty(t, ps.frames)
	assert.Error(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: "other/x"}, backend.NewStreamSender(ps)))
}

func TestCancelAndBusy(t *testing.T) {
	dir := t.TempDir()
	ds := simDatasource(t, dir, map[string]any{}, plugintest.NewLogger())
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"duration": "1m", "concurrency": 2}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))

	code, body = call(t, ds, "Editor", http.MethodPost, "runs", `{"requests": 5, "concurrency": 1}`)
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Equal(t, "too many runs: 1 of 1 allowed runs are going; wait for one to end or cancel one", errorOf(t, body))

	code, body = call(t, ds, "Viewer", http.MethodGet, "runs/"+started.ID, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"status":"running"`)
	code, body = call(t, ds, "Viewer", http.MethodGet, "runs", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, started.ID)

	code, _ = call(t, ds, "Admin", http.MethodPost, "runs/"+started.ID+"/cancel", "")
	require.Equal(t, http.StatusAccepted, code)
	require.NoError(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: started.Channel},
		backend.NewStreamSender(&packetSender{})))
	h, err := results.ReadHeader(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, h.Status)
	assert.Equal(t, "cancelled by a user", h.Error)
}

// waitDone waits until at least n requests of the run have finished, as
// GET /runs/<id> says.
func waitDone(t *testing.T, ds *plugin.Datasource, id string, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := call(t, ds, "Viewer", http.MethodGet, "runs/"+id, "")
		require.Equal(t, http.StatusOK, code, body)
		var item plugin.RunListItem
		require.NoError(t, json.Unmarshal([]byte(body), &item))
		require.NotNil(t, item.Progress, "the run is still going: %s", body)
		if item.Progress.Done-item.Progress.Errors >= n {
			return
		}
		require.True(t, time.Now().Before(deadline), "fewer than %d requests done: %s", n, body)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDisposeWritesPartial: Dispose in the middle of a run writes its
// document with the records measured so far and a summary of them.
func TestDisposeWritesPartial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jd := map[string]any{"resultsDir": dir}
	ds := plugin.New(instanceSettings(t, jd, nil), plugin.WithLogger(plugintest.NewLogger()),
		plugin.WithSimulatorOptions(sim.WithDecodeTime(time.Millisecond, 0)))
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"duration": "1m", "concurrency": 2, "outputTokens": "4"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	waitDone(t, ds, started.ID, 3)
	ds.Dispose()
	doc, err := results.Read(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Equal(t, plugin.ReasonInstanceStopped, doc.Error)
	assert.NoFileExists(t, filepath.Join(dir, ".running", started.ID+".json"))
	assert.GreaterOrEqual(t, doc.Summary.Succeeded, 3, "the records measured before Dispose")
	assert.Equal(t, doc.RecordCount, len(doc.Records))
	assert.True(t, doc.Summary.Measured())
	p95, found := doc.Summary.Value("ttft_p95")
	require.True(t, found)
	assert.Positive(t, p95)
	rate, found := doc.Summary.Value("success_rate")
	require.True(t, found)
	assert.Positive(t, rate)
}

// TestDisposeBeforeAnyMeasurement: a run stopped before any request ended
// has a document without summary values: absent, not 0.
func TestDisposeBeforeAnyMeasurement(t *testing.T) {
	t.Parallel()
	arrived, done := make(chan struct{}, 16), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/completions" {
			http.NotFound(w, r)
			return
		}
		arrived <- struct{}{}
		select { // never answers
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: the handlers return
	dir := t.TempDir()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": dir, "defaultTarget": srv.URL + "/v1"}, nil),
		plugin.WithLogger(plugintest.NewLogger()))
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"requests": 10, "concurrency": 2, "model": "m"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	<-arrived // a request is in flight
	ds.Dispose()

	doc, err := results.Read(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Zero(t, doc.Summary.Succeeded)
	assert.False(t, doc.Summary.Measured())
	for _, name := range []string{"ttft_p95", "e2el_p50", "success_rate", "request_throughput", "output_throughput"} {
		_, found := doc.Summary.Value(name)
		assert.False(t, found, "%s must be absent", name)
	}
	raw, err := os.ReadFile(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	var m struct {
		Summary map[string]json.RawMessage `json:"summary"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.NotContains(t, m.Summary, "success_rate")
	assert.NotContains(t, m.Summary, "output_throughput")
	assert.JSONEq(t, `{"count": 0}`, string(m.Summary["ttft_ms"]))
}

// TestInstancesClose: the process's shutdown stops the runs of every
// instance and writes their partial documents.
func TestInstancesClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := plugin.NewInstances()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": dir}, nil), plugin.WithLogger(plugintest.NewLogger()),
		plugin.WithSimulatorOptions(sim.WithDecodeTime(time.Millisecond, 0)), plugin.WithInstances(in))
	t.Cleanup(ds.Dispose)
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"duration": "1m", "concurrency": 2, "outputTokens": "4"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	waitDone(t, ds, started.ID, 2)
	in.Close()
	doc, err := results.Read(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Equal(t, plugin.ReasonPluginStopped, doc.Error)
	assert.GreaterOrEqual(t, doc.Summary.Succeeded, 2)
	code, body = call(t, ds, "Editor", http.MethodPost, "runs", `{"requests": 1, "concurrency": 1}`)
	assert.Equal(t, http.StatusInternalServerError, code, "no run starts after the shutdown: %s", body)
}

func TestRestartRecovery(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".running"), 0o755))
	id := "20261127T101500Z-abcdef"
	marker := `{"id": "` + id + `", "pid": -1, "start": "2026-11-27T10:15:00Z", "name": "lost", "profile": "inngest-style"}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".running", id+".json"), []byte(marker), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".running", "junk.json"), []byte("{"), 0o644))
	logger := plugintest.NewLogger()
	ds := simDatasource(t, dir, map[string]any{}, logger)
	h, err := results.ReadHeader(filepath.Join(dir, id+".json"))
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, h.Status)
	assert.Equal(t, "plugin restarted", h.Error)
	assert.Equal(t, "lost", h.Name)
	assert.NoFileExists(t, filepath.Join(dir, ".running", id+".json"))
	assert.NoFileExists(t, filepath.Join(dir, ".running", "junk.json"))
	code, body := call(t, ds, "Viewer", http.MethodGet, "runs/"+id, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "plugin restarted")
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	dir, logger := t.TempDir(), plugintest.NewLogger()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error": {"message": "bad key ` + r.Header.Get("Authorization") + `"}}`))
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	ds := simDatasource(t, dir, map[string]any{"defaultTarget": srv.URL + "/v1", "allowedHosts": []string{u.Host},
		"maxConcurrentRuns": 2}, logger)
	var outputs []string
	// With a model the requests fail; without one, finding the model fails.
	for _, spec := range []string{`{"requests": 3, "concurrency": 1, "model": "m1"}`, `{"requests": 3, "concurrency": 1}`} {
		code, body := call(t, ds, "Editor", http.MethodPost, "runs", spec)
		require.Equal(t, http.StatusCreated, code, body)
		outputs = append(outputs, body)
		var started plugin.StartResponse
		require.NoError(t, json.Unmarshal([]byte(body), &started))
		ps := &packetSender{}
		require.NoError(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: started.Channel}, backend.NewStreamSender(ps)))
		for _, f := range ps.frames {
			raw, err := json.Marshal(f)
			require.NoError(t, err)
			outputs = append(outputs, string(raw))
		}
		for _, path := range []string{"runs", "runs/" + started.ID} {
			_, body := call(t, ds, "Viewer", http.MethodGet, path, "")
			outputs = append(outputs, body)
		}
		doc, err := os.ReadFile(filepath.Join(dir, started.ID+".json"))
		require.NoError(t, err)
		outputs = append(outputs, string(doc))
	}
	outputs = append(outputs, logger.String())
	require.Contains(t, strings.Join(outputs, "\n"), "finding the target's model")
	for _, o := range outputs {
		assert.NotContains(t, o, testAPIKey)
	}
}

func TestEmptyBody(t *testing.T) {
	t.Parallel()
	ds := simDatasource(t, t.TempDir(), map[string]any{}, plugintest.NewLogger())
	const spec = `the request body is empty: send a run spec as JSON, such as {"profile": "high-parallelism", "requests": 100} (see RunSpec)`
	const doc = "the request body is empty: send a run document as JSON (the .json file a bencher run wrote)"
	tests := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"start, no body", http.MethodPost, "runs", "", 400, spec},
		{"start, white space", http.MethodPost, "runs", " \n\t", 400, spec},
		{"import, no body", http.MethodPost, "import", "", 400, doc},
		{"import, white space", http.MethodPost, "import", "\n", 400, doc},
		{"start, too large", http.MethodPost, "runs", `{"name": "` + strings.Repeat("n", 70<<10) + `"}`, 400,
			"body: too large: larger than 65536 bytes"},
		{"cancel, no body", http.MethodPost, "runs/nope/cancel", "", 404, `no running run with id "nope"`},
		{"list, no body", http.MethodGet, "runs", "", 200, ""},
		{"get, no body", http.MethodGet, "runs/nope", "", 404, `no run with id "nope"`},
		{"profiles, no body", http.MethodGet, "profiles", "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, ds, "Editor", tc.method, tc.path, tc.body)
			require.Equal(t, tc.code, code, body)
			if tc.msg != "" {
				assert.Equal(t, tc.msg, errorOf(t, body))
			}
		})
	}
}

func TestCustomProfileKey(t *testing.T) {
	t.Parallel()
	dist := func(s string) workload.Dist {
		d, err := workload.ParseDist(s)
		require.NoError(t, err)
		return d
	}
	tests := []struct {
		name          string
		concurrency   int
		rate          float64
		input, output workload.Dist
		want          string
	}{
		{"closed loop, defaults", 300, 0, workload.Dist{}, workload.Dist{}, "custom-c300-in512-out128"},
		{"closed loop", 4, 0, dist("1024"), dist("64"), "custom-c4-in1024-out64"},
		{"open loop", 0, 20, dist("512"), dist("128"), "custom-r20-in512-out128"},
		{"fractional rate", 0, 2.5, workload.Dist{}, workload.Dist{}, "custom-r2.5-in512-out128"},
		{"capped open loop", 50, 20, workload.Dist{}, dist("32"), "custom-r20-c50-in512-out32"},
		{"uniform and normal", 8, 0, dist("256:1024"), dist("128~16"), "custom-c8-in256:1024-out128~16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, plugin.CustomProfileKey(tc.concurrency, tc.rate, tc.input, tc.output))
		})
	}
}

// fakePrometheus serves Prometheus's instant-query API: the scrape probes
// answer a time after any run, the GPU memory and energy queries fixed
// numbers, every other query 0.5. It records the queries.
func fakePrometheus(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.ParseForm() != nil {
			http.NotFound(w, r)
			return
		}
		q := r.Form.Get("query")
		mu.Lock()
		got = append(got, q)
		mu.Unlock()
		v := "0.5"
		switch {
		case strings.HasPrefix(q, "min(timestamp("):
			v = strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		case strings.Contains(q, "nvidia_gpu_memory_used_bytes"):
			v = "8000000000"
		case strings.Contains(q, "nvidia_gpu_energy_consumed_joules_total"):
			v = "1234"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,%q]}]}}`,
			time.Now().Unix(), v)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// startSimServer starts the bencher's simulator as `bencher sim` serves it
// (a server of its own, reached by URL) and returns its base URL.
func startSimServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := sim.New(sim.WithDecodeTime(time.Millisecond, 0)).Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return base
}

// runToDocument starts a run with the spec as an Editor, follows it to its
// end and returns its document.
func runToDocument(t *testing.T, ds *plugin.Datasource, dir, spec string) *results.Document {
	t.Helper()
	code, body := call(t, ds, "Editor", http.MethodPost, "runs", spec)
	require.Equal(t, http.StatusCreated, code, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	require.NoError(t, ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: started.Channel},
		backend.NewStreamSender(&packetSender{})))
	doc, err := results.Read(filepath.Join(dir, started.ID+".json"))
	require.NoError(t, err)
	return doc
}

// TestRunAgainstSimServer runs against a simulator in a server of its
// own, as `bencher sim` is, with the data source's Prometheus: the
// document says it is simulated, with the simulator's version, as the
// CLI's do, and holds what Prometheus saw.
func TestRunAgainstSimServer(t *testing.T) {
	t.Parallel()
	target := startSimServer(t)
	prom, queries := fakePrometheus(t)
	u, err := url.Parse(target)
	require.NoError(t, err)
	dir := t.TempDir()
	ds := simDatasource(t, dir, map[string]any{"allowedHosts": []string{u.Host}, "prometheusUrl": prom.URL + "/"}, plugintest.NewLogger())
	doc := runToDocument(t, ds, dir, `{"target": "`+target+`/v1", "requests": 4, "concurrency": 2, "outputTokens": "8",
		"name": "sim-server", "labels": {"gpu": "none"}, "recordOutputs": true}`)

	assert.Equal(t, results.StatusCompleted, doc.Status, doc.Error)
	assert.True(t, doc.Environment.Simulated, "bencher sim is known by its /version")
	assert.Equal(t, sim.Version, doc.Environment.ServerVersion)
	assert.Equal(t, "custom-c2-in512-out8", doc.Profile)
	assert.Equal(t, map[string]string{"gpu": "none"}, doc.Labels)
	assert.Equal(t, "sim-server", doc.Name)
	assert.Equal(t, 4, doc.Summary.Succeeded)
	require.Len(t, doc.Records, 4)
	assert.NotEmpty(t, doc.Records[0].Output, "recordOutputs keeps the generated texts")

	require.NotNil(t, doc.ServerSide, "prometheusUrl gives the run its server side")
	assert.Equal(t, prom.URL, doc.ServerSide.Source)
	require.NotNil(t, doc.ServerSide.GPUMemoryPeakBytes)
	assert.Equal(t, 8e9, *doc.ServerSide.GPUMemoryPeakBytes)
	require.NotNil(t, doc.ServerSide.EnergyJoules)
	assert.Equal(t, 1234.0, *doc.ServerSide.EnergyJoules)
	assert.Contains(t, queries(), "sum(increase(nvidia_gpu_energy_consumed_joules_total[1s]))")

	raw, err := os.ReadFile(filepath.Join(dir, doc.ID+".json"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"server_side": {`+"\n"+`    "source": "`+prom.URL+`"`)
}

// TestEmbeddedSimulatorEnvironment: a run without a target names the
// simulator's version too, and the bencher's version.
func TestEmbeddedSimulatorEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ds := simDatasource(t, dir, map[string]any{}, plugintest.NewLogger())
	doc := runToDocument(t, ds, dir, `{"requests": 2, "rate": 50, "inputTokens": "16", "outputTokens": "4"}`)
	assert.Equal(t, results.StatusCompleted, doc.Status, doc.Error)
	assert.True(t, doc.Environment.Simulated)
	assert.Equal(t, sim.Version, doc.Environment.ServerVersion)
	assert.Equal(t, results.BuildVersion(), doc.Environment.BencherVersion)
	assert.Equal(t, "custom-r50-in16-out4", doc.Profile)
	assert.Nil(t, doc.ServerSide, "no prometheusUrl, no server side")
}
