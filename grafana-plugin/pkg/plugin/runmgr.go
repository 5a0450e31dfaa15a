package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
)

// runningDir is the hidden directory, inside the results directory, of the
// markers of the runs in progress (listings ignore directories).
const runningDir = ".running"

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
	logger  log.Logger
	simOpts []sim.Option
	metrics *live.Metrics // nil: the runs have no live metrics

	mu      sync.Mutex
	runs    map[string]*liveRun // running, and ended in this instance
	closed  bool
	wg      sync.WaitGroup
	nowFunc func() time.Time
}

// newRunManager returns the manager of the runs of dir; with metrics not
// nil, its runs count their requests there.
func newRunManager(s Settings, logger log.Logger, simOpts []sim.Option, metrics *live.Metrics) *runManager {
	return &runManager{dir: s.ResultsDir, max: s.MaxConcurrentRuns, apiKey: s.APIKey,
		logger: logger, simOpts: simOpts, metrics: metrics, runs: map[string]*liveRun{}, nowFunc: time.Now}
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
	mk := marker{ID: r.id, PID: os.Getpid(), Start: r.start, Name: r.plan.name, Labels: r.plan.labels,
		Profile: r.plan.profile, Target: results.RedactURL(r.plan.target), Model: r.plan.model}
	raw, err := json.Marshal(mk)
	if err != nil {
		return fmt.Errorf("encoding the marker of run %s: %w", r.id, err)
	}
	if err := os.WriteFile(m.markerPath(r.id), raw, 0o644); err != nil {
		return fmt.Errorf("writing the marker of run %s: %w", r.id, err)
	}
	return nil
}

// execute runs r to its end and writes its document.
func (m *runManager) execute(ctx context.Context, r *liveRun) {
	res, meta, err := m.runBench(ctx, r)
	var stop stopError
	if cause := context.Cause(ctx); errors.As(cause, &stop) {
		err = stop // cancelled: say why, not how the runner noticed
	}
	if res == nil { // it could not start: keep its times for listings
		res = &bencher.Result{Start: r.start, End: time.Now()}
	}
	doc, _, werr := results.WritePartial(m.dir, res, meta, err)
	if werr != nil {
		m.logger.Error("Writing a run's document failed", "id", r.id, "error", werr)
	}
	if rerr := os.Remove(m.markerPath(r.id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		m.logger.Warn("Removing a run's marker failed", "id", r.id, "error", rerr)
	}
	r.finish(doc, werr)
	m.logger.Info("Benchmark run ended", "id", r.id, "status", r.snapshot().Status)
}

// runBench starts the simulator if the run needs it and runs the load.
func (m *runManager) runBench(ctx context.Context, r *liveRun) (*bencher.Result, results.Meta, error) {
	p := r.plan
	meta := results.Meta{ID: r.id, Name: p.name, Labels: p.labels, Profile: p.profile,
		Workload: p.wlMeta, Simulated: p.target == ""}
	target := p.target
	if target == "" {
		simCtx, stop := context.WithCancel(context.Background())
		defer stop()
		base, wait, err := sim.New(m.simOpts...).Start(simCtx, "127.0.0.1:0")
		if err != nil {
			return nil, meta, fmt.Errorf("starting the built-in simulator: %w", err)
		}
		defer func() { stop(); _ = wait() }()
		target = base + "/v1"
	}
	opts := append(slices.Clone(p.options), bencher.WithTarget(target))
	if m.apiKey.IsSet() && p.target != "" {
		opts = append(opts, bencher.WithAPIKey(m.apiKey.Reveal()))
	}
	model := p.model
	if model == "" && p.target == "" {
		model = sim.DefaultModel
	} else if model == "" {
		detected, err := bencher.DetectModel(ctx, target, opts...)
		if err != nil {
			return nil, meta, fmt.Errorf("finding the target's model (name one with \"model\"): %w", err)
		}
		model = detected
	}
	var obs bencher.Observer = r
	var lr *live.Run
	if m.metrics != nil {
		lr = live.NewRun(live.RunInfo{ID: r.id, Profile: p.profile, Model: model, Target: results.RedactURL(target),
			API: string(p.api), Mode: p.mode, Simulated: p.target == ""}, m.metrics)
		defer lr.Finish()
		obs = observers{r, lr}
	}
	runner, err := bencher.NewRunner(append(opts, bencher.WithModel(model), bencher.WithObserver(obs))...)
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
func (m *runManager) close() {
	m.mu.Lock()
	m.closed = true
	for _, r := range m.runs {
		r.cancel(stopError{"the data source was stopped or reconfigured"})
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
	if _, _, err := results.WritePartial(m.dir, res, meta, stopError{ReasonPluginRestarted}); err != nil {
		return fmt.Errorf("writing the document of interrupted run %s: %w", mk.ID, err)
	}
	m.logger.Warn("A run was interrupted by a plugin restart", "id", mk.ID)
	return os.Remove(path)
}
