package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/pacer"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/promtest"
)

func TestParseShard(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == jobIndexEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		spec, env    string
		index, count int
	}{{"2/4", "", 2, 4}, {"0/1", "", 0, 1}, {" 3/4 ", "", 3, 4}, {"/4", "3", 3, 4}, {"1/4", "3", 1, 4}} {
		i, n, err := parseShard(c.spec, env(c.env))
		require.NoError(t, err, c.spec)
		assert.Equal(t, []int{c.index, c.count}, []int{i, n}, c.spec)
	}
	for _, c := range []struct{ spec, env, want string }{
		{"4/4", "", `--shard "4/4": the index "4" must be a whole number from 0 to 3`},
		{"-1/4", "", `--shard "-1/4": the index "-1" must be a whole number from 0 to 3`},
		{"1/0", "", `--shard "1/0": the shard count "0" must be a whole number of at least 1`},
		{"1/x", "", `--shard "1/x": the shard count "x" must be a whole number of at least 1`},
		{"2", "", `--shard "2": want INDEX/COUNT, such as 2/4 (the third of four shards; from 0), or /COUNT to take the index from $JOB_COMPLETION_INDEX`},
		{"/4", "", `--shard "/4" gives no index, and $JOB_COMPLETION_INDEX (set in the pods of a Kubernetes Indexed Job) is not set: give one, such as --shard 0/4`},
		{"/4", "4", `--shard "/4": the index "4" ($JOB_COMPLETION_INDEX) must be a whole number from 0 to 3`},
	} {
		_, _, err := parseShard(c.spec, env(c.env))
		assert.EqualError(t, err, c.want)
		assert.ErrorAs(t, err, new(usageError))
	}
}

func TestParseStartAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	got, err := parseStartAt("2026-12-02T17:00:30Z", 2*time.Second, now)
	require.NoError(t, err)
	assert.True(t, got.Equal(now.Add(30*time.Second)))
	_, err = parseStartAt("2026-12-02T18:59:59+02:00", 2*time.Second, now)
	require.NoError(t, err, "one second ago, within the grace")
	_, err = parseStartAt("2026-12-02T16:59:50Z", 2*time.Second, now)
	assert.EqualError(t, err, "--start-at 2026-12-02T16:59:50Z was 10s ago, more than --start-grace 2s: give an instant ahead, "+
		"such as $(date -u -d '+30 sec' +%Y-%m-%dT%H:%M:%SZ)")
	_, err = parseStartAt("17:00", 2*time.Second, now)
	assert.EqualError(t, err, `--start-at "17:00": want an RFC 3339 instant, such as 2026-12-02T17:00:00Z`)
}

func TestDerivedRunIDIsAlikeOnEveryShard(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	o := &loadOptions{seed: 7, target: "http://gpu:8000/v1", rate: 40, requests: 400}
	id := deriveRunID(o, 4, at)
	assert.Regexp(t, `^20261202T170000Z-[0-9a-f]{6}$`, id)
	assert.Equal(t, id, deriveRunID(&loadOptions{seed: 7, target: "http://gpu:8000/v1", rate: 40, requests: 400}, 4, at))
	assert.NotEqual(t, id, deriveRunID(o, 3, at), "another shard count")
	o.seed = 8
	assert.NotEqual(t, id, deriveRunID(o, 4, at), "another seed")
}

