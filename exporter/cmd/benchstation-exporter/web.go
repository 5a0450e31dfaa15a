package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/benchstation/benchstation/exporter/collector"
	"github.com/benchstation/benchstation/exporter/gpu"
)

const (
	healthPath  = "/healthz"
	pprofPrefix = "/debug/pprof/"
)

// checkTelemetryPath rejects a --web.telemetry-path that http.ServeMux
// would panic on, or that would take the place of another endpoint.
func checkTelemetryPath(p string, pprofOn bool) error {
	bad := func(reason string) error { return fmt.Errorf("--web.telemetry-path %q: %s", p, reason) }
	switch {
	case !strings.HasPrefix(p, "/"):
		return bad(`must be a URL path starting with "/", such as /metrics`)
	case strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return bad("must not contain spaces or control characters")
	case strings.ContainsAny(p, "{}?#%"):
		return bad(`must not contain "{", "}", "?", "#" or "%"`)
	case p == "/":
		return bad("is the landing page's path")
	case p == healthPath || p == healthPath+"/":
		return bad("is the health endpoint's path")
	case path.Clean(p) != strings.TrimSuffix(p, "/"):
		return bad(`must be a clean path (no "//", "." or ".." segments)`)
	case pprofOn && (strings.HasPrefix(p, pprofPrefix) || p+"/" == pprofPrefix):
		return bad("is under " + pprofPrefix + ", served by --web.enable-pprof")
	}
	// The last word is the mux's: what it would panic on is a usage error.
	return tryPattern(p)
}

func tryPattern(p string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("--web.telemetry-path %q: %v", p, r)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle(healthPath, http.NotFoundHandler())
	mux.Handle(p, http.NotFoundHandler())
	return nil
}

func routes(o *options, reg prometheus.TransactionalGatherer, gpus *gpu.Manager, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(o.metricsPath, metricsHandler(reg, logger))
	mux.HandleFunc(healthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s := gpus.Session(); s != nil {
			fmt.Fprintf(w, "ok: NVML up, %d GPUs\n", len(s.Devices))
			return
		}
		fmt.Fprintln(w, "ok: exporter running; NVML not initialised (see nvidia_gpu_nvml_up)")
	})
	if o.enablePprof {
		mux.HandleFunc(pprofPrefix, pprof.Index)
		mux.HandleFunc(pprofPrefix+"cmdline", pprof.Cmdline)
		mux.HandleFunc(pprofPrefix+"profile", pprof.Profile)
		mux.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
		mux.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "Benchstation exporter",
		Description: "NVIDIA GPU metrics read from NVML",
		Version:     version.Info(),
		// The page links to /debug/pprof/ only where it is served.
		Profiling: fmt.Sprint(o.enablePprof),
		Links: []web.LandingLinks{
			{Address: o.metricsPath, Text: "Metrics"},
			{Address: healthPath, Text: "Health"},
		},
	})
	if err != nil {
		logger.Error("no landing page", "err", err)
	} else {
		mux.Handle("/", landing)
	}
	return mux
}

// maxInFlight is how many scrapes the handler serves at once; more are
// answered 503.
const maxInFlight = 10

// metricsHandler serves reg at the telemetry path.
//
// Three choices make a scrape cost a fraction of the CPU it did:
//
//   - The text format (what Prometheus asks for unless told otherwise) is
//     written by collector.Scrape.AppendText into a reused buffer, without
//     protobuf messages or expfmt for the collectors' own series, and sent
//     in one write. Other formats (protobuf, asked for by Prometheus with
//     native histograms on) and a ?name[]= filter take promhttp's handler,
//     which negotiates the same way (expfmt.DefaultAcceptedFormats: no
//     OpenMetrics, as before).
//   - Compression is klauspost/compress's gzip at BestSpeed rather than
//     promhttp's (the standard library's at the default level): on a scrape
//     of eight GPUs promhttp's gzip took more CPU than gathering and encoding
//     together, for a response a fifth smaller.
//   - No promhttp Timeout: it runs the handler under http.TimeoutHandler,
//     which buffers the whole response and copies it (a third of the bytes a
//     scrape allocated) in a goroutine of its own. Prometheus bounds every
//     scrape with its scrape_timeout and hangs up; the exporter notices on
//     its next write. A hung collector was not stopped by the timeout
//     either: it only answered 503 sooner.
//
// Errors are handled as promhttp's ContinueOnError does, with its log
// lines: what could be gathered is served, a scrape with nothing is a 500.
func metricsHandler(reg prometheus.TransactionalGatherer, logger *slog.Logger) http.Handler {
	errLog := newScrapeErrorLog(logger, time.Now)
	m, ok := reg.(*collector.Merged)
	if !ok {
		m = collector.Merge(reg)
	}
	other := promhttp.HandlerForTransactional(m, promhttp.HandlerOpts{
		ErrorLog:           errLog,
		ErrorHandling:      promhttp.ContinueOnError,
		DisableCompression: true,
	})
	inFlight := make(chan struct{}, maxInFlight)
	return gzipper(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", maxInFlight),
				http.StatusServiceUnavailable)
			return
		}
		format := expfmt.NegotiateAccept(r.Header, acceptedFormats...)
		if format.FormatType() != expfmt.TypeTextPlain || (r.URL != nil && r.URL.Query().Has("name[]")) {
			other.ServeHTTP(w, r)
			return
		}
		writeText(w, m, format, errLog)
	}))
}

