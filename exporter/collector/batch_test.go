package collector

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/batch/batchtest"
	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// batchKey is the API key of the fake servers; no output may hold it.
const batchKey = "sk-batch-test-SECRET-0123456789abcdef"

// batchT0 is the fake clock's start, 2026-01-01T00:00:00Z.
var batchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return batchT0.Add(d).Unix() }

// batchClock is a settable clock.
type batchClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *batchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *batchClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// batchSetup is an exporter whose batch collector polls fake servers.
type batchSetup struct {
	exp   *Exporter
	reg   *prometheus.Registry
	c     *batchCollector
	clock *batchClock
}

// newBatchSetup builds an exporter with the batch collector over the given
// name=URL endpoints, plus the named GPU collectors. Without GPU
// collectors NVML is absent, so that only the batch series remain.
func newBatchSetup(t testing.TB, cfg batch.Config, logger *slog.Logger, gpuCollectors []string, endpoints ...string) *batchSetup {
	t.Helper()
	for _, e := range endpoints {
		name, url, _ := strings.Cut(e, "=")
		ep, err := batch.NewEndpoint(name, url, secret.New(batchKey))
		require.NoError(t, err)
		cfg.Endpoints = append(cfg.Endpoints, ep)
	}
	clock := &batchClock{t: batchT0}
	cfg.Clock = clock.Now
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = time.Hour
	}
	if cfg.Interval == 0 {
		cfg.Interval = cfg.StaleAfter // real minutes: tests poll by hand after the first poll
	}
	tb := newTestbed(t)
	enabled := map[string]bool{"batch": true}
	for _, name := range gpuCollectors {
		enabled[name] = true
	}
	if len(gpuCollectors) == 0 {
		tb.server.InitFunc = func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }
	}
	e, err := New(Deps{GPUs: gpu.NewManager(tb.server), Logger: logger, Config: Config{Batch: cfg, XIDWait: 10 * time.Millisecond}}, enabled)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	s := &batchSetup{exp: e, reg: reg, clock: clock}
	for _, n := range e.collectors {
		if c, ok := n.c.(*batchCollector); ok {
			s.c = c
		}
	}
	require.NotNil(t, s.c)
	require.Eventually(t, func() bool {
		for _, p := range s.c.pollers {
			if p.Snapshot().Polls == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "the first polls start with the collector")
	return s
}

// poll polls every endpoint now, and returns their errors.
func (s *batchSetup) poll(t testing.TB) []error {
	t.Helper()
	var errs []error
	for _, p := range s.c.pollers {
		errs = append(errs, p.Poll(t.Context()))
	}
	return errs
}

// goldenBatches has every status, two models, batches finished recently
// and long ago, one status no OpenAI server sends, and one batch that
// validating servers give no counts yet.
func goldenBatches() []batch.Batch {
	withModel := batchtest.Batch("batch_run1", batch.StatusInProgress, at(-2*time.Hour), 1000, 420, 7)
	withModel.Model = "Qwen/Qwen3-8B"
	withMeta := batchtest.Batch("batch_fin1", batch.StatusFinalizing, at(-3*time.Hour), 50, 49, 1)
	withMeta.Metadata = batch.Metadata{"model": "meta-llama/Llama-3.1-8B-Instruct", "team": "eval"}
	embed := batchtest.Batch("batch_can1", batch.StatusCancelling, at(-time.Hour), 10, 2, 0)
	embed.Endpoint = "/v1/embeddings"
	return []batch.Batch{
		batchtest.Batch("batch_val1", batch.StatusValidating, at(-time.Minute)),
		embed, withModel, withMeta,
		batchtest.Batch("batch_odd1", "paused", at(-4*time.Hour), 8, 0, 0),
		batchtest.Batch("batch_done1", batch.StatusCompleted, at(-5*time.Hour), 200, 198, 2),
		batchtest.Batch("batch_fail1", batch.StatusFailed, at(-6*time.Hour)),
		batchtest.Batch("batch_exp1", batch.StatusExpired, at(-20*time.Hour), 30, 12, 0),
		batchtest.Batch("batch_cxl1", batch.StatusCancelled, at(-23*time.Hour), 4, 1, 0),
		batchtest.Batch("batch_old1", batch.StatusCompleted, at(-72*time.Hour), 9, 9, 0),
		batchtest.Batch("batch_old2", batch.StatusFailed, at(-96*time.Hour), 9, 0, 9),
	}
}

func TestBatchGolden(t *testing.T) {
	t.Parallel()
	main := batchtest.NewServer(t, batchKey, goldenBatches()...)
	down := batchtest.NewServer(t, batchKey)
	down.Close()
	var logs logBuffer
	s := newBatchSetup(t, batch.Config{PageSize: 4, StaleAfter: 5 * time.Minute}, logs.Logger(), nil, "main="+main.URL, "down="+down.URL)
	got := withoutDurations(scrape(t, s.exp))
	golden(t, "batch.prom", got)
	assert.Equal(t, got, withoutDurations(scrape(t, s.reg)), "Exporter.Gather and a Registry agree")
	assert.Equal(t, []string{"limit=4", "after=batch_fin1&limit=4", "after=batch_exp1&limit=4"}, main.Requests())
	assert.Contains(t, logs.String(), `msg="batch endpoint poll failed" endpoint=down reason=connection`)
	assert.NotContains(t, got+logs.String(), batchKey)

	// Six minutes on, both endpoints failing: the stale data is gone, the
	// poll metrics remain.
	main.Fail(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s.clock.Add(6 * time.Minute)
	s.poll(t)
	golden(t, "batch-stale.prom", withoutDurations(scrape(t, s.exp)))
}

func TestBatchServesLastGoodDataWithItsAge(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, batchKey, goldenBatches()...)
	s := newBatchSetup(t, batch.Config{StaleAfter: 5 * time.Minute}, nil, nil, "main="+srv.URL)
	srv.Fail(func(w http.ResponseWriter, _ *http.Request) { batchtest.Error(w, 500, "server_error", "boom") })
	s.clock.Add(2 * time.Minute)
	s.poll(t)
	got := scrape(t, s.reg)
	has(t, got, `benchstation_batch_poll_success{endpoint="main"} 0`)
	has(t, got, `benchstation_batch_data_age_seconds{endpoint="main"} 120`)
	has(t, got, `benchstation_batch_jobs{endpoint="main",status="in_progress"} 1`)
	has(t, got, `benchstation_batch_job_requests_completed{batch_id="batch_run1",endpoint="main"} 420`)
	has(t, got, `benchstation_batch_poll_failures_total{endpoint="main",reason="server_error"} 1`)

	s.clock.Add(3*time.Minute + time.Second)
	got = scrape(t, s.reg)
	lacks(t, got, "benchstation_batch_jobs{", "dropped at the scrape once stale, before the next poll")
	lacks(t, got, "benchstation_batch_data_age_seconds")
	has(t, got, `benchstation_batch_last_success_timestamp_seconds{endpoint="main"} 1.7672256e+09`)
}

func TestBatchJobsAppearAndFinish(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, batchKey, batchtest.Batch("a", batch.StatusInProgress, at(-time.Hour), 10, 5, 0))
	s := newBatchSetup(t, batch.Config{}, nil, nil, "main="+srv.URL)
	has(t, scrape(t, s.reg), `benchstation_batch_job_progress_ratio{batch_id="a",endpoint="main"} 0.5`)

	s.clock.Add(time.Minute)
	srv.Prepend(batchtest.Batch("b", batch.StatusValidating, at(time.Minute)))
	srv.Update("a", func(b *batch.Batch) {
		b.Status, b.CompletedAt, b.RequestCounts.Completed = batch.StatusCompleted, batch.Timestamp(at(time.Minute)), 10
	})
	s.poll(t)
	got := scrape(t, s.reg)
	has(t, got, `benchstation_batch_jobs{endpoint="main",status="completed"} 1`)
	has(t, got, `benchstation_batch_jobs{endpoint="main",status="in_progress"} 0`)
	has(t, got, `benchstation_batch_jobs{endpoint="main",status="validating"} 1`)
	has(t, got, `benchstation_batch_job_info{api_endpoint="/v1/chat/completions",batch_id="a",endpoint="main",model="",status="completed"} 1`)
	has(t, got, `benchstation_batch_job_finished_timestamp_seconds{batch_id="a",endpoint="main"} 1.76722566e+09`)
	has(t, got, `benchstation_batch_job_info{api_endpoint="/v1/chat/completions",batch_id="b",endpoint="main",model="",status="validating"} 1`)
	lacks(t, got, `status="in_progress"} 1`)

	s.clock.Add(25 * time.Hour)
	s.poll(t)
	got = scrape(t, s.reg)
	lacks(t, got, `batch_id="a"`, "finished more than --batch.window ago")
	has(t, got, `benchstation_batch_jobs{endpoint="main",status="completed"} 1`)
}