func TestShardFlagsRefused(t *testing.T) {
	t.Parallel()
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	target := []string{"--target", "http://127.0.0.1:1/v1"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"run", "--shard", "0/2", "--start-at", soon},
			"--shard needs --target: the shards must load one server (without it, each would start a simulator of its own)"},
		{"no start", append([]string{"run", "--shard", "0/2"}, target...),
			"--shard needs --start-at (or $BENCHER_START_AT): the instant every shard starts at"},
		{"a sweep", append([]string{"run", "--shard", "0/2", "--start-at", soon, "--sweep", "1,2"}, target...),
			"--shard sends one run: not with --sweep"},
		{"run id alone", append([]string{"run", "--run-id", "x"}, target...),
			"--run-id names the run of the shards of --shard: give --shard too"},
		{"a bad run id", append([]string{"run", "--shard", "0/2", "--start-at", soon, "--run-id", "a/b"}, target...),
			`--run-id "a/b": want letters, digits, '.', '_' and '-', not starting with '.'`},
		{"fewer workers than shards", append([]string{"run", "--shard", "1/4", "--start-at", soon, "--concurrency", "3"}, target...),
			"concurrency 3 over 4 shards leaves a shard without a worker: want a concurrency of at least 4"},
		{"fewer requests than shards", append([]string{"run", "--shard", "1/4", "--start-at", soon, "--requests", "3"}, target...),
			"3 requests over 4 shards leaves a shard without a request: want at least 4"},
		{"a start long past", append([]string{"run", "--shard", "1/4", "--start-at", "2026-01-01T00:00:00Z"}, target...),
			"--start-at 2026-01-01T00:00:00Z was "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runInProcess(t, append(c.args, "--results-dir", t.TempDir())...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, r.stderr, c.want)
		})
	}
}

// shardRunID matches the line of a shard that names its run.
var shardRunID = regexp.MustCompile(`shard \d/4 of run (\S+);`)

// TestShardedRunEndToEnd runs four shard processes of the real binary
// against one bencher sim process, starting together, merges their
// documents with bencher merge, and reads the merged run through the
// Grafana plugin's runs and run queries.
func TestShardedRunEndToEnd(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	srv := start(t, "sim", "--listen", addr, "--zero-delay")
	srv.waitStderr(t, regexp.MustCompile(`SIMULATED vLLM server`), 20*time.Second)

	const shards, requests, rate, seed = 4, 160, 40.0, 11
	dir, out := t.TempDir(), t.TempDir()
	runDir := filepath.Join(dir, "run")
	// Time for four processes to start and ready themselves on a loaded machine.
	startAt := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	procs := make([]*process, shards)
	for i := range procs {
		args := []string{"run", "--target", "http://" + addr + "/v1", "--shard", fmt.Sprintf("%d/%d", i, shards),
			"--start-at", startAt.Format(time.RFC3339), "--seed", fmt.Sprint(seed), "--rate", fmt.Sprint(rate),
			"--requests", fmt.Sprint(requests), "--input-tokens", "16", "--output-tokens", "4",
			"--results-dir", runDir, "--allow-saturated", "--format", "json"}
		if i == 2 {
			args = append(args, "--metrics-listen", "127.0.0.1:0")
		}
		procs[i] = start(t, args...)
	}
	// Shard 2's live metrics, scraped while it waits for the start.
	body := string(get(t, procs[2].waitStderr(t, metricsAddr, 20*time.Second)))
	runID := procs[0].waitStderr(t, shardRunID, 20*time.Second)
	for _, p := range procs[1:] {
		assert.Equal(t, runID, p.waitStderr(t, shardRunID, 20*time.Second), "every shard derives the same run id")
	}
	assert.Regexp(t, `bencher_run_info\{[^}]*run_id="`+regexp.QuoteMeta(runID)+`",shard="2",`, body)
	assert.Regexp(t, `\nprocess_cpu_seconds_total\{shard="2"\} `, body, "every series of the process has the label")
	for i, p := range procs {
		require.Equal(t, exitOK, p.wait(t, 90*time.Second), "shard %d: %s", i, p.stderr.String())
	}

	merged := filepath.Join(out, "merged.json")
	m := start(t, "merge", filepath.Join(runDir, "shard-*.json"), "-o", merged) // the pattern, as no shell expanded it
	require.Equal(t, exitOK, m.wait(t, 30*time.Second), m.stderr.String())
	assert.Contains(t, m.stdout.String(), "Successful requests:                     160")
	assert.Contains(t, m.stderr.String(), "written to "+merged)
	for _, path := range documents(t, runDir) {
		sd := validDocument(t, path)
		require.NotNil(t, sd.Shard, path)
		assert.Equal(t, runID, sd.Shard.RunID)
	}
	doc := validDocument(t, merged)
	assert.Equal(t, runID, doc.ID)
	assert.Equal(t, results.StatusCompleted, doc.Status)
	assert.Equal(t, requests, doc.Summary.Succeeded)
	assert.Equal(t, shards, doc.Config.Run.Shards)
	assert.True(t, doc.Environment.StartTime.Equal(startAt))
	require.Len(t, doc.Merged.Shards, shards)
	for i, s := range doc.Merged.Shards {
		assert.Equal(t, requests/shards, s.RecordCount, "shard %d", i)
		assert.Zero(t, s.Shift, "shard %d started at start_at, on its clock", i)
		require.NotNil(t, s.ClockOffset, "the simulator sends a Date")
		// One machine, one clock: the bounds hold 0, as the simulator (Go's
		// net/http) stamps its Date when it answers.
		assert.LessOrEqual(t, s.ClockOffset.Offset.Abs(), s.ClockOffset.Uncertainty, "shard %d: %+v", i, s.ClockOffset)
		assert.Less(t, s.ClockOffset.Uncertainty, 500*time.Millisecond, "shard %d: bisected below the Date's second", i)
	}

	// The scheduled arrivals are exactly one Poisson schedule of the seed:
	// the shards' arrivals add up to the rate.
	p, err := pacer.NewPoisson(rate, seed)
	require.NoError(t, err)
	want := pacer.Schedule(p, requests)
	require.Len(t, doc.Records, requests)
	sent := make([]time.Duration, requests)
	for i, r := range doc.Records {
		require.Equal(t, i, r.Index)
		assert.Equal(t, want[i], r.Scheduled, "request %d", i)
		sent[i] = r.Sent
	}
	// The sends, loosely: the four shards sent at once, at about the rate
	// (one after the other, they would have sent at a quarter of it).
	slices.Sort(sent)
	sentRate := float64(requests-1) / (sent[requests-1] - sent[0]).Seconds()
	schedRate := float64(requests-1) / (want[requests-1] - want[0]).Seconds()
	t.Logf("sent at %.2f/s, scheduled at %.2f/s", sentRate, schedRate)
	assert.InEpsilon(t, schedRate, sentRate, 0.25, "sent at %.1f/s, scheduled at %.1f/s", sentRate, schedRate)

	// The Grafana plugin lists it and shows it as any run.
	readByPlugin(t, out, runID, requests)
}

