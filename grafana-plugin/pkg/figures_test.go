package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

// The figures' results directory: FiguresRuns runs of FiguresRequests
// requests each.
const (
	figuresEnv      = "BENCHSTATION_RUNS_FIGURES"
	figuresRuns     = 1000
	figuresRequests = 5000
)

// TestRunsFigures measures the figures: a runs query over a results
// directory of 1,000 runs of 5,000 requests each, sent 5 times over gRPC to
// the real executable, and the executable's resident memory. It runs only
// when BENCHSTATION_RUNS_FIGURES names a directory, which it fills first if
// it holds fewer documents:
//
//	BENCHSTATION_RUNS_FIGURES=/tmp/figures go test -run TestRunsFigures -v ./grafana-plugin/pkg
func TestRunsFigures(t *testing.T) {
	dir := os.Getenv(figuresEnv)
	if dir == "" {
		t.Skip(figuresEnv + " names no directory")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	fillFiguresDir(t, dir)
	exe := buildPlugin(t)
	socket, _, pid := startPlugin(t, exe)
	t.Logf("plugin started: VmRSS %s", procStatus(t, pid, "VmRSS"))
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	pc := pluginContext(t, map[string]any{"resultsDir": dir})
	req := backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: plugin.QueryTypeRuns, JSON: []byte(`{}`),
		TimeRange: backend.TimeRange{From: plugintest.Start().Add(-time.Hour), To: plugintest.Start().Add(2000 * time.Hour)},
	}}})
	req.PluginContext = pc
	client := pluginv2.NewDataClient(conn)
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		start := time.Now()
		protoResp, err := client.QueryData(ctx, req)
		took := time.Since(start)
		cancel()
		require.NoError(t, err)
		resp, err := backend.FromProto().QueryDataResponse(protoResp)
		require.NoError(t, err)
		require.NoError(t, resp.Responses["A"].Error)
		rows := resp.Responses["A"].Frames[0].Rows()
		t.Logf("runs query %d: %d rows in %v; plugin VmRSS %s, VmHWM %s", i+1, rows, took.Round(10*time.Microsecond),
			procStatus(t, pid, "VmRSS"), procStatus(t, pid, "VmHWM"))
	}
	timeRunQueries(t, client, pc, pid)
}

// timeRunQueries sends a "run" query of one run three times (a read of the
// whole document, then two cache hits) and logs how long each took.
func timeRunQueries(t *testing.T, client pluginv2.DataClient, pc *pluginv2.PluginContext, pid int) {
	t.Helper()
	req := backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: plugin.QueryTypeRun, JSON: []byte(`{"runId": "20261120T100000Z-aaaaa1-0000"}`),
	}}})
	req.PluginContext = pc
	for i := range 3 {
		start := time.Now()
		protoResp, err := client.QueryData(context.Background(), req)
		took := time.Since(start)
		require.NoError(t, err)
		require.Empty(t, protoResp.Responses["A"].Error)
		t.Logf("run query %d (5,000 records): %v; plugin VmRSS %s", i+1, took.Round(10*time.Microsecond), procStatus(t, pid, "VmRSS"))
	}
}

// fillFiguresDir writes the figures' documents that dir lacks, in parallel.
func fillFiguresDir(t *testing.T, dir string) {
	t.Helper()
	runs := plugintest.Runs()
	ids := make(chan int)
	errs := make(chan error, figuresRuns)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range ids {
				r := runs[i%len(runs)]
				r.ID, r.Requests = fmt.Sprintf("%s-%04d", r.ID, i), figuresRequests
				if _, err := os.Stat(filepath.Join(dir, r.ID+".json")); err == nil {
					continue
				}
				_, err := results.Write(dir, plugintest.Document(r, plugintest.Start().Add(time.Duration(i)*time.Hour)))
				errs <- err
			}
		})
	}
	for i := range figuresRuns {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// procStatus returns one line's value of /proc/<pid>/status, such as
// "123456 kB" for VmRSS.
func procStatus(t *testing.T, pid int, key string) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
