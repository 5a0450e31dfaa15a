package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
	"github.com/benchstation/benchstation/internal/testkit"
)

// gatedCollector holds every Collect until the test lets it go, then sends
// families metric families of series series each: the test can hang up
// while a scrape is running, and the response is large enough that writing
// it fails once the client has gone.
type gatedCollector struct {
	families, series int
	entered          chan struct{}
	release          chan struct{}
}

func (c *gatedCollector) Describe(chan<- *prometheus.Desc) {} // unchecked

func (c *gatedCollector) Collect(ch chan<- prometheus.Metric) {
	c.entered <- struct{}{}
	<-c.release
	for i := range c.families {
		d := prometheus.NewDesc(fmt.Sprintf("gated_family_%d", i), "A family.", []string{"series"}, nil)
		for j := range c.series {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, fmt.Sprintf("series-%06d-%s", j, strings.Repeat("x", 40)))
		}
	}
}

func testRoutes(t *testing.T, reg prometheus.Gatherer, args ...string) (http.Handler, *testkit.Buffer) {
	t.Helper()
	o, err := parseFlags(args, io.Discard)
	require.NoError(t, err)
	sys, err := gpusim.New("dgxh100")
	require.NoError(t, err)
	var logs testkit.Buffer
	return routes(o, prometheus.ToTransactionalGatherer(reg), gpu.NewManager(sys.Library(), gpu.Simulated()), logs.Logger()), &logs
}

// TestClientHangUpIsNotAnError: a load test ending (20 connections) logged
// 639 ERROR lines "context canceled", one per metric family of each scrape
// whose client had gone. A client hanging up is no error of the exporter:
// a debug line at most, and not one per family or per scrape. The clients
// here are real TCP connections, closed while the collectors run; fewer
// than the handler's limit of 10 in flight, since the scrapes they leave
// behind may still be running when the next one starts.
func TestClientHangUpIsNotAnError(t *testing.T) {
	t.Parallel()
	c := &gatedCollector{families: 30, series: 300, entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h, logs := testRoutes(t, reg)
	srv := httptest.NewServer(h)
	defer srv.Close()
	const scrapes = 9
	for range scrapes {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		_, err = io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
		require.NoError(t, err)
		select {
		case <-c.entered:
		case <-time.After(60 * time.Second):
			t.Fatal("the scrape never reached the collector")
		}
		require.NoError(t, conn.Close()) // the client hangs up while the collectors run
		c.release <- struct{}{}
	}
	// The scrapes fail to write after their clients went; wait for the first
	// record, then for the rest to run out.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "error encoding and sending metric family") },
		60*time.Second, 10*time.Millisecond, "no record of the abandoned scrapes:\n%s", logs.String())
	waitQuiet(logs)
	got := logs.String()
	assert.Zero(t, len(linesWith(got, "level=ERROR")), "ERROR lines: a client hanging up is not an error")
	lines := linesWith(got, "error encoding and sending metric family")
	assert.Len(t, lines, 1, "lines about it: rate-limited, not one per family or scrape")
	if len(lines) > 0 {
		assert.Contains(t, lines[0], "level=DEBUG")
		assert.Contains(t, lines[0], "scrape abandoned by the client")
	}
}

// waitQuiet waits until logs has not grown for a while.
func waitQuiet(logs *testkit.Buffer) {
	last := -1
	for n := len(logs.String()); n != last; n = len(logs.String()) {
		last = n
		time.Sleep(200 * time.Millisecond)
	}
}

func TestScrapeErrorLogRateLimits(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	now := time.Unix(1e9, 0)
	l := newScrapeErrorLog(logs.Logger(), func() time.Time { return now })
	const prefix = "error encoding and sending metric family:"
	for range 100 {
		l.Println(prefix, context.Canceled)
		l.Println(prefix, fmt.Errorf("write tcp 127.0.0.1:9849->127.0.0.1:5555: %w", syscall.EPIPE))
	}
	l.Println("error gathering metrics:", errors.New("collected metric x was collected before"))
	got := logs.String()
	assert.Len(t, linesWith(got, "scrape abandoned by the client"), 1, got)
	assert.Len(t, linesWith(got, "level=ERROR"), 1, got)
	assert.Contains(t, got, `level=ERROR msg="error gathering metrics: collected metric x was collected before"`)

	now = now.Add(quietInterval)
	l.Println(prefix, syscall.ECONNRESET)
	lines := linesWith(logs.String(), "scrape abandoned by the client")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[1], "suppressed_since_last=199")
	assert.Contains(t, lines[1], "level=DEBUG")
}

// TestPprofIsOptIn: the landing page linked to /debug/pprof/heap and
// /debug/pprof/profile, which were not served (404). Profiling is now
// served with --web.enable-pprof, and linked only then.
func TestPprofIsOptIn(t *testing.T) {
	t.Parallel()
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	off, _ := testRoutes(t, prometheus.NewRegistry())
	code, landing := get(off, "/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, landing, `href="/metrics"`)
	assert.NotContains(t, landing, "debug/pprof", "no links to what is not served")
	code, _ = get(off, "/debug/pprof/heap")
	assert.Equal(t, http.StatusNotFound, code)

	on, _ := testRoutes(t, prometheus.NewRegistry(), "--web.enable-pprof")
	code, landing = get(on, "/")
	assert.Equal(t, http.StatusOK, code)
	for _, link := range []string{`href="/debug/pprof/heap"`, `href="/debug/pprof/profile?seconds=60"`} {
		assert.Contains(t, landing, link)
	}
	code, body := get(on, "/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "heap")
	code, _ = get(on, "/debug/pprof/heap")
	assert.Equal(t, http.StatusOK, code)
	code, _ = get(on, "/debug/pprof/cmdline")
	assert.Equal(t, http.StatusOK, code)
}
