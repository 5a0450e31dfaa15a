package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/collector"
)

// TestMetricsHandlerNegotiatesAsPromhttp: whatever a scraper asks for
// (Prometheus 2 and 3, with and without native histograms, OpenMetrics
// only, protobuf only, nothing, gzip or not), the handler answers with the
// Content-Type, Vary and families of promhttp's handler on the same
// gatherer, the path it served before the text fast path. Values differ
// between two scrapes; names, types, help and label sets do not.
func TestMetricsHandlerNegotiatesAsPromhttp(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"--nvml.simulate=dgxh100"}, io.Discard)
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	gpus, cfg := newManager(o, logger)
	defer gpus.Close()
	exp, err := collector.New(collector.Deps{GPUs: gpus, Logger: logger, Config: cfg}, collector.DefaultEnabled())
	require.NoError(t, err)
	defer exp.Close()
	g := newGatherer(exp)
	ours := metricsHandler(g, logger)
	theirs := gzipper(promhttp.HandlerForTransactional(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, DisableCompression: true}))

	const protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	for _, accept := range []string{
		"",
		"*/*",
		"text/plain",
		"text/plain;version=0.0.4;q=1,*/*;q=0.1", // go tool mage scrapecost
		// Prometheus 2.
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		// Prometheus 3, and with native histograms on.
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4," +
			"text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
		protobuf + ";q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
		"text/plain;version=1.0.0;escaping=dots",
		"application/openmetrics-text;version=1.0.0",
		protobuf,
		"application/json",
	} {
		for _, encoding := range []string{"", "gzip"} {
			var families [2][]string
			var types [2]string
			for i, h := range []http.Handler{ours, theirs} {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", accept)
				if encoding != "" {
					req.Header.Set("Accept-Encoding", encoding)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code, "Accept %q: %s", accept, rec.Body)
				types[i] = rec.Header().Get("Content-Type")
				assert.Equal(t, encoding, rec.Header().Get("Content-Encoding"), accept)
				assert.Contains(t, rec.Header().Values("Vary"), "Accept", accept)
				body := io.Reader(rec.Body)
				if encoding == "gzip" {
					zr, err := gzip.NewReader(rec.Body)
					require.NoError(t, err)
					body = zr
				}
				families[i] = shapes(t, body, expfmt.ResponseFormat(rec.Header()))
			}
			assert.Equal(t, types[1], types[0], "Content-Type for Accept %q", accept)
			assert.Equal(t, families[1], families[0], "families for Accept %q", accept)
			assert.Greater(t, len(families[0]), 300, "series for Accept %q", accept)
		}
	}
}

// TestMetricsHandlerNameFilter: ?name[]= still selects families.
func TestMetricsHandlerNameFilter(t *testing.T) {
	t.Parallel()
	h := benchHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics?name[]=go_goroutines&name[]=process_open_fds", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	shape := shapes(t, rec.Body, expfmt.ResponseFormat(rec.Header()))
	assert.Equal(t, []string{"go_goroutines GAUGE {} Number of goroutines that currently exist.",
		"process_open_fds GAUGE {} Number of open file descriptors."}, shape)
}

// shapes decodes a response and lists its series without their values:
// family name, type and help, and label pairs.
func shapes(t *testing.T, body io.Reader, f expfmt.Format) []string {
	t.Helper()
	dec := expfmt.NewDecoder(body, f)
	var out []string
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else {
			require.NoError(t, err, "format %s", f)
		}
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, mf.GetName()+" "+mf.GetType().String()+" {"+strings.Join(labels, ",")+"} "+mf.GetHelp())
		}
	}
	slices.Sort(out)
	return out
}
