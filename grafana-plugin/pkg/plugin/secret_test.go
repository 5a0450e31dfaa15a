package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// hostileDatasource returns an instance whose default target (and
// Prometheus) is the hostile server, allowed by host:port only, with the
// test API key; what it logs goes to logger, its runs' live metrics to m.
func hostileDatasource(t *testing.T, srv *hostile.Server, dir string, logger plugintest.Logger, m *live.Metrics) *plugin.Datasource {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	ds := plugin.New(instanceSettings(t, map[string]any{
		"resultsDir": dir, "defaultTarget": srv.URL + "/v1", "prometheusUrl": srv.URL,
		"allowedHosts": []string{u.Host}, "maxConcurrentRuns": 4,
	}, map[string]string{"apiKey": testAPIKey}),
		plugin.WithLogger(logger), plugin.WithProbeTimeout(5*time.Second),
		plugin.WithStreamInterval(20*time.Millisecond), plugin.WithLiveMetrics(m))
	_, err = ds.Settings()
	require.NoError(t, err)
	t.Cleanup(ds.Dispose)
	return ds
}

// hostileSpecs are the runs the hostile tests start: with a model (the
// requests meet the server), without one (the model is detected: its name
// is the echo), as chat and completions, with outputs recorded.
var hostileSpecs = []string{
	`{"requests": 4, "concurrency": 2, "model": "m1", "recordOutputs": true, "name": "with model"}`,
	`{"requests": 4, "concurrency": 2, "recordOutputs": true, "api": "chat", "name": "detected"}`,
	`{"requests": 3, "rate": 50, "recordOutputs": true, "labels": {"kind": "open"}}`,
	// A user who pasted the key where it does not belong; the run lasts
	// until it is cancelled.
	`{"duration": "1m", "concurrency": 1, "model": "` + testAPIKey + `", "name": "run of ` + testAPIKey + `",
	  "labels": {"key": "` + testAPIKey + `"}}`,
}

// followRun streams a run to its end, as Grafana Live would, and returns
// the JSON of every frame sent.
func followRun(t *testing.T, ds *plugin.Datasource, channel string) []string {
	t.Helper()
	ps := &packetSender{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, ds.RunStream(ctx, &backend.RunStreamRequest{Path: channel}, backend.NewStreamSender(ps)))
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]string, 0, len(ps.frames))
	for _, f := range ps.frames {
		raw, err := json.Marshal(f)
		require.NoError(t, err)
		out = append(out, string(raw))
	}
	return out
}

// everyQuery returns a query of every type over runs ids.
func everyQuery(t *testing.T, ids []string) []backend.DataQuery {
	t.Helper()
	now := time.Now()
	tr := backend.TimeRange{From: now.Add(-time.Hour), To: now.Add(time.Hour)}
	qs := []backend.DataQuery{
		dataQuery(t, "runs", plugin.QueryTypeRuns, nil, tr),
		dataQuery(t, "trend", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, tr),
		dataQuery(t, "annotations", plugin.QueryTypeAnnotations, nil, tr),
		dataQuery(t, "compare", plugin.QueryTypeCompare, map[string]any{"runIds": ids}, tr),
		dataQuery(t, "latest", plugin.QueryTypeRun, map[string]any{"runId": plugin.RunLatest}, tr),
	}
	for i, id := range ids {
		for _, q := range []struct {
			typ   string
			model map[string]any
		}{
			{plugin.QueryTypeLive, map[string]any{"runId": id}},
			{plugin.QueryTypeRun, map[string]any{"runId": id}},
			{plugin.QueryTypeDistribution, map[string]any{"runId": id, "metric": "e2el"}},
			{plugin.QueryTypeDistribution, map[string]any{"runId": id, "metric": "ttft", "kind": "cdf"}},
			{plugin.QueryTypeOutputs, map[string]any{"runIds": []string{id}}},
		} {
			qs = append(qs, dataQuery(t, fmt.Sprintf("%s-%d-%d", q.typ, i, len(qs)), q.typ, q.model, tr))
		}
	}
	return qs
}

