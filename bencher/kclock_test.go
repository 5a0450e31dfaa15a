package bencher

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withChunkLate makes the client run late before timing each stream event.
func withChunkLate(f func()) Option { return func(c *config) { c.chunkLate = f } }

// streamRun runs n streamed requests of tokens tokens against a local
// server, with opts.
func streamRun(t *testing.T, n, tokens int, opts ...Option) *Result {
	t.Helper()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, tokens) })
	res, err := Run(context.Background(), Requests{{Prompt: "p", MaxTokens: tokens}},
		append([]Option{WithTarget(url), WithModel("m"), WithConcurrency(2), WithRequests(n)}, opts...)...)
	require.NoError(t, err)
	for _, rec := range res.Records {
		require.True(t, rec.OK(), rec.ErrorMessage)
		require.Len(t, rec.ChunkTimes, tokens)
		require.True(t, slices.IsSorted(rec.ChunkTimes), "chunk times in order: %v", rec.ChunkTimes)
		require.Greater(t, rec.FirstToken, rec.Sent)
		require.GreaterOrEqual(t, rec.End, rec.ChunkTimes[tokens-1])
	}
	require.NotNil(t, res.Client)
	return res
}

func TestClockSourceKernel(t *testing.T) {
	if !kernelClockSupported {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	res := streamRun(t, 4, 8)
	assert.Equal(t, ClockKernel, res.ClockSource)
	assert.NotNil(t, res.Client.ReadLagP99Ms, "read lag measured with kernel times")
}

func TestClockSourceUserWhenOff(t *testing.T) {
	res := streamRun(t, 4, 8, WithKernelTimestamps(false))
	assert.Equal(t, ClockUser, res.ClockSource)
	assert.Nil(t, res.Client.ReadLagP99Ms, "no read lag without kernel times")
}

// TestClockSourceUserWhenRefused: a kernel that refuses SO_TIMESTAMPING
// leaves plain connections, timed by the user-space clock.
func TestClockSourceUserWhenRefused(t *testing.T) {
	testRefuseTimestamping.Store(true)
	t.Cleanup(func() { testRefuseTimestamping.Store(false) })
	res := streamRun(t, 4, 8)
	assert.Equal(t, ClockUser, res.ClockSource)
	assert.Nil(t, res.Client.ReadLagP99Ms)
}

// TestClockSourceUserWithHTTPClient: a caller's client has connections of
// its own, which carry no kernel times.
func TestClockSourceUserWithHTTPClient(t *testing.T) {
	res := streamRun(t, 2, 4, WithHTTPClient(&http.Client{}))
	assert.Equal(t, ClockUser, res.ClockSource)
}

func TestNoClockSourceWithoutStreams(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"choices":[{"index":0,"text":"x","finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`))
	})
	res, err := Run(context.Background(), Requests{{Prompt: "p"}},
		WithTarget(url), WithModel("m"), WithRequests(2), WithStreaming(false))
	require.NoError(t, err)
	assert.Empty(t, res.ClockSource)
}

// TestKernelTimesPrecedeTheReader: a reader late by design still times
// each event when the kernel received it, and measures how late it was.
func TestKernelTimesPrecedeTheReader(t *testing.T) {
	if !kernelClockSupported {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	const late = 20 * time.Millisecond
	var events atomic.Int64
	res := streamRun(t, 1, 4, WithConcurrency(1), withChunkLate(func() {
		events.Add(1)
		time.Sleep(late)
	}))
	require.Equal(t, ClockKernel, res.ClockSource)
	rec := res.Records[0]
	// Every event waited `late` in the kernel: the lag is at least that
	// (the histogram's bucket bound is at most 25 % over the lag)...
	require.NotNil(t, res.Client.ReadLagP50Ms)
	assert.GreaterOrEqual(t, *res.Client.ReadLagP50Ms, msf(late))
	// ...and the events, all in the kernel before the first was handled
	// (the server writes them at once), are not `late` apart as the
	// reader's clock would say: the end is earlier than the lateness the
	// reader added.
	assert.Less(t, rec.End-rec.FirstToken, time.Duration(events.Load()-1)*late,
		"events timed by the kernel, not by the late reader: %v", rec.ChunkTimes)
}

// TestSaturatedWhenReaderLate: a client that handles stream data late is
// marked saturated, for its read lag.
func TestSaturatedWhenReaderLate(t *testing.T) {
	if !kernelClockSupported {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	res := streamRun(t, 2, 4, withChunkLate(func() { time.Sleep(2 * SaturatedReadLagP99) }))
	cl := res.Client
	assert.True(t, cl.Saturated)
	assert.Contains(t, cl.Reasons, ReasonReadLag)
	require.NotNil(t, cl.ReadLagP99Ms)
	assert.Greater(t, *cl.ReadLagP99Ms, msf(SaturatedReadLagP99))
}

// TestSaturatedWhenStarved: one thread for Go's goroutines and a goroutine
// that never yields it starves the client, and the run is marked saturated:
// for the scheduler's latency (goroutines wait up to Go's 10 ms preemption
// slice for the thread) or for the CPU the spinner takes. Which of the two
// shows depends on how often the scheduler hands the preempted spinner the
// thread back (from its global queue, about one turn in 61): in 3 of 60 runs
// the scheduler's p99 stayed under 0.5 ms and only the CPU gave it away.
// On a machine busy with other processes the spinner's thread gets less
// than the CPU use limit, and its waits for the CPU (cpu_wait) show it.
func TestSaturatedWhenStarved(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
		}
	}()
	res := streamRun(t, 10, 8, WithKernelTimestamps(false))
	stop.Store(true)
	<-done
	cl := res.Client
	assert.True(t, cl.Saturated, "%+v", cl)
	assert.True(t, slices.ContainsFunc(cl.Reasons, func(r string) bool {
		return r == ReasonSchedLatency || r == ReasonCPUUtilisation || r == ReasonCPUWait
	}), "saturated for the scheduler's latency or the CPU: %v", cl.Reasons)
	require.NotNil(t, cl.SchedLatencyP99Ms, "the scheduler's latency is measured")
}

func TestClientLoadJudge(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		cl   ClientLoad
		want []string
	}{
		{"idle", ClientLoad{ReadLagP99Ms: f(0.2), SchedLatencyP99Ms: f(0.1), CPUWait: f(0.01), CPUUtilisation: f(0.1)}, nil},
		// Waits of a bursty idle client: a large share, each short.
		{"idle in bursts", ClientLoad{CPUWait: f(0.4), CPUWaitPerRunMs: f(0.045)}, nil},
		{"nothing measured", ClientLoad{}, nil},
		{"read lag", ClientLoad{ReadLagP99Ms: f(msf(SaturatedReadLagP99) + 0.001)}, []string{ReasonReadLag}},
		{"at the limit", ClientLoad{ReadLagP99Ms: f(msf(SaturatedReadLagP99))}, nil},
		{"sched", ClientLoad{SchedLatencyP99Ms: f(50)}, []string{ReasonSchedLatency}},
		{"pacer", ClientLoad{PacerLatenessP99Ms: f(50)}, []string{ReasonPacerLateness}},
		{"cpu wait", ClientLoad{CPUWaitPerRunMs: f(msf(SaturatedCPUWaitPerRun) + 0.001)}, []string{ReasonCPUWait}},
		{"cpu", ClientLoad{CPUUtilisation: f(0.99)}, []string{ReasonCPUUtilisation}},
		{"all", ClientLoad{ReadLagP99Ms: f(9), SchedLatencyP99Ms: f(9), PacerLatenessP99Ms: f(9), CPUWaitPerRunMs: f(9), CPUUtilisation: f(1)},
			[]string{ReasonReadLag, ReasonSchedLatency, ReasonPacerLateness, ReasonCPUWait, ReasonCPUUtilisation}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cl.judge()
			assert.Equal(t, tc.want, tc.cl.Reasons)
			assert.Equal(t, tc.want != nil, tc.cl.Saturated)
		})
	}
}

func TestLagHistogram(t *testing.T) {
	var h lagHistogram
	assert.Zero(t, h.quantile(0.99))
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.99, 1} {
		want := time.Duration(q*1000) * time.Microsecond
		got := h.quantile(q)
		assert.GreaterOrEqual(t, got, want, "q %v", q)
		assert.LessOrEqual(t, got, want+want/4, "q %v", q)
	}
	for d := time.Duration(0); d < 1<<20; d += 997 {
		i := lagBucket(d)
		require.LessOrEqual(t, d, lagUpper(i), "%v in bucket %d", d, i)
		if i > 0 {
			require.Greater(t, d, lagUpper(i-1), "%v in bucket %d", d, i)
		}
	}
}

// TestStamperUnderTLS: a TLS connection's kernel times are those of the
// TCP connection under it.
func TestStamperUnderTLS(t *testing.T) {
	if !kernelClockSupported {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer raw.Close()
	sc := stampConn(raw)
	require.NotNil(t, stamperOf(sc))
	assert.Same(t, sc, stamperOf(tls.Client(sc, &tls.Config{})).(net.Conn))
	assert.Nil(t, stamperOf(raw.(*net.TCPConn)))
}
