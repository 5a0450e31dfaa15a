package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// discardResponse is an http.ResponseWriter that keeps nothing but the
// byte count, so that a benchmark counts the handler's work only.
type discardResponse struct {
	header http.Header
	n      int
}

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) WriteHeader(int)             {}
func (w *discardResponse) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkMetricsHandler measures what one scrape costs the exporter:
// the whole /metrics handler of the binary (every default collector, the Go
// and process collectors, build_info, promhttp with its timeout and
// in-flight limit, text encoding, and gzip when asked for) on a simulated
// DGX H100 (8 GPUs). Besides ns/op and allocs/op it reports
//
//	cpu-ns/op      CPU time (user+system, from getrusage) per scrape, which
//	               counts the collectors' goroutines too
//	allocs/sample  heap allocations per exposed sample
//	samples        samples in one scrape
//	bytes/op       response size
func BenchmarkMetricsHandler(b *testing.B) {
	for _, tc := range []struct {
		name     string
		encoding string
	}{{"identity", ""}, {"gzip", "gzip"}} {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHandler(b)
			samples := countSamples(b, h)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.encoding != "" {
				req.Header.Set("Accept-Encoding", tc.encoding)
			}
			w := &discardResponse{header: http.Header{}}
			h.ServeHTTP(w, req) // learn unsupported fields, warm caches
			var before, after syscall.Rusage
			var mBefore, mAfter runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&mBefore)
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.header)
				w.n = 0
				h.ServeHTTP(w, req)
			}
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			runtime.ReadMemStats(&mAfter)
			n := float64(b.N)
			b.ReportMetric(float64(cpuTime(after)-cpuTime(before))/n, "cpu-ns/op")
			b.ReportMetric(float64(mAfter.Mallocs-mBefore.Mallocs)/n/float64(samples), "allocs/sample")
			b.ReportMetric(float64(samples), "samples")
			b.ReportMetric(float64(w.n), "bytes/op")
		})
	}
}

func cpuTime(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// benchHandler is the binary's handler in simulation mode.
func benchHandler(b testing.TB) http.Handler {
	b.Helper()
	o, err := parseFlags([]string{"--nvml.simulate=dgxh100"}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	h, closeAll, err := newHandler(o, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeAll)
	return h
}

// countSamples scrapes h once, in text, and counts the sample lines.
func countSamples(b *testing.B, h http.Handler) int {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// TestScrapeAllocationBudget holds the line of issue #13 point 8: a scrape
// of a simulated DGX H100 (every default collector, the process and Go
// series, build_info, text encoding, with and without gzip) allocates at
// most 3 times per sample. It counts allocations, not time.
func TestScrapeAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	o, err := parseFlags([]string{"--nvml.simulate=dgxh100"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h, closeAll, err := newHandler(o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	samples := 0
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			samples++
		}
	}
	if samples < 300 {
		t.Fatalf("%d samples; want the whole simulated system", samples)
	}
	for _, encoding := range []string{"", "gzip"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		w := &discardResponse{header: http.Header{}}
		allocs := testing.AllocsPerRun(20, func() {
			clear(w.header)
			h.ServeHTTP(w, req)
		})
		perSample := allocs / float64(samples)
		t.Logf("encoding %q: %.0f allocations per scrape of %d samples: %.2f per sample", encoding, allocs, samples, perSample)
		if perSample > 3 {
			t.Errorf("encoding %q: %.2f allocations per sample, want at most 3", encoding, perSample)
		}
	}
}
