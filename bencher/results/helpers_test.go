package results

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/sim/simtest"
)

// startSim starts the simulator for the test and returns its OpenAI base URL.
func startSim(t *testing.T, opts ...sim.Option) string {
	t.Helper()
	return simtest.Start(t, opts...) + "/v1"
}

// simRequests returns n small completions requests.
func simRequests(n int) bencher.Requests {
	reqs := make(bencher.Requests, n)
	for i := range reqs {
		reqs[i] = bencher.Request{
			ID:        fmt.Sprint("req-", i),
			Prompt:    fmt.Sprintf("Request %d: tell me about <tags> & \"quotes\" in benchmarks.", i),
			MaxTokens: 16,
		}
	}
	return reqs
}

// runSim runs n requests through the runner against a simulator started
// with simOpts, and returns the result.
func runSim(t *testing.T, n int, simOpts []sim.Option, opts ...bencher.Option) *bencher.Result {
	t.Helper()
	target := startSim(t, simOpts...)
	opts = append([]bencher.Option{
		bencher.WithTarget(target), bencher.WithConcurrency(8), bencher.WithRequests(n),
	}, opts...)
	res, err := bencher.Run(context.Background(), simRequests(n), opts...)
	require.NoError(t, err)
	return res
}

// compileSchema compiles the embedded schema, asserting formats.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(SchemaFile, doc))
	sch, err := c.Compile(SchemaFile)
	require.NoError(t, err)
	return sch
}

// validateJSON validates a document's JSON against the schema.
func validateJSON(sch *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// encode returns doc's JSON.
func encode(t testing.TB, doc *Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, doc))
	return buf.Bytes()
}

// fakeRecords returns n realistic records of a closed loop of conc
// workers: output tokens of 16 to 128 (with a chunk time each), and one
// failure in 50 (alternating timeouts and 503s).
func fakeRecords(n, conc int, seed uint64) []bencher.Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	free := make([]time.Duration, conc)
	recs := make([]bencher.Record, n)
	for i := range recs {
		w := i % conc
		r := &recs[i]
		r.Index, r.ID, r.Attempts = i, fmt.Sprint(i), 1
		r.Scheduled = free[w]
		r.Sent = r.Scheduled + time.Duration(rng.IntN(50_000))
		r.InputTokens = 200 + rng.IntN(800)
		if i%50 == 49 {
			fakeFailure(r, i)
		} else {
			fakeSuccess(r, rng)
		}
		free[w] = r.End + time.Duration(rng.IntN(100_000))
	}
	return recs
}

func fakeSuccess(r *bencher.Record, rng *rand.Rand) {
	r.OutputTokens = 16 + rng.IntN(113)
	r.TokenSource, r.HTTPStatus, r.FinishReason = bencher.TokensFromUsage, 200, "length"
	t := r.Sent + 20*time.Millisecond + time.Duration(rng.IntN(80_000_000))
	r.FirstToken = t
	r.ChunkTimes = make([]time.Duration, r.OutputTokens)
	for j := range r.ChunkTimes {
		r.ChunkTimes[j] = t
		t += 8*time.Millisecond + time.Duration(rng.IntN(6_000_000))
	}
	r.End = t
}

func fakeFailure(r *bencher.Record, i int) {
	if i%100 == 99 {
		r.Error, r.ErrorMessage = bencher.ErrTimeout, "the request timed out after 10m0s"
		r.End = r.Sent + 10*time.Minute
		return
	}
	r.Error, r.HTTPStatus = bencher.ErrHTTPStatus, 503
	r.ErrorMessage = "Service Unavailable: the engine is overloaded"
	r.End = r.Sent + 3*time.Millisecond
}

// fakeResult returns a result of n fake records started at start.
func fakeResult(n int, start time.Time) *bencher.Result {
	recs := fakeRecords(n, 8, uint64(start.UnixNano()))
	end := time.Duration(0)
	for i := range recs {
		end = max(end, recs[i].End)
	}
	return &bencher.Result{
		Start: start, End: start.Add(end + time.Millisecond), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{
			Target: "http://gpu-box:8000/v1", API: bencher.APICompletions, Model: "meta-llama/Llama-3.1-8B-Instruct",
			Stream: true, Mode: bencher.ModeClosedLoop, Concurrency: 8, Requests: n,
			Timeout: 10 * time.Minute, RetryBase: 250 * time.Millisecond, RetryMax: 10 * time.Second, Seed: 1,
		},
		Records: recs,
	}
}

// fakeDoc returns a document of n fake records started at start.
func fakeDoc(n int, start time.Time) *Document {
	return New(fakeResult(n, start), Meta{
		Name: "fake", Labels: map[string]string{"gpu": "h100"}, Profile: "high-parallelism",
		Workload: Workload{Source: SourceSynthetic, InputTokens: "200:1000", OutputTokens: "16:128", Seed: 1},
		Host:     "bench-host", BencherVersion: "v0.0.0-test",
	})
}

// listNames returns the names of the files in dir.
func listNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// writeFile writes a file into dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}
