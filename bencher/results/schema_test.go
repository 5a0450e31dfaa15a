package results

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/stats"
)

func TestSchemaHeader(t *testing.T) {
	t.Parallel()
	var s struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	require.NoError(t, json.Unmarshal(Schema(), &s))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", s.Schema)
	assert.Equal(t, SchemaID, s.ID)
	compileSchema(t)
}

// fullMeta returns a Meta with every section filled.
func fullMeta(t *testing.T) Meta {
	t.Helper()
	gates, err := gate.Parse("ttft_p95<=2s,success_rate>=50%,ttft_p99.9<5s,goodput>0", stats.IsValueName)
	require.NoError(t, err)
	slos, err := stats.ParseSLOs("ttft<=1s,tpot<=100ms")
	require.NoError(t, err)
	v := func(f float64) *float64 { return &f }
	return Meta{
		Name: "smoke", Labels: map[string]string{"branch": "main"}, Profile: "high-parallelism",
		Workload: Workload{Source: SourceSynthetic, InputTokens: "512", OutputTokens: "16:128", PrefixShare: 0.5, PrefixGroups: 4, Seed: 7, Size: 50},
		SLOs:     slos, Gates: gates, Percentiles: []float64{75}, Simulated: true, ServerVersion: sim.Version,
		ServerSide: &ServerSide{
			Source: "http://prometheus:4022", GPUMemoryPeakBytes: v(7.5e10), EnergyJoules: v(1234),
			KVCacheUsagePeak: v(0.42), PrefixCacheHitRatio: v(0.8), Preemptions: v(0),
			Extra: map[string]float64{"gpu_temperature_peak_celsius": 71},
		},
	}
}

// TestSchemaValidatesRealRuns validates documents of real runs of the
// runner against the simulator.
func TestSchemaValidatesRealRuns(t *testing.T) {
	t.Parallel()
	faults := sim.WithFaults(sim.Faults{ServerError: 0.1, Abort: 0.05, ErrorEvent: 0.05})
	tests := []struct {
		name    string
		simOpts []sim.Option
		opts    []bencher.Option
		omit    bool
		status  Status
	}{
		{name: "completed closed loop", simOpts: []sim.Option{sim.WithZeroDelay(), faults},
			opts: []bencher.Option{bencher.WithRecordOutputs(true), bencher.WithWarmup(2)}, status: StatusCompleted},
		{name: "completed chat open loop", simOpts: []sim.Option{sim.WithZeroDelay()},
			opts: []bencher.Option{bencher.WithAPI(bencher.APIChat), bencher.WithRate(5000)}, status: StatusCompleted},
		{name: "records omitted", simOpts: []sim.Option{sim.WithZeroDelay()}, omit: true, status: StatusCompleted},
		{name: "failed by error rate", simOpts: []sim.Option{sim.WithZeroDelay(), sim.WithFaults(sim.Faults{ServerError: 1})},
			opts: []bencher.Option{bencher.WithMaxErrorRate(0.5, 5), bencher.WithConcurrency(1)}, status: StatusFailed},
	}
	sch := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runSim(t, 50, tt.simOpts, tt.opts...)
			m := fullMeta(t)
			m.OmitRecords = tt.omit
			doc := New(res, m)
			assert.Equal(t, tt.status, doc.Status)
			data := encode(t, doc)
			require.NoError(t, validateJSON(sch, data))
			got, err := Decode(strings.NewReader(string(data)))
			require.NoError(t, err)
			assert.Len(t, got.Records, len(doc.Records))
			assert.Equal(t, len(res.Records), got.RecordCount)
		})
	}
}

