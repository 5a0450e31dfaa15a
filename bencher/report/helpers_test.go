package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedStart is the start time of the fixture runs.
var fixedStart = time.Date(2026, 11, 27, 10, 15, 0, 250_000_000, time.UTC)

// lcg is a tiny deterministic generator, so that fixtures never depend on
// math/rand's implementation.
type lcg uint64

// next returns a number in [0, n).
func (g *lcg) next(n int) int {
	*g = *g*6364136223846793005 + 1442695040888963407
	return int(uint64(*g>>33) % uint64(n))
}

// fixtureRecords returns n deterministic records of a closed loop of conc
// workers whose speed is scaled by slow (1 = the base speed), with a 503
// every 25 requests and a timeout every 100.
func fixtureRecords(n, conc int, slow float64, seed lcg) []bencher.Record {
	g := seed
	free := make([]time.Duration, conc)
	recs := make([]bencher.Record, n)
	ms := func(x float64) time.Duration { return time.Duration(x * slow * float64(time.Millisecond)) }
	for i := range recs {
		r := &recs[i]
		w := i % conc
		r.Index, r.ID, r.Attempts = i, fmt.Sprint(i), 1
		r.Scheduled = free[w]
		r.Sent = r.Scheduled + time.Duration(g.next(200))*time.Microsecond
		r.InputTokens = 100 + g.next(400)
		switch {
		case i%100 == 99:
			r.Error, r.ErrorMessage, r.End = bencher.ErrTimeout, "the request timed out after 5s", r.Sent+5*time.Second
		case i%25 == 24:
			r.Error, r.HTTPStatus, r.End = bencher.ErrHTTPStatus, 503, r.Sent+ms(2)
			r.ErrorMessage = "Service Unavailable | overloaded"
		default:
			r.HTTPStatus, r.TokenSource, r.FinishReason = 200, bencher.TokensFromUsage, "length"
			r.OutputTokens = 32 + g.next(96)
			t := r.Sent + ms(float64(40+g.next(120)))
			r.FirstToken = t
			r.ChunkTimes = make([]time.Duration, r.OutputTokens)
			for j := range r.ChunkTimes {
				r.ChunkTimes[j] = t
				t += ms(float64(10 + g.next(8)))
			}
			r.End = t
		}
		free[w] = r.End
	}
	return recs
}

// fixtureDoc returns a fixed document: n requests at the given
// concurrency, slowed down by slow.
func fixtureDoc(t *testing.T, id string, n, conc int, slow float64) *results.Document {
	t.Helper()
	recs := fixtureRecords(n, conc, slow, lcg(n*31+conc))
	end := time.Duration(0)
	for i := range recs {
		end = max(end, recs[i].End)
	}
	res := &bencher.Result{
		Start: fixedStart, End: fixedStart.Add(end + 5*time.Millisecond), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{
			Target: "http://localhost:8000/v1", API: bencher.APIChat, Model: "benchstation/sim-1b", Stream: true,
			Mode: bencher.ModeClosedLoop, Concurrency: conc, Requests: n, Timeout: 5 * time.Second,
			RetryBase: 250 * time.Millisecond, RetryMax: 10 * time.Second, Seed: 1,
		},
		Records: recs,
	}
	gates, err := gate.Parse("ttft_p95<=200ms,success_rate>=99%,output_throughput>=50", stats.IsValueName)
	require.NoError(t, err)
	slos, err := stats.ParseSLOs("ttft<=150ms,tpot<=20ms")
	require.NoError(t, err)
	doc := results.New(res, results.Meta{
		ID: id, Name: "smoke", Profile: "high-parallelism", Labels: map[string]string{"ci": "true"},
		Workload: results.Workload{Source: results.SourceSynthetic, InputTokens: "100:500", OutputTokens: "32:128", Seed: 1},
		SLOs:     slos, Gates: gates, Simulated: true, ServerVersion: "0.1.0+benchstation-sim",
		Host: "bench-host", BencherVersion: "v0.1.0",
	})
	doc.Environment.GoVersion, doc.Environment.OS, doc.Environment.Arch = "go1.26.0", "linux", "amd64"
	return doc
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden files")
	assert.Equal(t, string(want), string(got), "golden file %s (go test -update rewrites it)", path)
}

// render calls fn with a buffer and returns what it wrote.
func render(t *testing.T, fn func(b *bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, fn(&b))
	return b.Bytes()
}