// readByPlugin queries the plugin over dir for the run list and the run.
func readByPlugin(t *testing.T, dir, runID string, requests int) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"resultsDir": dir})
	require.NoError(t, err)
	ds := plugin.New(backend.DataSourceInstanceSettings{UID: "bench-uid", Name: "Bench", Type: plugin.PluginID,
		JSONData: raw, Updated: time.Unix(1, 0)}, plugin.WithLogger(plugintest.NewLogger()))
	t.Cleanup(ds.Dispose)
	query := func(queryType string, model map[string]any) data.Frames {
		model["queryType"] = queryType
		js, err := json.Marshal(model)
		require.NoError(t, err)
		resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
			PluginContext: backend.PluginContext{PluginID: plugin.PluginID},
			Queries: []backend.DataQuery{{RefID: "A", QueryType: queryType, JSON: js,
				TimeRange: backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}}},
		})
		require.NoError(t, err)
		r := resp.Responses["A"]
		require.NoError(t, r.Error)
		require.NotEmpty(t, r.Frames)
		return r.Frames
	}
	runs := query(plugin.QueryTypeRuns, map[string]any{})[0]
	ids, _ := runs.FieldByName("id")
	require.NotNil(t, ids)
	require.Equal(t, 1, ids.Len())
	assert.Equal(t, runID, ids.At(0))
	reqs, _ := runs.FieldByName("requests")
	require.NotNil(t, reqs)
	assert.Equal(t, float64(requests), *reqs.At(0).(*float64))

	frame := query(plugin.QueryTypeRun, map[string]any{"runId": runID, "bucket": "1s"})[0]
	rates, _ := frame.FieldByName("completions_per_second")
	require.NotNil(t, rates)
	total := 0.0
	for i := range rates.Len() {
		if v, ok := rates.ConcreteAt(i); ok {
			total += v.(float64)
		}
	}
	assert.InDelta(t, float64(requests), total, 0.001, "every completion in the run's 1 s buckets")
}

func TestMergeCommandRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	at := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	res := &bencher.Result{Start: at, End: at.Add(time.Second), StopReason: bencher.StopCompleted,
		Config:  bencher.RunConfig{Mode: bencher.ModeClosedLoop, Concurrency: 2, Requests: 2, Shards: 2, StartAt: at},
		Shard:   &bencher.Shard{Index: 0, Count: 2, Concurrency: 1, Requests: 1},
		Records: []bencher.Record{{Index: 0, Attempts: 1, Sent: 1, End: time.Millisecond}}}
	_, err := results.Write(dir, results.New(res, results.Meta{ID: "shard-0-of-2-r", RunID: "r"}))
	require.NoError(t, err)
	pattern := filepath.Join(dir, "shard-*.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", pattern}, "bencher: merge: run r has 2 shards, and shard 1 is missing (given: " +
			filepath.Join(dir, "shard-0-of-2-r.json") + ")\n"},
		{[]string{"merge", filepath.Join(dir, "none-*.json")}, "bencher: no file matches " + filepath.Join(dir, "none-*.json") + "\n"},
		{[]string{"merge", filepath.Join(dir, "absent.json")}, "bencher: " + filepath.Join(dir, "absent.json") + ": results: open "},
	} {
		r := runInProcess(t, append(c.args, "--results-dir", t.TempDir())...)
		assert.Equal(t, exitUsage, r.code, c.args)
		assert.Contains(t, r.stderr, c.want)
	}
}

// TestShardInterruptedBeforeItsStart: a shard stopped while it waits for
// start_at still writes a document that says which shard of which run it
// was, so that merge joins it (the merged run is then interrupted) instead
// of refusing a document "without a shard section".
func TestShardInterruptedBeforeItsStart(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	srv := start(t, "sim", "--listen", addr, "--zero-delay")
	srv.waitStderr(t, regexp.MustCompile(`SIMULATED vLLM server`), 20*time.Second)
	runDir := t.TempDir()
	// Time for the first shard to start and be interrupted on a loaded machine.
	startAt := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second).Format(time.RFC3339)
	shard := func(i int) []string {
		return []string{"run", "--target", "http://" + addr + "/v1", "--run-id", "cut", "--requests", "8",
			"--input-tokens", "16", "--output-tokens", "4", "--results-dir", runDir, "--allow-saturated",
			"--format", "json", "--shard", fmt.Sprintf("%d/2", i), "--start-at", startAt}
	}

	// Shard 1 is interrupted while it waits for the start.
	p := start(t, shard(1)...)
	p.waitStderr(t, regexp.MustCompile(`shard 1/2 of run cut;`), 20*time.Second)
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, exitInterrupted, p.wait(t, 30*time.Second))
	assert.Contains(t, p.stderr.String(), "interrupted after 0 requests (before its start: nothing was measured)")
	assert.Contains(t, p.stderr.String(), "0/0 requests ok, n/a req/s, n/a output tok/s", "nothing measured: n/a, not 0")
	cut := validDocument(t, filepath.Join(runDir, "shard-1-of-2-cut.json"))
	assert.Equal(t, results.StatusInterrupted, cut.Status)
	require.NotNil(t, cut.Shard, "the document says which shard it was")
	assert.Equal(t, results.ShardInfo{Index: 1, Count: 2, RunID: "cut", Concurrency: cut.Shard.Concurrency, Requests: 4,
		ClockOffset: cut.Shard.ClockOffset}, *cut.Shard)
	assert.Empty(t, cut.Records)

	// Shard 0 runs at the start; the merged run is interrupted, with shard 0's records.
	r := runInProcess(t, shard(0)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	merged := filepath.Join(t.TempDir(), "m.json")
	r = runInProcess(t, "merge", filepath.Join(runDir, "shard-*.json"), "-o", merged)
	assert.Equal(t, exitError, r.code, "the run was interrupted, not the merge: %s", r.stderr)
	assert.Contains(t, r.stderr, "shard 1/2: shard-1-of-2-cut on ")
	assert.Contains(t, r.stderr, "0 records, interrupted; sent no request;")
	doc := validDocument(t, merged)
	assert.Equal(t, results.StatusInterrupted, doc.Status)
	assert.Equal(t, 4, doc.Summary.Succeeded)
	assert.Len(t, doc.Records, 4)
}
