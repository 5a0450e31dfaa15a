package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// API paths.
const (
	PathCompletions     = "/v1/completions"
	PathChatCompletions = "/v1/chat/completions"
	PathModels          = "/v1/models"
	PathHealth          = "/health"
	PathVersion         = "/version"
	PathMetrics         = "/metrics"
)

// vocabText is the simulator's output vocabulary, one token per word.
const vocabText = " the| of| and| to| in| a| is| that| for| it| as| with| on| by| at| this|" +
	" model| token| batch| cache| server| request| latency| stream| GPU| memory| prefix| queue|" +
	" fast| slow| load| test| data| time| first| next| every| one| two| three| more| less| we|" +
	" you| they| will| can| may| not| be| run| send| wait| read| write| step| end| start| so|" +
	" then| when| here| now|."

// Server is a simulated vLLM OpenAI-compatible server. It is an
// http.Handler; a Server is safe for concurrent use.
type Server struct {
	cfg      config
	log      *slog.Logger
	m        *metrics
	eng      *engine
	next     atomic.Uint64
	draining atomic.Bool
	started  time.Time

	vocab     []string
	modelJSON []byte // the model name as a JSON string
	bufs      sync.Pool
	hdrSSE    []string
	hdrJSON   []string

	batches  *batchStore
	batchMux *http.ServeMux
	run      *batchRuntime
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by opts. Out-of-range option values are
// clamped to the nearest valid value (and logged).
func New(opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	cfg.normalize()
	s := &Server{
		cfg:     cfg,
		log:     cfg.logger,
		started: time.Now(),
		vocab:   strings.Split(vocabText, "|"),
		hdrSSE:  []string{"text/event-stream; charset=utf-8"},
		hdrJSON: []string{"application/json"},
	}
	s.modelJSON, _ = json.Marshal(cfg.model)
	s.m = newMetrics(&s.cfg)
	s.eng = newEngine(&s.cfg, s.m)
	// Ids of files and batches differ from one server to the next, even
	// with the same seed: a client that saw a restart must not mistake a
	// new batch for the one it had.
	s.batches = newBatchStore(cfg.batchLimits, cfg.seed^uint64(s.started.UnixNano()))
	s.batchMux = s.newBatchMux()
	s.run = newBatchRuntime(cfg.batchSlots())
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s
}

// Model returns the served model name.
func (s *Server) Model() string { return s.cfg.model }

// ServeHTTP routes a request, and counts it in the HTTP metrics unless
// its handler is one vLLM leaves out of them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	handler, excluded := httpHandler(r.URL.Path)
	if handler == "none" {
		if route := s.batchRoute(r); route != "" {
			handler = route
		}
	}
	if excluded {
		s.route(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	// Deferred, so that a handler cut by panic(http.ErrAbortHandler) is
	// counted too.
	defer func() { s.m.http.observe(handler, r, sw, time.Since(start)) }()
	s.route(sw, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathCompletions:
		s.handleGenerate(w, r, PathCompletions, false)
	case PathChatCompletions:
		s.handleGenerate(w, r, PathChatCompletions, true)
	case PathModels:
		s.handleModels(w, r)
	case PathHealth:
		if s.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	case PathVersion:
		s.writeJSON(w, http.StatusOK, map[string]string{"version": Version})
	case PathMetrics:
		s.m.handler.ServeHTTP(w, r)
	default:
		if isBatchPath(r.URL.Path) {
			s.batchMux.ServeHTTP(w, r)
			return
		}
		s.writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet {
		return s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "MethodNotAllowed", msg: "Method Not Allowed"})
	}
	type model struct {
		ID          string  `json:"id"`
		Object      string  `json:"object"`
		Created     int64   `json:"created"`
		OwnedBy     string  `json:"owned_by"`
		Root        string  `json:"root"`
		Parent      *string `json:"parent"`
		MaxModelLen int     `json:"max_model_len"`
	}
	body := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", []model{{ID: s.cfg.model, Object: "model", Created: s.started.Unix(), OwnedBy: "benchstation",
		Root: s.cfg.model, MaxModelLen: s.cfg.maxModelLen}}}
	return s.writeJSON(w, http.StatusOK, body)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("sim: encoding a response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"internal error","type":"InternalServerError","param":null,"code":500}}`)
	}
	w.Header()["Content-Type"] = s.hdrJSON
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// writeError writes {"error":{"message","type","param","code"}}.
func (s *Server) writeError(w http.ResponseWriter, e *apiError) int {
	return s.writeJSON(w, e.status, vllmErrorBody(e))
}

// vllmError is vLLM's error body: the HTTP status is the code.
type vllmError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    int     `json:"code"`
	} `json:"error"`
}

func vllmErrorBody(e *apiError) vllmError {
	var b vllmError
	b.Error.Message, b.Error.Type, b.Error.Param, b.Error.Code = e.msg, e.typ, e.param, e.status
	return b
}

// Serve serves on ln until ctx is cancelled. Then /health answers 503, the
// listener closes, and in-flight requests get the shutdown grace period
// (WithShutdownGrace) before their connections are closed. It returns nil
// after a shutdown, or the error that stopped serving.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sim: serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Warn("sim: shutdown grace period over; closing connections", "err", err)
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim: serve: %w", err)
	}
	return nil
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background
// until ctx is cancelled. It returns the base URL ("http://host:port") and a
// wait function that blocks until the server has stopped and returns Serve's
// result.
func (s *Server) Start(ctx context.Context, addr string) (baseURL string, wait func() error, err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("sim: listen on %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), sync.OnceValue(func() error { return <-errc }), nil
}
