package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The API server's HTTP metrics, as vLLM's OpenAI server exposes them: it
// wraps itself in prometheus-fastapi-instrumentator's Instrumentator with
// its defaults (metrics.default(): these five families, their help texts,
// labels and buckets; status codes grouped as 2xx, 4xx, …; paths without
// a route grouped as handler "none"), excluding the handlers below.

// HTTPLatencyBuckets are the instrumentator's default buckets, in
// seconds, of http_request_duration_highr_seconds (many buckets, no
// labels); HTTPLatencyLowrBuckets those of http_request_duration_seconds
// (few buckets, by handler and method). +Inf is implicit.
func HTTPLatencyBuckets() []float64 {
	return []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60}
}

// HTTPLatencyLowrBuckets: see HTTPLatencyBuckets.
func HTTPLatencyLowrBuckets() []float64 { return []float64{0.1, 0.5, 1} }

// httpExcluded are the handlers vLLM leaves out of its HTTP metrics
// (excluded_handlers, searched in the handler as regular expressions:
// these have no special characters, so a substring).
var httpExcluded = []string{"/metrics", "/health", "/load", "/ping", "/version", "/server_info"}

// httpRoutes are the simulator's routes; any other path is handler "none".
var httpRoutes = map[string]bool{PathCompletions: true, PathChatCompletions: true, PathModels: true}

// httpMethods are the method label values kept as sent. The instrumentator
// keeps any method; the simulator names the others "other", so that a
// client cannot make label values up.
var httpMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true, http.MethodConnect: true, http.MethodTrace: true}

// httpMetrics are the instrumentator's five families.
type httpMetrics struct {
	requests        *prometheus.CounterVec
	reqSize, resSiz *prometheus.SummaryVec
	highr           prometheus.Histogram
	lowr            *prometheus.HistogramVec
}

func newHTTPMetrics(f promauto.Factory) *httpMetrics {
	return &httpMetrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total",
			Help: "Total number of requests by method, status and handler."}, []string{"method", "status", "handler"}),
		reqSize: f.NewSummaryVec(prometheus.SummaryOpts{Name: "http_request_size_bytes",
			Help: "Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. "},
			[]string{"handler"}),
		resSiz: f.NewSummaryVec(prometheus.SummaryOpts{Name: "http_response_size_bytes",
			Help: "Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. "},
			[]string{"handler"}),
		highr: f.NewHistogram(prometheus.HistogramOpts{Name: "http_request_duration_highr_seconds",
			Help:    "Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. ",
			Buckets: HTTPLatencyBuckets()}),
		lowr: f.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds",
			Help:    "Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ",
			Buckets: HTTPLatencyLowrBuckets()}, []string{"method", "handler"}),
	}
}

// httpHandler returns the handler label of a path, and whether the path
// is left out of the metrics.
func httpHandler(path string) (handler string, excluded bool) {
	for _, ex := range httpExcluded {
		if strings.Contains(path, ex) {
			return "", true
		}
	}
	if httpRoutes[path] {
		return path, false
	}
	return "none", false
}

// observe records one finished request as the instrumentator does: the
// status the response started with (500 if it never started, as when the
// connection was cut before), grouped; the sizes from the Content-Length
// headers (0 without one, as for a stream); the time until the response's
// end.
func (h *httpMetrics) observe(handler string, r *http.Request, rw *statusWriter, took time.Duration) {
	method := r.Method
	if !httpMethods[method] {
		method = "other"
	}
	status := rw.status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	h.requests.WithLabelValues(method, strconv.Itoa(status/100)+"xx", handler).Inc()
	h.reqSize.WithLabelValues(handler).Observe(contentLength(r.Header))
	h.resSiz.WithLabelValues(handler).Observe(contentLength(rw.Header()))
	h.highr.Observe(took.Seconds())
	h.lowr.WithLabelValues(method, handler).Observe(took.Seconds())
}

func contentLength(h http.Header) float64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return float64(n)
}

// statusWriter remembers the status a response started with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes a stream's events.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
