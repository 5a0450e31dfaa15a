// Package plugintest holds what the plugin's tests share: a fixture results
// directory of hand-built runs, a logger that keeps what it was given, and a
// check of the frames of a QueryData response.
package plugintest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// Start returns the start of the first fixture run, 2026-11-20 10:00 UTC;
// run i starts 25 hours later than run i-1.
func Start() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }

// Run describes one fixture run.
type Run struct {
	ID, Name, Profile, Model string
	Labels                   map[string]string
	Simulated                bool
	// Requests, Failed: the number of requests and how many of them fail.
	Requests, Failed int
	// TTFT and ITL are the first request's; later requests are slower by
	// Slowdown per request.
	TTFT, ITL, Slowdown time.Duration
	// Cause ends the run early (see results.NewPartial).
	Cause error
	// StopReason is the runner's reason (default bencher.StopCompleted).
	StopReason bencher.StopReason
	// Outputs records the generated texts (--record-outputs).
	Outputs bool
}

// Runs returns the fixture's runs, in start order: two nightly chat runs
// on m1 recorded with outputs, a simulated batch run on m2, an interrupted chat run on m2 and a
// failed run without a profile.
func Runs() []Run {
	ms := time.Millisecond
	return []Run{
		{ID: "20261120T100000Z-aaaaa1", Name: "nightly chat", Profile: "chat", Model: "m1",
			Labels: map[string]string{"ci": "true", "branch": "main"}, Requests: 20, TTFT: 50 * ms, ITL: 10 * ms, Slowdown: 2 * ms, Outputs: true},
		{ID: "20261121T110000Z-aaaaa2", Name: "nightly chat", Profile: "chat", Model: "m1",
			Labels: map[string]string{"ci": "true"}, Requests: 20, Failed: 1, TTFT: 60 * ms, ITL: 11 * ms, Slowdown: 3 * ms, Outputs: true},
		{ID: "20261122T120000Z-bbbbb1", Name: "batch sweep", Profile: "batch", Model: "m2", Simulated: true,
			Labels: map[string]string{"team": "infra"}, Requests: 30, TTFT: 200 * ms, ITL: 20 * ms, Slowdown: 5 * ms},
		{ID: "20261123T130000Z-ccccc1", Name: "chat on m2", Profile: "chat", Model: "m2",
			Requests: 10, TTFT: 80 * ms, ITL: 12 * ms, Slowdown: ms, Cause: context.Canceled},
		{ID: "20261124T140000Z-ddddd1", Name: "overload", Model: "m1", Requests: 10, Failed: 6,
			TTFT: 300 * ms, ITL: 30 * ms, Slowdown: 10 * ms, StopReason: bencher.StopMaxErrorRate},
	}
}

// WriteFixture writes the documents of Runs into dir and returns them.
func WriteFixture(tb testing.TB, dir string) []*results.Document {
	tb.Helper()
	var docs []*results.Document
	for i, r := range Runs() {
		start := Start().Add(time.Duration(i) * (25 * time.Hour))
		doc := Document(r, start)
		_, err := results.Write(dir, doc)
		require.NoError(tb, err, "writing fixture run %s", r.ID)
		docs = append(docs, doc)
	}
	return docs
}

// Document builds the document of a fixture run started at start.
func Document(r Run, start time.Time) *results.Document {
	records := make([]bencher.Record, r.Requests)
	for i := range records {
		records[i] = record(r, i)
	}
	var last time.Duration
	for _, rec := range records {
		last = max(last, rec.End)
	}
	res := &bencher.Result{
		Start: start, End: start.Add(last),
		StopReason: cmpOr(r.StopReason, bencher.StopCompleted),
		Config: bencher.RunConfig{
			Target: "http://vllm:8000/v1", API: bencher.APIChat, Model: r.Model, Stream: true,
			Mode: bencher.ModeClosedLoop, Concurrency: 4, Requests: r.Requests, Timeout: time.Minute, MaxErrorRate: 0.5,
			RecordOutputs: r.Outputs,
		},
		Records: records,
	}
	meta := results.Meta{
		ID: r.ID, Name: r.Name, Labels: r.Labels, Profile: r.Profile, Simulated: r.Simulated,
		Workload:       results.Workload{Source: results.SourceSynthetic, InputTokens: "128", OutputTokens: "16", Seed: 1},
		BencherVersion: "fixture", Host: "fixture-host",
	}
	return results.NewPartial(res, meta, r.Cause)
}

