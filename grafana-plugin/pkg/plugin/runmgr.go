package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/batchapi"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/secret"
)

// runningDir is the hidden directory, inside the results directory, of the
// markers of the runs in progress (listings ignore directories).
const runningDir = ".running"

// ReasonPluginStopped is the error of the documents of runs that the
// plugin's shutdown (SIGTERM, or Grafana stopping it) interrupted.
const ReasonPluginStopped = "plugin stopped"

// ReasonInstanceStopped is the error of the documents of runs that
// Dispose interrupted.
const ReasonInstanceStopped = "the data source was stopped or reconfigured"

// ReasonPluginRestarted is the error of the documents of runs that a plugin
// restart interrupted.
const ReasonPluginRestarted = "plugin restarted"

// errBusy is returned by start when maxConcurrentRuns runs are going.
var errBusy = errors.New("too many runs")

// stopError is why a run was stopped early (a user's cancel, the data
// source's end, a plugin restart): it wraps context.Canceled, so that the
// run's document says "interrupted", with the reason as its error.
type stopError struct{ reason string }

// Error returns the reason.
func (e stopError) Error() string { return e.reason }

// Unwrap returns context.Canceled.
func (stopError) Unwrap() error { return context.Canceled }

// marker is the content of a .running/<id>.json file: enough to write the
// document of a run that a restart interrupted. It never holds the API key.
type marker struct {
	ID      string            `json:"id"`
	PID     int               `json:"pid"`
	Start   time.Time         `json:"start"`
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Profile string            `json:"profile"`
	Target  string            `json:"target"`
	Model   string            `json:"model"`
}

// runManager starts bencher runs and follows them; it belongs to one
// Datasource instance.
type runManager struct {
	dir     string
	max     int
	apiKey  Secret
	red     *secret.Redactor // scrubs what the runs write and show
	logger  log.Logger
	simOpts []sim.Option
	metrics *live.Metrics      // nil: the runs have no live metrics
	prom    *serverside.Client // nil: no prometheusUrl

	mu      sync.Mutex
	runs    map[string]*liveRun // running, and ended in this instance
	closed  bool
	wg      sync.WaitGroup
	nowFunc func() time.Time
}

// newRunManager returns the manager of the runs of dir; with metrics not
// nil, its runs count their requests there.
func newRunManager(s Settings, logger log.Logger, red *secret.Redactor, simOpts []sim.Option, metrics *live.Metrics) *runManager {
	m := &runManager{dir: s.ResultsDir, max: s.MaxConcurrentRuns, apiKey: s.APIKey, red: red,
		logger: logger, simOpts: simOpts, metrics: metrics, runs: map[string]*liveRun{}, nowFunc: time.Now}
	if s.PrometheusURL != "" {
		// No credential goes to Prometheus; still, no redirect leaves it.
		prom, err := serverside.New(s.PrometheusURL, serverside.WithRedactor(red),
			serverside.WithHTTPClient(&http.Client{CheckRedirect: secret.CheckRedirect}))
		if err != nil { // LoadSettings checked the URL: not reached
			logger.Warn("The runs will have no server side", "prometheusUrl", s.PrometheusURL, "error", err)
		}
		m.prom = prom
	}
	return m
}

// running returns the number of runs in progress; the caller holds mu.
func (m *runManager) runningLocked() int {
	n := 0
	for _, r := range m.runs {
		if !r.ended() {
			n++
		}
	}
	return n
}

// get returns the run with the given id started by this instance.
func (m *runManager) get(id string) (*liveRun, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	return r, ok
}

// list returns the runs of this instance, by id.
func (m *runManager) list() []*liveRun {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*liveRun, 0, len(m.runs))
	for _, r := range m.runs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *liveRun) int { return strings.Compare(a.id, b.id) })
	return out
}

// start starts the run of a validated plan in the background and returns
// its id.
func (m *runManager) start(p *runPlan) (*liveRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("the data source is shutting down")
	}
	if m.runningLocked() >= m.max {
		return nil, fmt.Errorf("%w: %d of %d allowed runs are going; wait for one to end or cancel one", errBusy, m.runningLocked(), m.max)
	}
	for id, r := range m.runs {
		if r.ended() { // its document is in the directory now
			delete(m.runs, id)
		}
	}
	now := m.nowFunc()
	id := results.NewID(now)
	ctx, cancel := context.WithCancelCause(context.Background())
	r := newLiveRun(id, p, now, cancel)
	if err := m.writeMarker(r); err != nil {
		cancel(nil)
		return nil, err
	}
	m.runs[id] = r
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.execute(ctx, r)
	}()
	return r, nil
}