// TestSchemaValidatesInterruptedRun cancels a real run midway.
func TestSchemaValidatesInterruptedRun(t *testing.T) {
	t.Parallel()
	target := startSim(t, sim.WithDecodeTime(2*time.Millisecond, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var finished atomic.Int32
	stop := bencher.ObserverFunc(func(bencher.Record) {
		if finished.Add(1) == 5 {
			cancel()
		}
	})
	res, err := bencher.Run(ctx, simRequests(50), bencher.WithTarget(target), bencher.WithConcurrency(4),
		bencher.WithRequests(50), bencher.WithObserver(stop))
	require.NoError(t, err)
	require.Error(t, ctx.Err())

	// Whether any request was cut off depends on timing (the simulator ends
	// a batch's requests in the same engine step); the run is interrupted
	// either way.
	assert.Equal(t, bencher.StopInterrupted, res.StopReason)
	doc := New(res, fullMeta(t))
	assert.Equal(t, StatusInterrupted, doc.Status)
	assert.NotEmpty(t, doc.Error)
	sch := compileSchema(t)
	require.NoError(t, validateJSON(sch, encode(t, doc)))

	// The CLI may pass the context's error as well.
	doc = NewPartial(res, fullMeta(t), ctx.Err())
	assert.Equal(t, StatusInterrupted, doc.Status)
	assert.Equal(t, "context canceled", doc.Error)
	require.NoError(t, validateJSON(sch, encode(t, doc)))
}

// TestSchemaValidatesFailedRuns checks documents of runs ended by errors.
func TestSchemaValidatesFailedRuns(t *testing.T) {
	t.Parallel()
	partial := fakeResult(30, time.Date(2026, 11, 27, 10, 15, 0, 123456789, time.UTC))
	partial.Records = partial.Records[:12]
	notStarted := &bencher.Result{Start: partial.Start, End: partial.Start, Config: partial.Config}
	tests := []struct {
		name   string
		res    *bencher.Result
		cause  error
		status Status
		msg    string
	}{
		{"could not start, no result", nil, errors.New("bencher: detecting the model: connection refused"),
			StatusFailed, "bencher: detecting the model: connection refused"},
		{"could not start, config known", notStarted, errors.New("dial tcp: connection refused"),
			StatusFailed, "dial tcp: connection refused"},
		{"fatal error midway", partial, errors.New("results disk full"), StatusFailed, "results disk full"},
		{"context cancelled", partial, context.Canceled, StatusInterrupted, "context canceled"},
	}
	sch := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			doc, path, err := WritePartial(dir, tt.res, Meta{Name: "partial"}, tt.cause)
			require.NoError(t, err)
			assert.Equal(t, tt.status, doc.Status)
			assert.Equal(t, tt.msg, doc.Error)
			got, err := Read(path)
			require.NoError(t, err)
			assert.Equal(t, tt.status, got.Status)
			require.NoError(t, validateJSON(sch, encode(t, got)))
		})
	}
}

// TestSchemaRejects checks that the schema is strict where it should be.
func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	valid := encode(t, fakeDoc(10, time.Date(2026, 11, 27, 10, 15, 0, 5e8, time.UTC)))
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"newer version", func(m map[string]any) { m["schema_version"] = 2 }},
		{"other kind", func(m map[string]any) { m["kind"] = "something.else" }},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }},
		{"credentials in target", func(m map[string]any) {
			m["environment"].(map[string]any)["target"] = "http://user:secret@host:8000/v1"
		}},
		{"bad status", func(m map[string]any) { m["status"] = "done" }},
		{"interrupted without error", func(m map[string]any) { m["status"] = "interrupted" }},
		{"records missing", func(m map[string]any) { delete(m, "records") }},
		{"records omitted but present", func(m map[string]any) { m["records_omitted"] = true }},
		{"bad time", func(m map[string]any) { m["environment"].(map[string]any)["start_time"] = "yesterday" }},
		{"unknown error class", func(m map[string]any) {
			m["summary"].(map[string]any)["errors_by_class"] = map[string]any{"gremlins": 1}
		}},
	}
	sch := compileSchema(t)
	require.NoError(t, validateJSON(sch, valid))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			require.NoError(t, json.Unmarshal(valid, &m))
			tt.mutate(m)
			data, err := json.Marshal(m)
			require.NoError(t, err)
			assert.Error(t, validateJSON(sch, data))
		})
	}
}

// TestNoSecretsInDocument runs with an API key, a secret header and a
// password in the target URL, and looks for them in the document.
func TestNoSecretsInDocument(t *testing.T) {
	t.Parallel()
	target := startSim(t, sim.WithZeroDelay(), sim.WithFaults(sim.Faults{ServerError: 0.2, ErrorEvent: 0.2}))
	withPassword := strings.Replace(target, "http://", "http://alice:pw-SECRET-3@", 1)
	res, err := bencher.Run(context.Background(), simRequests(50), bencher.WithTarget(withPassword),
		bencher.WithAPIKey("sk-SECRET-1"), bencher.WithHeader("X-Api-Key", "hdr-SECRET-2"),
		bencher.WithConcurrency(4), bencher.WithRequests(50))
	require.NoError(t, err)
	doc := New(res, Meta{})
	data := encode(t, doc)
	assert.NotContains(t, string(data), "SECRET")
	assert.NotContains(t, string(data), "alice")
	assert.Equal(t, target, doc.Environment.Target)
	require.NoError(t, validateJSON(compileSchema(t), data))
}

