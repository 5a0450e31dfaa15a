package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// apiKey is recognisable, so that the test can look for it in everything
// the executable writes and answers.
const apiKey = "sk-benchstation-EXECLEAK-5e1d2b"

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildPlugin builds this package into a temporary directory, with the race
// detector when the test has it (so that the build reuses the test's
// compiled packages).
func buildPlugin(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "gpx_bencher")
	args := []string{"build", "-o", exe}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return exe
}

// startPlugin starts the executable as Grafana does and returns the unix
// socket of its handshake, its standard output and error, and its process
// id.
func startPlugin(t *testing.T, exe string) (string, *lockedBuffer, int) {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		grpcplugin.MagicCookieKey+"="+grpcplugin.MagicCookieValue, // grafana_plugin_type=datasource
		fmt.Sprintf("PLUGIN_PROTOCOL_VERSIONS=%d", grpcplugin.ProtocolVersion),
		"PLUGIN_UNIX_SOCKET_DIR="+t.TempDir())
	output := &lockedBuffer{}
	cmd.Stderr = output
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
			fmt.Fprintln(output, sc.Text())
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("no handshake line within 30s; stderr: %s", output)
	}
	// CORE-PROTOCOL-VERSION | APP-PROTOCOL-VERSION | NETWORK | ADDRESS | PROTOCOL | SERVER-CERT
	parts := strings.Split(line, "|")
	require.Len(t, parts, 6, "handshake line %q; stderr: %s", line, output)
	require.Equal(t, []string{"1", "2", "unix"}, parts[:3], "handshake line %q", line)
	require.Equal(t, "grpc", parts[4], "handshake line %q", line)
	fmt.Fprintln(output, line)
	return parts[3], output, cmd.Process.Pid
}

func TestExecutable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin executable")
	}
	exe := buildPlugin(t)
	socket, output, _ := startPlugin(t, exe)
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dir := t.TempDir()
	plugintest.WriteFixture(t, dir)
	target := modelsServer(t)
	pc := pluginContext(t, map[string]any{"resultsDir": dir, "defaultTarget": target.URL + "/v1"})
	var answers strings.Builder

	health, err := pluginv2.NewDiagnosticsClient(conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pc})
	require.NoError(t, err)
	assert.Equal(t, pluginv2.CheckHealthResponse_OK, health.Status, health.Message)
	assert.Contains(t, health.Message, "reachable, serves: m1, m2.")
	fmt.Fprintln(&answers, health.String())

	req := backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{Queries: []backend.DataQuery{
		query(t, "A", plugin.QueryTypeRuns, `{"status": "completed"}`),
		query(t, "B", plugin.QueryTypeTrend, `{"value": "ttft_p95"}`),
		query(t, "C", "nope", `{}`),
	}})
	req.PluginContext = pc
	protoResp, err := pluginv2.NewDataClient(conn).QueryData(ctx, req)
	require.NoError(t, err)
	fmt.Fprintln(&answers, protoResp.String())
	resp, err := backend.FromProto().QueryDataResponse(protoResp)
	require.NoError(t, err)
	plugintest.CheckFrames(t, resp)
	require.NoError(t, resp.Responses["A"].Error)
	assert.Equal(t, 3, resp.Responses["A"].Frames[0].Rows())
	require.NoError(t, resp.Responses["B"].Error)
	assert.Len(t, resp.Responses["B"].Frames, 2, "chat and batch: the trend skips the failed run without a profile")
	assert.EqualError(t, resp.Responses["C"].Error, `unknown query type "nope" (want runs, trend, live, run, distribution, compare, outputs or annotations)`)

	status, body := callResource(ctx, t, conn, pc, "GET", "profiles", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `"name":"high-parallelism"`)
	fmt.Fprintln(&answers, body)
	pc.User = &pluginv2.User{Login: "v", Role: "Viewer"}
	status, body = callResource(ctx, t, conn, pc, "POST", "runs", `{"requests": 1, "concurrency": 1}`)
	assert.Equal(t, http.StatusForbidden, status, body)
	fmt.Fprintln(&answers, body)

	runID := streamRun(ctx, t, conn)
	checkLiveMetrics(ctx, t, conn, runID)

	// Invalid settings, with the key in them, are reported without it.
	bad := pluginContext(t, map[string]any{"resultsDir": "relative", "defaultTarget": "http://u:" + apiKey + "@vllm/v1"})
	bad.DataSourceInstanceSettings.Id++
	health, err = pluginv2.NewDiagnosticsClient(conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: bad})
	require.NoError(t, err)
	assert.Equal(t, pluginv2.CheckHealthResponse_ERROR, health.Status)
	fmt.Fprintln(&answers, health.String())

	assert.NotContains(t, answers.String(), apiKey)
	assert.Contains(t, output.String(), `"apiKey":"[REDACTED]"`, "the plugin's log is captured")
	assert.NotContains(t, output.String(), apiKey)
}