func TestBatchEndpointFailureLeavesTheRestAlone(t *testing.T) {
	t.Parallel()
	good := batchtest.NewServer(t, batchKey, batchtest.Batch("a", batch.StatusInProgress, at(0), 4, 1, 0))
	bad := batchtest.NewServer(t, batchKey)
	bad.Fail(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	var logs logBuffer
	s := newBatchSetup(t, batch.Config{Timeout: time.Minute}, logs.Logger(), defaultEnabledNames(), "good="+good.URL, "bad="+bad.URL)

	// Now the bad endpoint hangs, with a poll in flight during the scrapes.
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	bad.Fail(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	polled := make(chan error, 1)
	go func() { polled <- s.c.pollers[1].Poll(t.Context()) }()
	<-arrived
	for range 3 {
		start := time.Now()
		got := scrape(t, s.reg)
		assert.Less(t, time.Since(start), time.Second, "a scrape never waits for an endpoint")
		has(t, got, `benchstation_batch_poll_success{endpoint="good"} 1`)
		has(t, got, `benchstation_batch_poll_success{endpoint="bad"} 0`)
		has(t, got, `benchstation_batch_poll_failures_total{endpoint="bad",reason="server_error"} 1`)
		has(t, got, `benchstation_batch_jobs{endpoint="good",status="in_progress"} 1`)
		lacks(t, got, `benchstation_batch_jobs{endpoint="bad"`)
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="batch"} 1`)
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="temperature"} 1`)
		has(t, got, `nvidia_gpu_temperature_celsius{gpu="3",uuid="GPU-00000000-0000-0000-0000-000000000003"} 43`)
	}
	close(release)
	require.ErrorIs(t, <-polled, batch.ErrMalformed, "the hung request ends with an empty body")
	assert.NotContains(t, logs.String(), "collector failed")
}

