package stats

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

// msd returns x milliseconds as a duration.
func msd(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

// ok returns a successful record: scheduled, sent and end in milliseconds,
// and one content chunk at each of chunks (the first is the first token),
// with one output token per chunk and 10 input tokens.
func ok(scheduled, sent, end float64, chunks ...float64) bencher.Record {
	r := bencher.Record{
		Scheduled: msd(scheduled), Sent: msd(sent), End: msd(end),
		InputTokens: 10, OutputTokens: len(chunks),
		TokenSource: bencher.TokensFromChunks, Attempts: 1,
	}
	for _, c := range chunks {
		r.ChunkTimes = append(r.ChunkTimes, msd(c))
	}
	if len(chunks) > 0 {
		r.FirstToken = r.ChunkTimes[0]
	}
	return r
}

// failed returns a failed record of class class.
func failed(scheduled, sent, end float64, class bencher.ErrorClass, status int) bencher.Record {
	return bencher.Record{
		Scheduled: msd(scheduled), Sent: msd(sent), End: msd(end),
		Error: class, HTTPStatus: status, Attempts: 1,
	}
}

// warm marks a record as warm-up.
func warm(r bencher.Record) bencher.Record {
	r.Warmup = true
	return r
}

// requireFiniteJSON checks that v encodes as JSON, which fails on NaN and
// ±Inf, and returns the encoding.
func requireFiniteJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// requireNear checks a float to a relative and absolute tolerance of 1e-9.
func requireNear(t *testing.T, want, got float64, msgAndArgs ...any) {
	t.Helper()
	require.InDelta(t, want, got, 1e-9*math.Max(1, math.Abs(want)), msgAndArgs...)
}