// streamRun starts a small run on the built-in simulator through the
// resource endpoint, as an Editor, and follows it over the stream API
// until the final frame; it returns the run's id.
func streamRun(ctx context.Context, t *testing.T, conn *grpc.ClientConn) string {
	t.Helper()
	pc := pluginContext(t, map[string]any{"resultsDir": t.TempDir()})
	pc.DataSourceInstanceSettings.Id, pc.DataSourceInstanceSettings.Uid = 7, "bench-sim"
	pc.User = &pluginv2.User{Login: "e", Role: "Editor"}
	status, body := callResource(ctx, t, conn, pc, "POST", "runs",
		`{"requests": 5, "concurrency": 5, "inputTokens": "8", "outputTokens": "4"}`)
	require.Equal(t, http.StatusCreated, status, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))

	client := pluginv2.NewStreamClient(conn)
	sub, err := client.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: started.Channel})
	require.NoError(t, err)
	assert.Equal(t, pluginv2.SubscribeStreamResponse_OK, sub.Status)
	stream, err := client.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: pc, Path: started.Channel})
	require.NoError(t, err)
	var last *data.Frame
	for n := 0; ; n++ {
		packet, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			require.Positive(t, n, "at least the final frame")
			break
		}
		require.NoError(t, err)
		last = &data.Frame{}
		require.NoError(t, json.Unmarshal(packet.Data, last))
		rows, err := last.RowLen()
		require.NoError(t, err)
		require.Equal(t, 1, rows)
	}
	assert.Equal(t, int64(5), last.Fields[1].At(0), "done")
	assert.Equal(t, int64(0), last.Fields[4].At(0), "errors")
	return started.ID
}

// checkLiveMetrics reads the plugin's metrics as Grafana does for
// /metrics/plugins/<plugin id> (the Diagnostics service's CollectMetrics)
// and checks the live metrics of streamRun's run: 5 requests, all ok.
func checkLiveMetrics(ctx context.Context, t *testing.T, conn *grpc.ClientConn, runID string) {
	t.Helper()
	resp, err := pluginv2.NewDiagnosticsClient(conn).CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	require.NoError(t, err)
	text := string(resp.GetMetrics().GetPrometheus())
	var bencher strings.Builder // the bencher's series, for short failure messages
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "bencher_") {
			bencher.WriteString(line)
		}
	}
	got, run := bencher.String(), `run_id="`+runID+`"`
	assert.Contains(t, got, `bencher_requests_total{outcome="ok",profile="custom-c5-in8-out4",`+run+`} 5`+"\n")
	assert.Contains(t, got, `bencher_requests_total{outcome="http_status",profile="custom-c5-in8-out4",`+run+`} 0`+"\n")
	assert.Regexp(t, `bencher_run_info\{api="completions",mode="closed_loop",model="`+regexp.QuoteMeta(sim.DefaultModel)+
		`",profile="custom-c5-in8-out4",`+run+`,simulated="true",target="http://127\.0\.0\.1:\d+/v1"\} 1\n`, got)
	assert.Contains(t, got, `bencher_e2e_request_latency_seconds_bucket{profile="custom-c5-in8-out4",`+run+`,le="+Inf"} 5`+"\n")
	assert.Contains(t, got, `bencher_requests_in_flight{profile="custom-c5-in8-out4",`+run+`} 0`+"\n")
	assert.Equal(t, 1, strings.Count(text, "# TYPE go_goroutines "), "the Go collector once")
}