// defaultEnabledNames lists the collectors on by default.
func defaultEnabledNames() []string {
	var names []string
	for name := range DefaultEnabled() {
		names = append(names, name)
	}
	return names
}

func TestBatchKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	srv := batchtest.NewServer(t, batchKey, batchtest.Batch("a", batch.StatusInProgress, at(0)))
	var logs logBuffer
	s := newBatchSetup(t, batch.Config{Timeout: 100 * time.Millisecond, LogEvery: time.Nanosecond}, logs.Logger(), nil, "main="+srv.URL)
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			w.Header().Set("X-Echo", key)
			batchtest.Error(w, code, key, "Incorrect API key provided: "+key)
		}
	}
	raw := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code); fmt.Fprint(w, body) }
	}
	modes := map[string]http.HandlerFunc{
		"401": echo(401), "403": echo(403), "429": echo(429), "500": echo(500), "418": echo(418),
		"malformed":  raw(200, `{"object":"list","data":[{"id":"`+batchKey+`","created_at":"`+batchKey+`"}]}`),
		"not a list": raw(200, `{"object":"`+batchKey+`","data":[]}`),
		"loop":       raw(200, `{"object":"list","data":[],"last_id":"`+batchKey+`","has_more":true}`),
		"slow":       func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	}
	var errs []string
	for name, h := range modes {
		s.clock.Add(time.Second)
		srv.Fail(h)
		err := s.poll(t)[0]
		require.Error(t, err, name)
		errs = append(errs, err.Error(), s.c.pollers[0].Snapshot().LastError)
		assert.NotContains(t, scrape(t, s.reg), batchKey, name)
	}
	srv.Close()
	s.clock.Add(time.Second)
	errs = append(errs, fmt.Sprint(s.poll(t)))
	all := strings.Join(errs, "\n") + logs.String()
	assert.NotContains(t, all, batchKey)
	assert.NotContains(t, all, "0123456789abcdef", "not even part of it")
	assert.Contains(t, all, "[REDACTED]", "the loop's cursor was the key")
	assert.Equal(t, len(modes)+1, strings.Count(logs.String(), "batch endpoint poll failed"))
}