// queryAll runs qs on ds (with the data source's uid, which live queries
// need) and returns the JSON of the whole response.
func queryAll(t *testing.T, ds *plugin.Datasource, qs []backend.DataQuery) string {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{PluginID: plugin.PluginID,
			DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "bench-uid"}},
		Queries: qs,
	})
	require.NoError(t, err)
	require.Len(t, resp.Responses, len(qs))
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	var errs strings.Builder
	for ref, r := range resp.Responses {
		if r.Error != nil {
			fmt.Fprintf(&errs, "%s: %v\n", ref, r.Error)
		}
	}
	return string(raw) + "\n" + errs.String()
}

// metricsText returns the live metrics' exposition.
func metricsText(m *live.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// leakedDocument is a run document written elsewhere (an old plugin, the
// CLI with the same key) that holds the key in its name, model, server
// version and error messages: what the plugin shows of it is scrubbed too.
func leakedDocument(t *testing.T) string {
	t.Helper()
	r := plugintest.Runs()[0]
	r.ID, r.Name, r.Model = "20261120T100000Z-1eaked", "run of "+testAPIKey, "model-"+testAPIKey
	doc := plugintest.Document(r, time.Now().Add(-time.Minute))
	doc.Environment.ServerVersion = "v1 " + testAPIKey
	for i := range doc.Records {
		doc.Records[i].Output = "echo: Bearer " + testAPIKey
		doc.Records[i].Prompt = "prompt " + testAPIKey
	}
	var b strings.Builder
	require.NoError(t, results.Encode(&b, doc))
	return b.String()
}

// TestSecretHostileTargetNothingLeaks points an instance at a server that
// echoes every request header (the Authorization header with the key
// included) into every string it answers, in every mode of the hostile
// server (answers, errors, redirects to other origins), and checks
// everything the plugin gives out: health checks, resource answers, Live
// stream frames, every query type's frames and errors, the run documents
// and markers it writes, its live metrics and its log. None holds the key
// in any form, and no request reached another origin.
func TestSecretHostileTargetNothingLeaks(t *testing.T) {
	for _, mode := range hostile.Modes() {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			dir, logger, metrics := t.TempDir(), plugintest.NewLogger(), live.NewMetrics()
			metrics.KeepFinished(10)
			ds := hostileDatasource(t, srv, dir, logger, metrics)
			out := map[string]string{} // what the plugin gave out, by where

			health, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			out["health"] = health.Message + "\n" + string(health.JSONDetails)

			code, body := call(t, ds, "Editor", http.MethodPost, "import", leakedDocument(t))
			require.Equal(t, http.StatusCreated, code, body)

			var ids []string
			for i, spec := range hostileSpecs {
				code, body := call(t, ds, "Editor", http.MethodPost, "runs", spec)
				require.Equal(t, http.StatusCreated, code, body)
				out[fmt.Sprintf("POST /runs %d", i)] = body
				var started plugin.StartResponse
				require.NoError(t, json.Unmarshal([]byte(body), &started))
				ids = append(ids, started.ID)
				// The marker of a running run is written before the answer.
				marker, err := os.ReadFile(filepath.Join(dir, ".running", started.ID+".json"))
				if err == nil {
					out["marker "+started.ID] = string(marker)
				} else {
					require.ErrorIs(t, err, os.ErrNotExist, "the run may have ended already")
				}
				if strings.Contains(spec, "duration") {
					// Answered, it lasts; refused, it may have stopped for
					// its error rate already.
					if mode == hostile.EchoOK {
						require.NoError(t, err, "the marker of a run that lasts")
					}
					_, out["GET /runs/<id> while running "+started.ID] = call(t, ds, "Viewer", http.MethodGet, "runs/"+started.ID, "")
					code, body := call(t, ds, "Editor", http.MethodPost, "runs/"+started.ID+"/cancel", "")
					require.Contains(t, []int{http.StatusAccepted, http.StatusNotFound}, code, body)
				}
				_, out["GET /runs/<id> early "+started.ID] = call(t, ds, "Viewer", http.MethodGet, "runs/"+started.ID, "")
				out["stream "+started.ID] = strings.Join(followRun(t, ds, started.Channel), "\n")
				_, out["GET /runs/<id> "+started.ID] = call(t, ds, "Viewer", http.MethodGet, "runs/"+started.ID, "")
				_, out["POST cancel "+started.ID] = call(t, ds, "Editor", http.MethodPost, "runs/"+started.ID+"/cancel", "")
				doc, err := os.ReadFile(filepath.Join(dir, started.ID+".json"))
				require.NoError(t, err)
				out["document "+started.ID] = string(doc)
			}
			_, out["GET /runs"] = call(t, ds, "Viewer", http.MethodGet, "runs", "")
			_, out["GET /runs/<leaked>"] = call(t, ds, "Viewer", http.MethodGet, "runs/20261120T100000Z-1eaked", "")
			out["queries"] = queryAll(t, ds, everyQuery(t, append(ids, "20261120T100000Z-1eaked")))
			out["live metrics"] = metricsText(metrics)
			settings, err := ds.Settings()
			require.NoError(t, err)
			out["settings"] = fmt.Sprintf("%v %+v %#v", settings, settings, settings)
			ds.Dispose()
			out["log"] = logger.String()

			for where, text := range out {
				hostile.NoLeaks(t, where, text, testAPIKey)
			}
			for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
				assert.Empty(t, sink.Carrying(testAPIKey), "requests with the key at another origin")
				assert.Empty(t, sink.Requests(), "requests at another origin")
			}

			// The key did reach the target, and the target did echo it:
			// the test saw the hostile answers it is about.
			reqs := srv.Requests()
			require.NotEmpty(t, reqs)
			for _, r := range reqs {
				if r.Path != "/-/ready" && !strings.HasPrefix(r.Path, "/api/") { // Prometheus gets no key
					assert.Equal(t, "Bearer "+testAPIKey, r.Header.Get("Authorization"), r.Path)
				}
			}
			all := strings.Join([]string{out["health"], out["queries"], out["log"]}, "\n")
			assert.Contains(t, all, "[REDACTED]", "something was scrubbed")
			if mode == hostile.EchoOK {
				assert.Contains(t, out["health"], "reachable, serves: [REDACTED]")
			}
		})
	}
}