// markerPath returns the marker file of a run.
func (m *runManager) markerPath(id string) string {
	return filepath.Join(m.dir, runningDir, id+".json")
}

// writeMarker records that r is running.
func (m *runManager) writeMarker(r *liveRun) error {
	if err := os.MkdirAll(filepath.Join(m.dir, runningDir), 0o755); err != nil {
		return fmt.Errorf("creating the run markers' directory: %w", err)
	}
	mk := marker{ID: r.id, PID: os.Getpid(), Start: r.start, Name: r.plan.name, Labels: maps.Clone(r.plan.labels),
		Profile: r.plan.profile, Target: secret.URL(results.RedactURL(r.plan.target)), Model: m.red.Value(r.plan.model)}
	scrubStrings(m.red, reflect.ValueOf(&mk).Elem())
	raw, err := json.Marshal(mk)
	if err != nil {
		return fmt.Errorf("encoding the marker of run %s: %w", r.id, err)
	}
	if err := os.WriteFile(m.markerPath(r.id), raw, 0o644); err != nil {
		return fmt.Errorf("writing the marker of run %s: %w", r.id, err)
	}
	return nil
}

// execute runs r to its end and writes its document: with the records
// gathered so far when it was stopped (a cancel, Dispose, the plugin's
// shutdown), and with what Prometheus saw when it ran to its end.
func (m *runManager) execute(ctx context.Context, r *liveRun) {
	res, meta, err := m.runBench(ctx, r)
	var stop stopError
	if cause := context.Cause(ctx); errors.As(cause, &stop) {
		err = stop // cancelled: say why, not how the runner noticed
	}
	if res == nil { // it could not start: keep its times for listings
		res = &bencher.Result{Start: r.start, End: time.Now()}
	} else if err == nil && ctx.Err() == nil {
		meta.ServerSide = m.serverSide(ctx, r.id, res)
	}
	doc, werr := m.writeDocument(res, meta, err)
	if werr != nil {
		m.logger.Error("Writing a run's document failed", "id", r.id, "error", werr)
	}
	if rerr := os.Remove(m.markerPath(r.id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		m.logger.Warn("Removing a run's marker failed", "id", r.id, "error", rerr)
	}
	r.finish(doc, werr)
	m.logger.Info("Benchmark run ended", "id", r.id, "status", r.snapshot().Status)
}

// writeDocument builds the document of a run (results.NewPartial), scrubs
// it of the settings' credentials (the target may have echoed them into
// anything it answered: error messages, outputs, its model's name, its
// version) and writes it.
func (m *runManager) writeDocument(res *bencher.Result, meta results.Meta, cause error) (*results.Document, error) {
	meta.Redactor = m.red
	doc := results.NewPartial(res, meta, m.red.Error(cause))
	scrubDocument(m.red, doc)
	_, err := results.Write(m.dir, doc)
	return doc, err
}

// serverSide asks the data source's Prometheus (prometheusUrl) what the
// server side saw during the run, as the bencher CLI's --prometheus-url
// does; nil without Prometheus or when that fails (the run's document goes
// without it, with a warning in the log).
func (m *runManager) serverSide(ctx context.Context, id string, res *bencher.Result) *results.ServerSide {
	if m.prom == nil {
		return nil
	}
	ss, err := m.prom.Collect(ctx, res.Start, res.End)
	if err != nil {
		m.logger.Warn("The run's document is written without its server side", "id", id, "error", err)
		return nil
	}
	return ss
}

// runTarget is the server a run sends its requests to.
type runTarget struct {
	url    string // OpenAI base URL
	model  string
	server results.Server
	close  func()
}

// openTarget starts the built-in simulator when the plan has no target,
// or asks the target what it is (results.DetectServer, as the CLI does)
// and, without a model in the plan, which model it serves.
func (m *runManager) openTarget(ctx context.Context, p *runPlan, opts []bencher.Option) (*runTarget, error) {
	if p.target == "" {
		simCtx, stop := context.WithCancel(context.Background())
		srv := sim.New(m.simOpts...)
		base, wait, err := srv.Start(simCtx, "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, fmt.Errorf("starting the built-in simulator: %w", err)
		}
		return &runTarget{url: base + "/v1", model: cmp.Or(p.model, srv.Model()),
			server: results.Server{Version: sim.Version, Simulated: true},
			close:  func() { stop(); _ = wait() }}, nil
	}
	t := &runTarget{url: p.target, model: p.model, close: func() {}}
	// The plugin's own requests (GET /version, GET /models) send the key
	// to the target's origin only, and follow no redirect that leaves it.
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	hc := redirectClient(&http.Client{Transport: base}, p.target, bearerHeader(m.apiKey))
	vctx, cancel := context.WithTimeout(ctx, DefaultProbeTimeout)
	srv, err := results.DetectServer(vctx, hc, p.target)
	cancel()
	switch {
	case err == nil:
		t.server = results.Server{Version: m.red.Value(srv.Version), Simulated: srv.Simulated}
	case !errors.Is(err, results.ErrNoVersion):
		if msg, ok := redirectMessage(err); ok {
			err = errors.New(msg)
		}
		m.logger.Debug("The target's version is unknown", "error", err)
	}
	if t.model == "" {
		detected, err := bencher.DetectModel(ctx, p.target, append(slices.Clone(opts), bencher.WithHTTPClient(hc))...)
		if msg, ok := redirectMessage(err); ok { // the URL of err is the redirect's: not shown
			err = errors.New(msg)
		}
		if err != nil {
			return nil, fmt.Errorf("finding the target's model (name one with \"model\"): %w", err)
		}
		t.model = detected
	}
	return t, nil
}

// runBench opens the run's target and runs the load.
func (m *runManager) runBench(ctx context.Context, r *liveRun) (*bencher.Result, results.Meta, error) {
	p := r.plan
	meta := results.Meta{ID: r.id, Name: p.name, Labels: p.labels, Profile: p.profile,
		Workload: p.wlMeta, Simulated: p.target == ""}
	opts := append(slices.Clone(p.options), bencher.WithRedactor(m.red))
	if m.apiKey.IsSet() && p.target != "" {
		opts = append(opts, bencher.WithAPIKey(m.apiKey.Value()))
	}
	tgt, err := m.openTarget(ctx, p, opts)
	if err != nil {
		return nil, meta, err
	}
	defer tgt.close()
	meta.Simulated, meta.ServerVersion = tgt.server.Simulated, tgt.server.Version
	if p.mode == bencher.ModeBatchAPI {
		return m.runBatch(ctx, r, tgt, meta)
	}
	var obs bencher.Observer = r
	var lr *live.Run
	if m.metrics != nil {
		lr = live.NewRun(live.RunInfo{ID: r.id, Profile: m.red.Value(p.profile), Model: m.red.Value(tgt.model),
			Target: secret.URL(results.RedactURL(tgt.url)),
			API:    string(p.api), Mode: p.mode, Simulated: tgt.server.Simulated}, m.metrics)
		defer lr.Finish()
		obs = observers{r, lr}
	}
	runner, err := bencher.NewRunner(append(opts, bencher.WithTarget(tgt.url), bencher.WithModel(tgt.model),
		bencher.WithObserver(obs))...)
	if err != nil {
		return nil, meta, fmt.Errorf("configuring the run: %w", err)
	}
	r.setRunner(runner)
	if lr != nil {
		lr.Start(runner)
	}
	res, err := runner.Run(ctx, p.source)
	if err != nil {
		return res, meta, fmt.Errorf("running the benchmark: %w", err)
	}
	return res, meta, nil
}

// cancel stops a running run; it reports false for an unknown or ended run.
func (m *runManager) cancel(id string) bool {
	r, ok := m.get(id)
	if !ok || r.ended() {
		return false
	}
	r.cancel(stopError{"cancelled by a user"})
	return true
}

// close cancels every running run and waits for their documents.
func (m *runManager) close() { m.closeWith(ReasonInstanceStopped) }

// closeWith cancels every running run with the reason and waits for their
// documents, which keep the records gathered so far. It may be called
// again: runs already stopped keep their first reason.
func (m *runManager) closeWith(reason string) {
	m.mu.Lock()
	m.closed = true
	for _, r := range m.runs {
		r.cancel(stopError{reason})
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// recover writes an interrupted document for every run whose marker was
// left behind by another process (a plugin restart), and removes the
// marker. Markers of this process belong to another live instance.
func (m *runManager) recover() {
	dir := filepath.Join(m.dir, runningDir)
	names, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.logger.Warn("Reading the run markers failed", "dir", dir, "error", err)
		}
		return
	}
	for _, e := range names {
		if !strings.HasSuffix(e.Name(), ".json") || e.IsDir() {
			continue
		}
		if err := m.recoverOne(filepath.Join(dir, e.Name())); err != nil {
			m.logger.Warn("Recovering an interrupted run failed", "marker", e.Name(), "error", err)
		}
	}
}

// recoverOne handles one marker file.
func (m *runManager) recoverOne(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var mk marker
	if err := json.Unmarshal(raw, &mk); err != nil || CheckRunID(mk.ID) != nil {
		_ = os.Remove(path)
		return fmt.Errorf("marker %s is not valid, removed", path)
	}
	if mk.PID == os.Getpid() {
		return nil
	}
	if _, err := os.Stat(filepath.Join(m.dir, mk.ID+".json")); err == nil {
		return os.Remove(path) // its document was written before the restart
	}
	res := &bencher.Result{Start: mk.Start, End: mk.Start}
	meta := results.Meta{ID: mk.ID, Name: mk.Name, Labels: mk.Labels, Profile: mk.Profile,
		Simulated: mk.Target == ""}
	if _, err := m.writeDocument(res, meta, stopError{ReasonPluginRestarted}); err != nil {
		return fmt.Errorf("writing the document of interrupted run %s: %w", mk.ID, err)
	}
	m.logger.Warn("A run was interrupted by a plugin restart", "id", mk.ID)
	return os.Remove(path)
}

// BatchPoll is the interval at which a batch-api run polls its batch.
const BatchPoll = time.Second

// runBatch runs the plan's requests as one Batch API job (the batch-api
// profile), as the bencher CLI's --mode batch-api does: a cancel of the
// run cancels the batch on the server, and the document keeps what the
// batch finished. Its progress, in the stream and the live metrics, is
// what each poll of the batch reads: the server's counts and status.
func (m *runManager) runBatch(ctx context.Context, r *liveRun, tgt *runTarget, meta results.Meta) (*bencher.Result, results.Meta, error) {
	p := r.plan
	opts := []batchapi.Option{batchapi.WithRedactor(m.red)}
	if m.apiKey.IsSet() && p.target != "" {
		opts = append(opts, batchapi.WithAPIKey(m.apiKey.Value()))
	}
	c, err := batchapi.New(tgt.url, opts...)
	if err != nil {
		return nil, meta, fmt.Errorf("configuring the run: %w", err)
	}
	reqs := make([]bencher.Request, p.requests)
	for i := range reqs {
		reqs[i] = p.source.Request(i)
	}
	var lr *live.Run
	if m.metrics != nil {
		lr = live.NewRun(live.RunInfo{ID: r.id, Profile: m.red.Value(p.profile), Model: m.red.Value(tgt.model),
			Target: secret.URL(results.RedactURL(tgt.url)),
			API:    string(p.api), Mode: bencher.ModeBatchAPI, Simulated: tgt.server.Simulated}, m.metrics)
		defer lr.Finish()
		lr.Start(nil)
	}
	seen := func(b batchapi.Batch) {
		bp := live.BatchProgress{Status: m.red.Value(b.Status), Total: int64(b.RequestCounts.Total),
			Completed: int64(b.RequestCounts.Completed), Failed: int64(b.RequestCounts.Failed)}
		r.observeBatch(bp)
		if lr != nil {
			lr.ObserveBatch(bp)
		}
	}
	out, err := batchapi.Bench(ctx, c, reqs, batchapi.BenchOptions{API: p.api, Model: tgt.model, Poll: BatchPoll,
		Metadata: map[string]string{"bencher_run": meta.ID, "bencher_profile": m.red.Value(p.profile)}, Seen: seen})
	if out == nil {
		return nil, meta, fmt.Errorf("running the batch: %w", err)
	}
	meta.Batch = out.Section(BatchPoll, m.red)
	if err != nil {
		return out.Result, meta, fmt.Errorf("running the batch: %w", err)
	}
	return out.Result, meta, nil
}