// TestSchemaNotSentAndRetried: a document whose records hold requests
// never sent and a retried one validates, counts the never-sent apart
// (summary.not_sent, outside the errors) and is interrupted.
func TestSchemaNotSentAndRetried(t *testing.T) {
	t.Parallel()
	res := fakeResult(20, time.Now())
	retried := &res.Records[3]
	retried.Attempts, retried.AttemptSent = 2, []time.Duration{retried.Sent, retried.Sent + time.Millisecond}
	for i := 15; i < 20; i++ {
		r := &res.Records[i]
		*r = bencher.Record{Index: i, ID: r.ID, Scheduled: r.Scheduled, End: r.Scheduled + time.Second,
			Error: bencher.ErrNotSent, ErrorMessage: "not sent: the run stopped (interrupted)"}
	}
	res.StopReason = bencher.StopInterrupted
	res.Prewarm = &bencher.Prewarm{Connections: 8, Opened: 8, Duration: 3 * time.Millisecond}
	res.Config.PrewarmConnections, res.Config.IdleTimeout = 8, bencher.DefaultIdleTimeout
	stalled := &res.Records[4]
	stalled.Error, stalled.TimeoutStage = bencher.ErrTimeout, bencher.StageBetweenTokens
	stalled.ErrorMessage = "idle timeout: no byte for 1m0s between tokens"
	doc := New(res, fullMeta(t))
	assert.Equal(t, StatusInterrupted, doc.Status)
	assert.Equal(t, 5, doc.Summary.NotSent)
	assert.Equal(t, 15, doc.Summary.Requests)
	assert.NotContains(t, doc.Summary.ErrorsByClass, bencher.ErrNotSent)
	for _, e := range doc.Errors {
		assert.NotEqual(t, bencher.ErrNotSent, e.Class, "never sent is no error")
	}
	data := encode(t, doc)
	require.NoError(t, validateJSON(compileSchema(t), data))
	assert.Contains(t, string(data), `"not_sent": 5`)
	assert.Contains(t, string(data), `"attempt_sent_ns":[`)
	assert.Contains(t, string(data), `"timeout_stage":"between_tokens"`)
	assert.Contains(t, string(data), `"prewarm_connections": 8`)
	var back Document
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, res.Prewarm, back.Prewarm)
}

// TestSchemaClientLoad: the client's load and clock source validate and
// come back as written; an unknown reason or clock is refused.
func TestSchemaClientLoad(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	res := fakeResult(10, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	lag, wait := 12.5, 0.4
	res.ClockSource = bencher.ClockKernel
	res.Client = &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonReadLag, bencher.ReasonCPUWait},
		ReadLagP99Ms: &lag, CPUWait: &wait}
	doc := New(res, fullMeta(t))
	assert.True(t, doc.ClientSaturated())
	data := encode(t, doc)
	require.NoError(t, validateJSON(sch, data))
	got, err := Decode(strings.NewReader(string(data)))
	require.NoError(t, err)
	assert.Equal(t, bencher.ClockKernel, got.ClockSource)
	assert.Equal(t, res.Client, got.Client)
	for _, bad := range []string{
		strings.Replace(string(data), `"read_lag"`, `"bored"`, 1),
		strings.Replace(string(data), `"kernel"`, `"sundial"`, 1),
	} {
		require.NotEqual(t, string(data), bad)
		assert.Error(t, validateJSON(sch, []byte(bad)))
	}
}

// TestGatesRefuseSaturatedClient: gates never pass a run whose client was
// saturated; without gates, nothing is added.
func TestGatesRefuseSaturatedClient(t *testing.T) {
	t.Parallel()
	gates, err := gate.Parse("success_rate>=0", nil)
	require.NoError(t, err)
	res := fakeResult(10, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	res.Client = &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonSchedLatency}}
	doc := New(res, Meta{Gates: gates})
	require.Len(t, doc.Gates, 2)
	assert.True(t, doc.Gates[0].Pass)
	assert.Equal(t, gate.ClientSaturated, doc.Gates[1].Name)
	assert.False(t, gate.Passed(doc.Gates))
	assert.Empty(t, New(res, Meta{}).Gates)
	allowed := New(res, Meta{Gates: gates, AllowSaturated: true})
	assert.True(t, gate.Passed(allowed.Gates), "--allow-saturated lets the gates decide")
	assert.True(t, allowed.ClientSaturated(), "the run is still marked")
	res.Client = &bencher.ClientLoad{}
	assert.True(t, gate.Passed(New(res, Meta{Gates: gates}).Gates))
}