func TestBatchNeedsEndpoints(t *testing.T) {
	t.Parallel()
	_, err := New(Deps{GPUs: gpu.NewManager(newTestbed(t).server)}, map[string]bool{"batch": true})
	require.EqualError(t, err, "collector batch: no batch endpoints configured (--batch.endpoint or --batch.config-file)")
	assert.False(t, DefaultEnabled()["batch"], "off unless endpoints are configured")
}

// tenThousand lists 10,000 batches on one endpoint: 30 not finished, 120
// finished in the last 24 h, and 9,850 finished 2 to 400 days ago.
func tenThousand() []batch.Batch {
	statuses := []batch.Status{batch.StatusCompleted, batch.StatusFailed, batch.StatusExpired, batch.StatusCancelled}
	bs := make([]batch.Batch, 0, 10000)
	for i := range 10000 {
		id := fmt.Sprintf("batch_%06d", i)
		var b batch.Batch
		switch {
		case i < 30:
			b = batchtest.Batch(id, []batch.Status{batch.StatusInProgress, batch.StatusValidating, batch.StatusFinalizing}[i%3],
				at(-time.Duration(i)*time.Minute), 1000, int64(10*i), int64(i))
		case i < 150:
			b = batchtest.Batch(id, statuses[i%4], at(-time.Duration(i)*8*time.Minute), 500, 480, 20)
		default:
			b = batchtest.Batch(id, statuses[i%4], at(-48*time.Hour-time.Duration(i)*time.Hour), 500, 500, 0)
		}
		b.Metadata = batch.Metadata{"model": "Qwen/Qwen3-8B", "owner": "nightly-eval"}
		bs = append(bs, b)
	}
	return bs
}

