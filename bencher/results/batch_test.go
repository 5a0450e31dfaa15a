package results

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/stats"
	"github.com/benchstation/benchstation/internal/secret"
)

// batchResult returns the result of a batch of 4 requests created at 1s
// and seen ended at 3s: 3 answered, 1 expired; with timing, the answered
// ones were queued, started and finished within it.
func batchResult(timing bool) *bencher.Result {
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	res := &bencher.Result{Start: start, End: start.Add(3500 * time.Millisecond), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{API: bencher.APICompletions, Model: "m", Mode: bencher.ModeBatchAPI, Requests: 4}}
	for i := range 4 {
		r := bencher.Record{Index: i, Attempts: 1, Scheduled: time.Second, Sent: time.Second, End: 3 * time.Second,
			InputTokens: 10, OutputTokens: 20, TokenSource: bencher.TokensFromUsage}
		if timing {
			r.Sent = time.Second + time.Duration(i)*100*time.Millisecond
			r.End = r.Sent + 500*time.Millisecond
		}
		res.Records = append(res.Records, r)
	}
	last := &res.Records[3]
	last.InputTokens, last.OutputTokens, last.TokenSource = 0, 0, ""
	last.Error, last.ErrorMessage = bencher.ErrBatchExpired, "batch_expired: too late"
	last.Sent, last.End = time.Second, 3*time.Second
	return res
}

func batchMeta(timing bool) Meta {
	makespan, toRun := 2.0, 0.25
	return Meta{
		Profile: "batch-api",
		Gates: []gate.Gate{{Name: "ttft_p95", Op: gate.LE, Threshold: 500, Text: "ttft_p95<=500ms"},
			{Name: "e2el_p95", Op: gate.LE, Threshold: 5000, Text: "e2el_p95<=5s"},
			{Name: "request_throughput", Op: gate.GE, Threshold: 1, Text: "request_throughput>=1"}},
		Batch: &Batch{ID: "batch_1", Endpoint: "/v1/completions", InputFileID: "file-1", OutputFileID: "file-2",
			ErrorFileID: "file-3", FinalStatus: "expired", PollIntervalS: 0.5, Polls: 5, UploadS: 0.1, CreatedS: 1,
			ToInProgressS: &toRun, MakespanS: &makespan, RequestCounts: BatchCounts{Total: 4, Completed: 3, Failed: 1},
			PerRequestTiming: timing, Errors: []string{"too_late: expired"}},
	}
}

func TestBatchDocumentSaysWhatItCannotMeasure(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	for _, timing := range []bool{false, true} {
		name := "without timing"
		if timing {
			name = "with timing"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := New(batchResult(timing), batchMeta(timing))
			s := doc.Summary
			b := doc.Batch
			require.NotNil(t, b)
			assert.Equal(t, 3, b.Completed)
			assert.Equal(t, 1, b.Failed)
			assert.Equal(t, 1, b.Expired)
			assert.Equal(t, 0, b.Cancelled)
			assert.Equal(t, stats.Window{StartMS: 1000, EndMS: 3000, DurationS: 2}, s.Window, "the makespan")
			assert.Equal(t, 1.5, s.RequestThroughput, "3 completed over the 2s makespan")
			assert.Equal(t, 30.0, s.OutputThroughput)
			for _, name := range []string{"ttft_p95", "itl_mean", "tpot_p50", "server_ttft_p99", "request_rate"} {
				_, ok := s.Value(name)
				assert.False(t, ok, "%s is absent", name)
				assert.True(t, s.NotMeasured(name), name)
			}
			e2el, ok := s.Value("e2el_p95")
			assert.Equal(t, timing, ok, "E2EL exists only with the server's per-request timing")
			_, ok = s.Value("concurrency")
			assert.Equal(t, timing, ok)
			if timing {
				assert.InDelta(t, 690, e2el, 1e-9, "queued to finished: 500, 600 and 700 ms")
				assert.Equal(t, 3, s.QueueDelay.Count)
			} else {
				assert.Equal(t, 0, s.E2EL.Count)
				assert.Equal(t, 0, s.QueueDelay.Count)
			}

			require.Len(t, doc.Gates, 3)
			assert.True(t, doc.Gates[0].NotMeasured)
			assert.False(t, doc.Gates[0].Pass)
			assert.Equal(t, "not measured in this mode: ttft_p95", doc.Gates[0].Reason())
			assert.Equal(t, timing, doc.Gates[1].Pass)
			assert.Equal(t, !timing, doc.Gates[1].NotMeasured)
			assert.True(t, doc.Gates[2].Pass)

			data := encode(t, doc)
			require.NoError(t, validateJSON(sch, data))
			var m map[string]any
			require.NoError(t, json.Unmarshal(data, &m))
			sm := m["summary"].(map[string]any)
			assert.Equal(t, map[string]any{"count": 0.0}, sm["ttft_ms"])
			assert.NotContains(t, sm, "request_rate")
			assert.Equal(t, !timing, sm["concurrency"] == nil, "concurrency is omitted, not 0, without timing")
			got, err := Decode(strings.NewReader(string(data)))
			require.NoError(t, err)
			assert.Equal(t, doc.Header.Batch, got.Header.Batch)
			assert.Equal(t, doc.Summary.Unmeasured, got.Summary.Unmeasured)
			assert.True(t, got.Summary.NotMeasured("ttft_p50"), "read back, it still says so")
		})
	}
}

func TestOnlineDocumentHasNoBatchFields(t *testing.T) {
	t.Parallel()
	doc := New(fakeResult(10, time.Now()), Meta{})
	data := string(encode(t, doc))
	assert.NotContains(t, data, `"batch"`)
	assert.NotContains(t, data, `"unmeasured"`)
	assert.False(t, doc.BatchMode())
}

func TestBatchMetaIsNotModified(t *testing.T) {
	t.Parallel()
	m := batchMeta(false)
	m.Batch.Errors = []string{"err with sk-secret-1234"}
	m.Redactor = secret.NewRedactor("sk-secret-1234")
	doc := New(batchResult(false), m)
	assert.Equal(t, []string{"err with " + secret.Redacted}, doc.Batch.Errors)
	assert.Equal(t, []string{"err with sk-secret-1234"}, m.Batch.Errors, "the caller's copy is left alone")
}