// TestSecretRedirectToOtherOriginRefused checks that no request of the
// plugin follows a redirect to another origin (another port, host name or
// scheme: outside the allowed host:port too), and that its errors say so:
// the health check, the detection of the model and of the version, and
// the run's requests themselves.
func TestSecretRedirectToOtherOriginRefused(t *testing.T) {
	for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			dir, logger := t.TempDir(), plugintest.NewLogger()
			ds := hostileDatasource(t, srv, dir, logger, live.NewMetrics())

			health, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			var det plugin.HealthDetails
			require.NoError(t, json.Unmarshal(health.JSONDetails, &det))
			assert.False(t, det.Target.OK)
			assert.Equal(t, fmt.Sprintf("Default target %s/v1: refused a redirect from %s to another origin, %s: "+
				"credentials are never sent to another origin (point the URL at the final server instead).",
				srv.URL, srv.URL, redirectOrigin(srv, mode)), det.Target.Message)
			assert.Contains(t, det.Prometheus.Message, "refused a redirect from "+srv.URL)

			for _, spec := range []string{`{"requests": 2, "concurrency": 1}`, `{"requests": 2, "concurrency": 1, "model": "m"}`} {
				code, body := call(t, ds, "Editor", http.MethodPost, "runs", spec)
				require.Equal(t, http.StatusCreated, code, body)
				var started plugin.StartResponse
				require.NoError(t, json.Unmarshal([]byte(body), &started))
				followRun(t, ds, started.Channel)
				h, err := results.ReadHeader(filepath.Join(dir, started.ID+".json"))
				require.NoError(t, err)
				if strings.Contains(spec, "model") {
					assert.Equal(t, 2, h.Summary.Failed, "the redirects are failures, not followed")
				} else {
					assert.Equal(t, results.StatusFailed, h.Status)
					assert.Contains(t, h.Error, "finding the target's model")
					assert.Contains(t, h.Error, "refused a redirect from "+srv.URL)
				}
			}
			for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
				assert.Empty(t, sink.Requests(), "no request reaches another origin")
			}
			hostile.NoLeaks(t, "log", logger.String(), testAPIKey)
		})
	}
}

