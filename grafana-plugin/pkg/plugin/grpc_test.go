package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// freeAddr returns a local TCP address that was free a moment ago
// (datasourcetest.Manage needs an address it can dial too).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// echoKeyServer refuses every request, echoing the credentials it got, as a
// careless server might.
func echoKeyServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "invalid credentials: %s", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOverGRPC serves the plugin with the SDK's gRPC harness, as Grafana
// talks to it, and checks every answer for the API key: queries of every
// kind (good, bad, over invalid settings), health checks with a server
// that echoes the key, and the plugin's log. Then it checks the live
// metrics of runs (checkLiveMetricsOverGRPC): the harness can only be
// started once per test process.
func TestOverGRPC(t *testing.T) {
	logger := plugintest.NewLogger()
	opts := append([]plugin.Option{plugin.WithLogger(logger), plugin.WithProbeTimeout(2 * time.Second)}, liveFactoryOptions()...)
	tp, err := datasourcetest.Manage(plugin.NewFactory(opts...), datasourcetest.ManageOpts{Address: freeAddr(t)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, tp.Shutdown()) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dir, target, echo := fixtureDir(t), openAIServer(t), echoKeyServer(t)
	hostileEcho, hostileRedirect := hostile.New(t), hostile.New(t)
	hostileRedirect.SetMode(hostile.RedirectPort)
	key := map[string]string{"apiKey": testAPIKey}
	instances := []struct {
		name     string
		jsonData map[string]any
		secure   map[string]string
		health   backend.HealthStatus
	}{
		{"good", map[string]any{"resultsDir": dir, "defaultTarget": target.URL + "/v1"}, key, backend.HealthStatusOk},
		{"echoing target", map[string]any{"resultsDir": dir, "defaultTarget": echo.URL + "/v1", "prometheusUrl": echo.URL}, key, backend.HealthStatusOk},
		{"hostile target", map[string]any{"resultsDir": dir, "defaultTarget": hostileEcho.URL + "/v1", "prometheusUrl": hostileEcho.URL}, key, backend.HealthStatusOk},
		{"redirecting target", map[string]any{"resultsDir": dir, "defaultTarget": hostileRedirect.URL + "/v1", "prometheusUrl": hostileRedirect.URL}, key, backend.HealthStatusOk},
		{"invalid settings", map[string]any{"resultsDir": dir, "defaultTarget": "http://user:" + testAPIKey + "@vllm/v1"}, key, backend.HealthStatusError},
		{"invalid key", map[string]any{"resultsDir": dir}, map[string]string{"apiKey": testAPIKey + " " + testAPIKey}, backend.HealthStatusError},
	}
	var seen strings.Builder
	for i, inst := range instances {
		settings := instanceSettings(t, inst.jsonData, inst.secure)
		settings.ID, settings.UID = int64(i+1), fmt.Sprintf("uid-%d", i+1)
		pc := backend.PluginContext{PluginID: plugin.PluginID, OrgID: 1, DataSourceInstanceSettings: &settings}

		health, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err, inst.name)
		assert.Equal(t, inst.health, health.Status, "%s: %s", inst.name, health.Message)
		fmt.Fprintln(&seen, health.Message, string(health.JSONDetails))

		resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			dataQuery(t, "A", plugin.QueryTypeRuns, map[string]any{"profile": "chat"}, allTime()),
			dataQuery(t, "B", plugin.QueryTypeTrend, map[string]any{"value": "ttft_p95"}, allTime()),
			{RefID: "C", QueryType: plugin.QueryTypeRuns, JSON: []byte(`{"labels": [1]}`), TimeRange: allTime()},
			{RefID: "D", QueryType: "bogus", JSON: []byte(`{}`), TimeRange: allTime()},
		}})
		require.NoError(t, err, inst.name)
		plugintest.CheckFrames(t, resp)
		raw, err := json.Marshal(resp)
		require.NoError(t, err)
		fmt.Fprintln(&seen, string(raw))

		if inst.health == backend.HealthStatusOk {
			checkGoodResponses(t, resp)
		}
	}
	fmt.Fprintln(&seen, logger.String())
	assert.Contains(t, seen.String(), "refused the API key (HTTP 401)")
	assert.NotContains(t, seen.String(), testAPIKey)
	hostile.NoLeaks(t, "answers and log over gRPC", seen.String(), testAPIKey)
	assert.Contains(t, seen.String(), "reachable, serves: [REDACTED]", "the hostile target's model is its echo")
	assert.Contains(t, seen.String(), "refused a redirect from "+hostileRedirect.URL)
	assert.Empty(t, hostileRedirect.Sink.Requests(), "no request at another origin")

	checkLiveMetricsOverGRPC(ctx, t, tp)
}

// checkGoodResponses checks the answers of TestOverGRPC's queries over
// valid settings, after their trip through gRPC and Arrow.
func checkGoodResponses(t *testing.T, resp *backend.QueryDataResponse) {
	t.Helper()
	runs := resp.Responses["A"]
	require.NoError(t, runs.Error)
	require.Len(t, runs.Frames, 1)
	assert.Equal(t, []string{"20261120T100000Z-aaaaa1", "20261121T110000Z-aaaaa2", "20261123T130000Z-ccccc1"}, runIDs(t, runs.Frames[0]))
	ttft, _ := runs.Frames[0].FieldByName("ttft_p50")
	require.NotNil(t, ttft)
	assert.Equal(t, "ms", ttft.Config.Unit, "field configs survive the trip")

	trend := resp.Responses["B"]
	require.NoError(t, trend.Error)
	assert.Len(t, trend.Frames, 2, "chat and batch: the trend leaves out the failed run")

	assert.EqualError(t, resp.Responses["C"].Error, "query field labels: must be a string, not a JSON number")
	assert.Equal(t, backend.ErrorSourceDownstream, resp.Responses["C"].ErrorSource)
	assert.EqualError(t, resp.Responses["D"].Error, `unknown query type "bogus" (want runs, trend, live, run, distribution, compare, outputs or annotations)`)
	assert.Equal(t, backend.ErrorSourcePlugin, resp.Responses["D"].ErrorSource)
}