func TestBatchTenThousandStaysBounded(t *testing.T) {
	t.Parallel()
	batches := tenThousand()
	completed := 0
	for _, b := range batches {
		if b.Status == batch.StatusCompleted {
			completed++
		}
	}
	srv := batchtest.NewServer(t, batchKey, batches...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newBatchSetup(t, batch.Config{}, nil, nil, "big="+srv.URL)
	require.NoError(t, s.poll(t)[0])
	runtime.ReadMemStats(&after)
	start := time.Now()
	got := scrape(t, s.reg)
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)

	n, err := testutil.GatherAndCount(s.reg)
	require.NoError(t, err)
	// 24 endpoint series, 7 per tracked batch with counts, minus the
	// finished timestamp of the 30 unfinished ones; nvml_up and the
	// collector's success and duration.
	assert.Equal(t, 24+100*7-30+3, n)
	has(t, got, `benchstation_batch_jobs_untracked{endpoint="big"} 50`)
	has(t, got, fmt.Sprintf(`benchstation_batch_jobs{endpoint="big",status="completed"} %d`, completed))
	assert.Equal(t, 100, strings.Count(got, "benchstation_batch_job_info{"))
	t.Logf("10,000 batches: %d series; first scrape %s; heap in use %.1f MiB, %.2f MiB more than before the exporter was built",
		n, took, mib(after.HeapInuse), mib(after.HeapAlloc-before.HeapAlloc))
	runtime.KeepAlive(s)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// BenchmarkBatchScrape scrapes an exporter whose batch collector has
// polled 10,000 batches on one endpoint: "steady" is every scrape but the
// first after a poll, "after-poll" that first one, which builds the
// metrics.
func BenchmarkBatchScrape(b *testing.B) {
	srv := batchtest.NewServer(b, batchKey, tenThousand()...)
	s := newBatchSetup(b, batch.Config{}, nil, nil, "big="+srv.URL)
	for _, mode := range []string{"steady", "after-poll"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if mode == "after-poll" {
					s.c.mu.Lock()
					s.c.cache[0] = builtSummary{}
					s.c.mu.Unlock()
				}
				scrape(b, s.reg)
			}
		})
	}
}

// TestSecretEchoedKeyNotInLabels is issue #11, case 6: a server that
// echoes the key into a batch's id, model and endpoint produced series
// with batch_id="sk-…" and model="sk-…". Each such label value is now
// [REDACTED] whole, the two batches whose ids both held it share one
// series rather than breaking the scrape, and no form of the key is left
// in the exposition or the log, whatever the server answers.
func TestSecretEchoedKeyNotInLabels(t *testing.T) {
	t.Parallel()
	srv := hostile.New(t)
	var logs logBuffer
	s := newBatchSetup(t, batch.Config{LogEvery: time.Nanosecond}, logs.Logger(), nil, "hostile="+srv.URL)
	require.NoError(t, s.poll(t)[0])

	got := scrape(t, s.reg)
	hostile.NoLeaks(t, "/metrics", got, batchKey)
	assert.NotContains(t, got, "Bearer")
	has(t, got, `benchstation_batch_job_info{api_endpoint="[REDACTED]",batch_id="[REDACTED]",endpoint="hostile",model="[REDACTED]",status="in_progress"} 1`)
	has(t, got, `benchstation_batch_job_requests{batch_id="[REDACTED]",endpoint="hostile"} 10`)
	has(t, got, `benchstation_batch_jobs{endpoint="hostile",status="failed"} 1`, "the second batch is still counted")
	has(t, got, `benchstation_exporter_scrape_collector_success{collector="batch"} 1`)
	assert.Equal(t, 1, strings.Count(got, "benchstation_batch_job_info{"), "one series per label value")
	_, err := testutil.GatherAndCount(s.reg)
	require.NoError(t, err, "no series twice")

	for _, mode := range hostile.Modes() {
		srv.SetMode(mode)
		s.clock.Add(time.Second)
		err := s.poll(t)[0]
		if mode != hostile.EchoOK {
			require.Error(t, err, mode)
		}
		got := scrape(t, s.reg)
		hostile.NoLeaks(t, "/metrics in mode "+mode.String(), got, batchKey)
		if err != nil {
			hostile.NoLeaks(t, "the error in mode "+mode.String(), err.Error(), batchKey)
		}
		hostile.NoLeaks(t, "the last error in mode "+mode.String(), s.c.pollers[0].Snapshot().LastError, batchKey)
	}
	has(t, scrape(t, s.reg), `benchstation_batch_poll_failures_total{endpoint="hostile",reason="redirect"} 3`)
	hostile.NoLeaks(t, "the log", logs.String(), batchKey)
	assert.Contains(t, logs.String(), "reason=redirect")
	for name, sink := range map[string]*hostile.Sink{"sink": srv.Sink, "TLS sink": srv.TLSSink} {
		assert.Zero(t, sink.Conns(), "connections to the %s", name)
	}
}