// callResource sends one resource request over gRPC and returns the
// status and body of the response.
func callResource(ctx context.Context, t *testing.T, conn *grpc.ClientConn, pc *pluginv2.PluginContext, method, path, body string) (int, string) {
	t.Helper()
	stream, err := pluginv2.NewResourceClient(conn).CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: pc, Method: method, Path: path, Url: path, Body: []byte(body)})
	require.NoError(t, err)
	resp, err := stream.Recv()
	require.NoError(t, err)
	out := string(resp.Body)
	for {
		more, err := stream.Recv()
		if err != nil {
			break
		}
		out += string(more.Body)
	}
	return int(resp.Code), out
}

// modelsServer serves /v1/models with two models, requiring the API key.
func modelsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer "+apiKey {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"object": "list", "data": [{"id": "m1"}, {"id": "m2"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// pluginContext returns the protobuf plugin context of an instance with
// the given jsonData and the API key, as Grafana sends it.
func pluginContext(t *testing.T, jsonData map[string]any) *pluginv2.PluginContext {
	t.Helper()
	raw, err := json.Marshal(jsonData)
	require.NoError(t, err)
	return backend.ToProto().PluginContext(backend.PluginContext{
		OrgID: 1, PluginID: plugin.PluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: "bench", Name: "Bench", Type: plugin.PluginID, JSONData: raw,
			DecryptedSecureJSONData: map[string]string{"apiKey": apiKey}, Updated: time.Unix(1, 0),
		},
	})
}

// query returns a query over every fixture run.
func query(t *testing.T, refID, queryType, model string) backend.DataQuery {
	t.Helper()
	start := plugintest.Start()
	return backend.DataQuery{
		RefID: refID, QueryType: queryType, JSON: []byte(model),
		TimeRange: backend.TimeRange{From: start.Add(-time.Hour), To: start.Add(10 * 24 * time.Hour)},
	}
}

// TestExecutableSIGTERM: a SIGTERM in the middle of a run makes the real
// executable write the run's document, with the records measured so far,
// before it exits.
func TestExecutableSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin executable")
	}
	exe := buildPlugin(t)
	socket, output, pid := startPlugin(t, exe)
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dir := t.TempDir()
	pc := pluginContext(t, map[string]any{"resultsDir": dir})
	pc.User = &pluginv2.User{Login: "e", Role: "Editor"}
	status, body := callResource(ctx, t, conn, pc, "POST", "runs", `{"duration": "10m", "concurrency": 2, "outputTokens": "4"}`)
	require.Equal(t, http.StatusCreated, status, body)
	var started plugin.StartResponse
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	for {
		status, body = callResource(ctx, t, conn, pc, "GET", "runs/"+started.ID, "")
		require.Equal(t, http.StatusOK, status, body)
		var item plugin.RunListItem
		require.NoError(t, json.Unmarshal([]byte(body), &item))
		require.NotNil(t, item.Progress, body)
		if item.Progress.Done >= 3 {
			break
		}
		require.NoError(t, ctx.Err(), "no request done: %s", body)
		time.Sleep(20 * time.Millisecond)
	}

	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	path := filepath.Join(dir, started.ID+".json")
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		require.NoError(t, ctx.Err(), "no document after SIGTERM; output: %s", output)
		time.Sleep(20 * time.Millisecond)
	}
	doc, err := results.Read(path)
	require.NoError(t, err)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Equal(t, plugin.ReasonPluginStopped, doc.Error)
	assert.GreaterOrEqual(t, doc.Summary.Succeeded, 3, "the records measured before SIGTERM")
	assert.Len(t, doc.Records, doc.RecordCount)
	p95, found := doc.Summary.Value("ttft_p95")
	require.True(t, found)
	assert.Positive(t, p95)
	assert.Equal(t, "custom-c2-in512-out4", doc.Profile)
}