// record returns the i-th request of a fixture run: 100 ms apart, 16
// output tokens, the last r.Failed requests failing with HTTP 503.
func record(r Run, i int) bencher.Record {
	d := time.Duration(i)
	rec := bencher.Record{
		Index: i, ID: fmt.Sprintf("req-%d", i),
		Scheduled: d * 100 * time.Millisecond, InputTokens: 128, Attempts: 1,
	}
	rec.Sent = rec.Scheduled + time.Millisecond
	if i >= r.Requests-r.Failed {
		rec.End = rec.Sent + 5*time.Millisecond
		rec.HTTPStatus, rec.Error, rec.ErrorMessage = 503, bencher.ErrHTTPStatus, "server overloaded"
		return rec
	}
	rec.FirstToken = rec.Scheduled + r.TTFT + d*r.Slowdown
	for k := range 16 {
		rec.ChunkTimes = append(rec.ChunkTimes, rec.FirstToken+time.Duration(k)*r.ITL)
	}
	rec.End = rec.ChunkTimes[15] + time.Millisecond
	rec.OutputTokens, rec.TokenSource, rec.FinishReason = 16, bencher.TokensFromUsage, "length"
	if r.Outputs {
		rec.Output = fmt.Sprintf("answer %d of %s", i, r.ID[len(r.ID)-6:])
		rec.Prompt = fmt.Sprintf("user: question %d", i)
	}
	return rec
}

// cmpOr returns the first of its arguments that is not empty.
func cmpOr(a, b bencher.StopReason) bencher.StopReason {
	if a != "" {
		return a
	}
	return b
}

// CheckFrames fails the test unless every frame of every response has
// fields of equal lengths and encodes to Arrow, as Grafana needs: one bad
// frame fails a whole QueryData response.
func CheckFrames(tb testing.TB, resp *backend.QueryDataResponse) {
	tb.Helper()
	require.NotNil(tb, resp)
	for refID, r := range resp.Responses {
		for i, f := range r.Frames {
			_, err := f.RowLen()
			require.NoError(tb, err, "refId %s frame %d (%s): unequal field lengths", refID, i, f.Name)
			_, err = f.MarshalArrow()
			require.NoError(tb, err, "refId %s frame %d (%s): Arrow encoding", refID, i, f.Name)
		}
	}
}

// Logger is a log.Logger that keeps every line it is given, for tests
// that check what is logged. It is safe for concurrent use.
type Logger struct {
	mu    *sync.Mutex
	lines *[]string
	args  []any
}

var _ log.Logger = Logger{}

// NewLogger returns an empty Logger.
func NewLogger() Logger {
	return Logger{mu: &sync.Mutex{}, lines: &[]string{}}
}

// add keeps one line.
func (l Logger) add(level, msg string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, fmt.Sprintf("%s %s %v", level, msg, append(append([]any{}, l.args...), args...)))
}

// Debug logs at debug level.
func (l Logger) Debug(msg string, args ...any) { l.add("debug", msg, args) }

// Info logs at info level.
func (l Logger) Info(msg string, args ...any) { l.add("info", msg, args) }

// Warn logs at warn level.
func (l Logger) Warn(msg string, args ...any) { l.add("warn", msg, args) }

// Error logs at error level.
func (l Logger) Error(msg string, args ...any) { l.add("error", msg, args) }

// With returns a logger that adds args to every line.
func (l Logger) With(args ...any) log.Logger {
	l.args = append(append([]any{}, l.args...), args...)
	return l
}

// Level is log.Debug: every line is kept.
func (l Logger) Level() log.Level { return log.Debug }

// FromContext returns l.
func (l Logger) FromContext(context.Context) log.Logger { return l }

// String returns every line kept, one per line.
func (l Logger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(*l.lines, "\n")
}
