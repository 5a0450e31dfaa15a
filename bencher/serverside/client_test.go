package serverside

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/testkit"
)

// wantQueries are the queries of the 42 s test window without selectors,
// in the order they are sent.
var wantQueries = []string{
	"max_over_time(sum(nvidia_gpu_memory_used_bytes)[42s:1s])",
	"sum(increase(nvidia_gpu_energy_consumed_joules_total[42s]))",
	"sum(avg_over_time(nvidia_gpu_power_draw_watts[42s]))",
	"avg(avg_over_time(nvidia_gpu_utilization_ratio[42s]))",
	"max(max_over_time(vllm:kv_cache_usage_perc[42s]))",
	"sum(increase(vllm:prefix_cache_hits_total[42s])) / sum(increase(vllm:prefix_cache_queries_total[42s]))",
	"round(sum(increase(vllm:num_preemptions_total[42s])))",
	"sum(increase(vllm:time_to_first_token_seconds_sum[42s])) / sum(increase(vllm:time_to_first_token_seconds_count[42s]))",
}

func TestCollectQueriesAndValues(t *testing.T) {
	t.Parallel()
	answers := map[string]float64{
		wantQueries[0]: 150e9, wantQueries[1]: 123456.5, wantQueries[2]: 2800, wantQueries[3]: 0.75,
		wantQueries[4]: 0.42, wantQueries[5]: 0.3, wantQueries[6]: 7, wantQueries[7]: 0.125,
	}
	f := newFakeProm(t, func(q string) (int, string) {
		v, ok := answers[q]
		if !ok {
			return http.StatusOK, ""
		}
		return http.StatusOK, vector(num(v))
	})
	c := newClient(t, f.URL, WithTimeout(3*time.Second))
	got, err := c.Collect(context.Background(), windowStart, windowEnd)
	require.NoError(t, err)

	assert.Equal(t, wantQueries, f.exprs())
	for _, r := range f.queries() {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/api/v1/query", r.Path)
		assert.Equal(t, "1800014441.300", r.Time, "evaluated at the run's end")
		assert.Equal(t, "3s", r.Timeout)
	}
	ptr := func(v float64) *float64 { return &v }
	want := &results.ServerSide{
		Source: f.URL, GPUMemoryPeakBytes: ptr(150e9), EnergyJoules: ptr(123456.5), PowerWattsMean: ptr(2800),
		GPUUtilizationMean: ptr(0.75), KVCacheUsagePeak: ptr(0.42), PrefixCacheHitRatio: ptr(0.3), Preemptions: ptr(7),
		Extra: map[string]float64{ExtraVLLMTTFTMean: 0.125},
	}
	assert.Equal(t, want, got)
	assert.Empty(t, Missing(got))
}

func TestCollectSelectors(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, nil)
	c := newClient(t, f.URL+"/prometheus/", WithSelector(`{cluster="lab"}`), WithGPUSelector(` instance="gpu-box:9849", `),
		WithVLLMSelector(`model_name=~"meta-llama/.*"`))
	_, err := c.Collect(context.Background(), windowStart, windowStart.Add(5*time.Second))
	require.NoError(t, err)
	got := f.exprs()
	require.Len(t, got, len(wantQueries))
	assert.Equal(t, "/prometheus/api/v1/query", f.queries()[0].Path, "the URL's path prefix is kept")
	assert.Equal(t, `max_over_time(sum(nvidia_gpu_memory_used_bytes{cluster="lab",instance="gpu-box:9849"})[5s:1s])`, got[0])
	assert.Equal(t, `max(max_over_time(vllm:kv_cache_usage_perc{cluster="lab",model_name=~"meta-llama/.*"}[5s]))`, got[4])
	assert.Equal(t, `sum(increase(vllm:prefix_cache_hits_total{cluster="lab",model_name=~"meta-llama/.*"}[5s])) / `+
		`sum(increase(vllm:prefix_cache_queries_total{cluster="lab",model_name=~"meta-llama/.*"}[5s]))`, got[5])
}

func TestCollectMissingAndInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer string
	}{
		{"no series", vector()},
		{"not a number (0/0)", vector("NaN")},
		{"infinite (x/0)", vector("+Inf")},
		{"negative", vector("-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeProm(t, func(string) (int, string) { return http.StatusOK, tt.answer })
			got, err := newClient(t, f.URL).Collect(context.Background(), windowStart, windowEnd)
			require.NoError(t, err)
			assert.Equal(t, &results.ServerSide{Source: f.URL}, got)
			assert.Len(t, Missing(got), len(wantQueries))
		})
	}
	t.Run("ratio above 1 is dropped, other values kept", func(t *testing.T) {
		t.Parallel()
		f := newFakeProm(t, func(string) (int, string) { return http.StatusOK, vector("1.5") })
		got, err := newClient(t, f.URL).Collect(context.Background(), windowStart, windowEnd)
		require.NoError(t, err)
		assert.Nil(t, got.KVCacheUsagePeak)
		assert.Nil(t, got.PrefixCacheHitRatio)
		assert.Nil(t, got.GPUUtilizationMean)
		require.NotNil(t, got.EnergyJoules)
		assert.InDelta(t, 1.5, *got.EnergyJoules, 0)
		assert.Equal(t, []string{"gpu_utilization_mean", "kv_cache_usage_peak", "prefix_cache_hit_ratio"}, Missing(got))
	})
}

func TestCollectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"API error", http.StatusBadRequest, apiError("bad_data", `1:5: parse error: unexpected "}"`),
			"HTTP 400 Bad Request: bad_data: 1:5: parse error: unexpected \"}\""},
		{"execution error", http.StatusUnprocessableEntity, apiError("execution", "query processing would load too many samples"),
			"HTTP 422 Unprocessable Entity: execution: query processing would load too many samples"},
		{"not Prometheus", http.StatusNotFound, "<html><body>Not Found</body></html>",
			`HTTP 404 Not Found, not an answer of Prometheus's API: "<html><body>Not Found</body></html>"`},
		{"range vector", http.StatusOK, `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			"a matrix result, want a vector"},
		{"several series", http.StatusOK, vector("1", "2"), "2 series, want one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeProm(t, func(q string) (int, string) {
				if q == wantQueries[2] {
					return tt.status, tt.body
				}
				return http.StatusOK, vector("1")
			})
			u := strings.Replace(f.URL, "http://", "http://bench:s3cret@", 1)
			got, err := newClient(t, u+"?token=t0ken").Collect(context.Background(), windowStart, windowEnd)
			require.Error(t, err)
			assert.Nil(t, got)
			want := "serverside: Prometheus at " + f.URL + ": query `" + wantQueries[2] + "`: " + tt.want
			assert.Equal(t, want, err.Error())
			for _, r := range f.queries() {
				assert.Equal(t, "bench", r.User, "credentials of the URL are sent as basic auth")
				assert.Equal(t, "s3cret", r.Password)
			}
		})
	}
}

func TestCollectPrometheusDown(t *testing.T) {
	t.Parallel()
	addr := testkit.RefusingAddr(t)
	for _, wait := range []time.Duration{0, time.Second} {
		c := newClient(t, "http://admin:hunter2@"+addr, WithWait(wait))
		_, err := c.Collect(context.Background(), windowStart, windowEnd)
		require.Error(t, err)
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "serverside: Prometheus at http://"+addr+": query `"), msg)
		assert.Contains(t, msg, "connection refused")
		assert.NotContains(t, msg, "admin")
		assert.NotContains(t, msg, "hunter2")
	}
}

func TestCollectTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFakeProm(t, func(string) (int, string) {
		<-release
		return http.StatusOK, ""
	})
	defer close(release) // before the server's Close, which waits for the handler
	c := newClient(t, f.URL, WithTimeout(50*time.Millisecond))
	_, err := c.Collect(context.Background(), windowStart, windowEnd)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, "serverside: Prometheus at "+f.URL+": query `"+wantQueries[0]+"`: no answer within 50ms: "+
		"context deadline exceeded", err.Error())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Collect(ctx, windowStart, windowEnd)
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		opts []Option
		want string
		is   error
	}{
		{"no scheme", "prometheus:9090", nil, `serverside: invalid Prometheus URL "prometheus:9090": want http(s)://host:port`, ErrURL},
		{"no host", "http:///api", nil, `serverside: invalid Prometheus URL "http:///api": want http(s)://host:port`, ErrURL},
		{"credentials are not printed", "ftp://u:secret@host", nil,
			`serverside: invalid Prometheus URL "ftp://host": want http(s)://host:port`, ErrURL},
		{"bad selector", "http://p:9090", []Option{WithGPUSelector("instance")}, `GPU selector: serverside: invalid selector ` +
			`"instance": want label matchers such as instance="host:9849",model_name=~"llama.*"`, ErrSelector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.url, tt.opts...)
			require.ErrorIs(t, err, tt.is)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestCollectWaitsForTheScrapeAfterTheEnd(t *testing.T) {
	t.Parallel()
	end := time.Now()
	scrapedAt := func(ts time.Time) string { return vector(formatTime(ts)) }
	tests := []struct {
		name      string
		gpu, vllm func(polls int) string // answers of the two probes at the nth poll
		wait      time.Duration
		minPolls  int
		maxPolls  int
		minWaited time.Duration
	}{
		{"already scraped", func(int) string { return scrapedAt(end.Add(time.Second)) },
			func(int) string { return scrapedAt(end.Add(time.Second)) }, 10 * time.Second, 1, 1, 0},
		{"no series: no wait", func(int) string { return vector() }, func(int) string { return vector() }, 10 * time.Second, 1, 1, 0},
		{"scraped at the third poll", func(n int) string {
			if n < 3 {
				return scrapedAt(end.Add(-time.Second))
			}
			return scrapedAt(end.Add(time.Millisecond))
		}, func(int) string { return vector() }, 10 * time.Second, 3, 3, 2 * pollInterval},
		{"never scraped: waits at most the wait", func(int) string { return scrapedAt(end.Add(-time.Second)) },
			func(int) string { return vector() }, 600 * time.Millisecond, 1, 4, 600 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			probes := selectors{}.probes()
			polls := 0
			f := newFakeProm(t, func(q string) (int, string) {
				switch q {
				case probes[0]:
					polls++ // the handler runs one query at a time
					return http.StatusOK, tt.gpu(polls)
				case probes[1]:
					return http.StatusOK, tt.vllm(polls)
				}
				return http.StatusOK, vector("1")
			})
			began := time.Now()
			got, err := newClient(t, f.URL, WithWait(tt.wait)).Collect(context.Background(), end.Add(-time.Minute), end)
			require.NoError(t, err)
			assert.Empty(t, Missing(got), "the queries ran after the wait")
			assert.GreaterOrEqual(t, time.Since(began), tt.minWaited)
			var n int
			for _, r := range f.queries() {
				if r.Query == probes[0] {
					n++
					assert.Empty(t, r.Time, "a probe is evaluated at Prometheus's now")
				}
			}
			assert.GreaterOrEqual(t, n, tt.minPolls)
			assert.LessOrEqual(t, n, tt.maxPolls)
		})
	}
}

func TestCollectWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	f := newFakeProm(t, func(string) (int, string) { return http.StatusOK, vector(formatTime(time.Unix(0, 0))) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := newClient(t, f.URL, WithWait(time.Minute)).Collect(ctx, windowStart, windowEnd)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled), err)
}

func TestQueriesOfLongAndShortWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		window time.Duration
		want   string
	}{
		{0, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[1s:1s])"},
		{time.Nanosecond, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[1s:1s])"},
		{1001 * time.Millisecond, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[2s:1s])"},
		{10000 * time.Second, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[10000s:1s])"},
		{10001 * time.Second, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[10001s:2s])"},
		{24 * time.Hour, "max_over_time(sum(nvidia_gpu_memory_used_bytes)[86400s:9s])"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, selectors{}.queries(tt.window)[0].expr, tt.window)
	}
}

func TestParseSelector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      string
	}{
		{"", "", ""},
		{"  ", "", ""},
		{"{}", "", ""},
		{`instance="a:9849"`, `instance="a:9849"`, ""},
		{` { instance = "a:9849" , model_name=~'llama.*', } `, `instance = "a:9849",model_name=~'llama.*'`, ""},
		{"job!=`x`,env!~\"dev|test\"", "job!=`x`,env!~\"dev|test\"", ""},
		{`a="with \" quote, and comma"`, `a="with \" quote, and comma"`, ""},
		{"instance", "", "want label matchers"},
		{`instance="a" job="b"`, "", "want label matchers"},
		{`instance="a",,`, "", "want label matchers"},
		{`instance=a`, "", "want label matchers"},
		{`1abc="x"`, "", "want label matchers"},
		{`up{job="x"}`, "", "want label matchers"},
		{`job="x"}`, "", "want label matchers"},
		{`__name__="up"`, "", "the metric name (__name__) cannot be selected"},
		{`job="x", __name__=~"vllm:.*"`, "", "the metric name (__name__) cannot be selected"},
	}
	for _, tt := range tests {
		got, err := ParseSelector(tt.in)
		if tt.err != "" {
			require.ErrorIs(t, err, ErrSelector, tt.in)
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"gpu_memory_peak_bytes", "energy_joules", "power_watts_mean", "gpu_utilization_mean",
		"kv_cache_usage_peak", "prefix_cache_hit_ratio", "preemptions", "extra.vllm_ttft_mean_seconds"}, Missing(nil))
	zero := 0.0
	assert.Equal(t, []string{"gpu_memory_peak_bytes", "energy_joules", "power_watts_mean", "gpu_utilization_mean",
		"prefix_cache_hit_ratio", "preemptions"},
		Missing(&results.ServerSide{KVCacheUsagePeak: &zero, Extra: map[string]float64{ExtraVLLMTTFTMean: 0}}))
}