// redirectOrigin is the origin the hostile server redirects to in mode.
func redirectOrigin(srv *hostile.Server, mode hostile.Mode) string {
	switch mode {
	case hostile.RedirectPort:
		return srv.Sink.URL
	case hostile.RedirectHost:
		return srv.Sink.HostURL
	}
	return srv.TLSSink.URL
}

// TestSecretSettingsPrintRedacted prints an instance's settings every way
// a program may print them (fmt verbs, JSON, slog, the plugin's own debug
// line): the key never shows, "[REDACTED]" does, and Value still gives it.
func TestSecretSettingsPrintRedacted(t *testing.T) {
	logger := plugintest.NewLogger()
	ds := plugin.New(instanceSettings(t, map[string]any{"resultsDir": t.TempDir()}, map[string]string{"apiKey": testAPIKey}),
		plugin.WithLogger(logger))
	t.Cleanup(ds.Dispose)
	s, err := ds.Settings()
	require.NoError(t, err)
	require.Equal(t, testAPIKey, s.APIKey.Value())
	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", &s)
		fmt.Fprintf(&out, verb+"\n", s.APIKey)
	}
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	out.Write(raw)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("settings", "settings", s, "key", s.APIKey)
	slog.New(slog.NewTextHandler(&out, nil)).Info("settings", "settings", s, "key", s.APIKey)
	out.WriteString(logger.String())
	hostile.NoLeaks(t, "printed settings", out.String(), testAPIKey)
	assert.Contains(t, string(raw), `"apiKey":"[REDACTED]"`)
	assert.Contains(t, logger.String(), "Data source settings")
}

// TestSecretInvalidSettingsNothingLeaks gives the key where settings
// validation refuses it (in the default target's URL, with a space in it)
// and checks the health check, a query and the log.
func TestSecretInvalidSettingsNothingLeaks(t *testing.T) {
	for name, s := range map[string]backend.DataSourceInstanceSettings{
		"key in the URL": instanceSettings(t, map[string]any{"resultsDir": t.TempDir(),
			"defaultTarget": "http://user:" + testAPIKey + "@vllm/v1"}, nil),
		"key in a query": instanceSettings(t, map[string]any{"resultsDir": t.TempDir(),
			"prometheusUrl": "http://prom/?api_key=" + testAPIKey}, nil),
		"key with a space": instanceSettings(t, map[string]any{"resultsDir": "relative"},
			map[string]string{"apiKey": testAPIKey + " x"}),
	} {
		t.Run(name, func(t *testing.T) {
			logger := plugintest.NewLogger()
			ds := plugin.New(s, plugin.WithLogger(logger))
			t.Cleanup(ds.Dispose)
			_, err := ds.Settings()
			require.Error(t, err)
			health, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			assert.Equal(t, backend.HealthStatusError, health.Status)
			text := health.Message + queryAll(t, ds, []backend.DataQuery{
				dataQuery(t, "A", plugin.QueryTypeRuns, nil, allTime())})
			_, body := call(t, ds, "Editor", http.MethodPost, "runs", `{"requests": 1, "concurrency": 1}`)
			text += body + logger.String()
			hostile.NoLeaks(t, name, text, testAPIKey)
		})
	}
}