// acceptedFormats are the formats promhttp offers by default.
var acceptedFormats = expfmt.DefaultAcceptedFormats()

// textBuffers holds the buffers of text scrapes, for reuse.
var textBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer kept for the next scrape (a
// scrape of many batch jobs can be larger; its buffer is left to the GC).
const maxPooledBuffer = 4 << 20

// writeText serves one scrape of m in the text format f.
func writeText(w http.ResponseWriter, m *collector.Merged, f expfmt.Format, errLog *scrapeErrorLog) {
	s, err := m.Scrape()
	defer s.Done()
	if err != nil {
		errLog.Println("error gathering metrics:", err)
		if s.Len() == 0 {
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(f))
	buf := textBuffers.Get().(*[]byte)
	b, err := s.AppendText((*buf)[:0], f)
	s.Done() // the samples are in b
	if err != nil {
		errLog.Println("error encoding and sending metric family:", err)
	}
	if _, err := w.Write(b); err != nil {
		errLog.Println("error encoding and sending metric family:", err)
	}
	if cap(b) <= maxPooledBuffer {
		*buf = b
		textBuffers.Put(buf)
	}
}

// gzipper compresses responses for clients that accept gzip.
var gzipper = func() func(http.Handler) http.HandlerFunc {
	w, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(gzip.BestSpeed), gzhttp.EnableZstd(false))
	if err != nil {
		panic(err) // the options are constants
	}
	return w
}()

// quietInterval is the least time between two log lines about scrapes
// that clients abandoned.
const quietInterval = time.Minute

// scrapeErrorLog is promhttp's ErrorLog. promhttp logs once per metric
// family that it fails to write, so one client hanging up mid-scrape
// (Prometheus's scrape timeout, a load test ending, curl interrupted) made
// dozens of ERROR lines ("context canceled", "broken pipe"). A client that
// goes away is not the exporter's error: such lines are debug records, at
// most one per quietInterval, counting those left out. Anything else is an
// error.
type scrapeErrorLog struct {
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	gone limiter
}

// limiter lets one line through per quietInterval and counts the others.
type limiter struct {
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one.
func (l *limiter) allow(now time.Time) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < quietInterval {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

var _ promhttp.Logger = (*scrapeErrorLog)(nil)

func newScrapeErrorLog(logger *slog.Logger, now func() time.Time) *scrapeErrorLog {
	return &scrapeErrorLog{logger: logger, now: now}
}

// Println implements promhttp.Logger.
func (l *scrapeErrorLog) Println(v ...any) {
	msg := strings.TrimSuffix(fmt.Sprintln(v...), "\n")
	var err error
	for _, a := range v {
		if e, ok := a.(error); ok {
			err = e
		}
	}
	switch {
	case clientGone(err):
		l.mu.Lock()
		ok, suppressed := l.gone.allow(l.now())
		l.mu.Unlock()
		if ok {
			l.logger.Debug("scrape abandoned by the client", "err", msg, "suppressed_since_last", suppressed)
		}
	default:
		l.logger.Error(msg)
	}
}

// clientGone reports whether err says the client went away before the
// response was written: its request context was cancelled, or the
// connection was closed or reset.
func clientGone(err error) bool {
	return err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, http.ErrAbortHandler))
}
