// Package plugin is the backend of the Benchstation bencher data source for
// Grafana: one Datasource per configured instance, which reads the bencher's
// run documents (package results) from the instance's results directory and
// answers Grafana's queries and health checks.
//
// # Query types
//
//	runs   a table of the runs in the time range, one row per run
//	trend  one numeric time series per profile of a summary value (such as
//	       ttft_p95), one point per run at its start: alert rules use it
//	live   the progress of one run, in a frame whose Meta.Channel makes the
//	       panel follow the run over Grafana Live
//	run    one run over time in buckets (in flight, throughput, latency
//	       percentiles), a wide time series
//	distribution  a latency histogram (xMin, xMax, count) or CDF of one or
//	       two runs
//	compare  two or more runs side by side, one metric per row, with the
//	       change of each run vs the first and its verdict
//	outputs  the per-request generated texts of one or two runs
//	annotations  the runs as annotation regions
//
// Whole documents (with records), which run, distribution and outputs
// read, are kept decoded in a small LRU (DefaultDocCacheSize) keyed by
// path, size and modification time.
//
// Each query's JSON is described by RunsQuery, TrendQuery, LiveQuery,
// RunQuery, DistributionQuery, CompareQuery, OutputsQuery and
// AnnotationsQuery. A query that
// fails (bad JSON, an unknown query type, an unreadable directory) carries
// its error in its own DataResponse; the other queries of the request are
// answered as usual.
//
// # Resources
//
// CallResource serves (JSON bodies; errors are {"error": "..."}):
//
//	POST /runs              start a run (RunSpec); 201 StartResponse, 400 bad
//	                        spec (the message names the field), 403 target
//	                        host not allowed or role below Editor, 429 too
//	                        many runs
//	GET  /runs              {"runs": [RunListItem]}: documents, then running
//	GET  /runs/<id>         RunListItem (header, or progress while running); 404
//	POST /runs/<id>/cancel  202; 403 below Editor; 404 not running
//	POST /import            a run document; 201 {"id"}; 400 invalid; 409 exists
//	GET  /profiles          {"profiles": [Profile]}
//	POST /export/labelstudio  ExportRequest: the runs' recorded outputs as
//	                        Label Studio tasks, sent to the settings'
//	                        labelStudioUrl (with secureJsonData.labelStudioToken);
//	                        200 ExportResponse; 400 bad request or runs
//	                        without outputs; 403 role below Editor or
//	                        Label Studio's host not allowed; 404 unknown
//	                        run; 502 Label Studio refused; 503 not configured
//
// # Live progress
//
// Runs started here publish their progress on the channel runs/<id>
// (RunChannelPath): SubscribeStream, PublishStream and RunStream, with frames
// made by ProgressFrame. Runs write their documents into the results
// directory when they end; a marker in resultsDir/.running lets the next
// start of the plugin mark the runs a restart interrupted.
//
// # Live metrics
//
// With WithLiveMetrics, runs started here also count their requests in the
// bencher's live metrics (bencher_*, package live), labelled with the run's
// id and profile; LiveCollector exposes them on the registry the SDK serves
// to Grafana's /metrics/plugins/<plugin id>.
//
// # Secrets
//
// The API key (secureJsonData.apiKey) is held in a secret.Secret, which
// prints, logs and marshals as "[REDACTED]", and reaches the target only:
// every request of the plugin (health checks, /version and model
// detection, the runs) sends it to the target's origin (scheme, host and
// port) alone, and no HTTP client of the plugin follows a redirect to
// another origin (secret.CheckRedirect: the error says so), which keeps
// redirects inside the allowed hosts too. Each instance has one
// secret.Redactor that knows the key and the credentials of its settings'
// URLs, in every form a server may echo them (raw, base64, URL- and
// JSON-escaped); it scrubs everything the instance gives out, even when
// the target echoes the key back: query frames and errors, health
// results, resource answers, Live stream frames, the run documents and
// markers it writes, the runs' live metrics (a model or server name
// holding a key is replaced whole) and, as a last line of defence, every
// line of its log.
package plugin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/secret"
)

// PluginID is the plugin's id, as in plugin.json.
const PluginID = "benchstation-bencher-datasource"

// DefaultProbeTimeout bounds each request of a health check.
const DefaultProbeTimeout = 5 * time.Second

// The query types.
const (
	QueryTypeRuns  = "runs"
	QueryTypeTrend = "trend"
	QueryTypeLive  = "live"

	QueryTypeRun          = "run"
	QueryTypeDistribution = "distribution"
	QueryTypeCompare      = "compare"
	QueryTypeOutputs      = "outputs"
	QueryTypeAnnotations  = "annotations"
)

// Compile-time checks of the handlers an instance implements.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
)

// Option configures a Datasource.
type Option func(*Datasource)

// WithLogger sets the logger (default: the SDK's backend.Logger, which
// Grafana collects).
func WithLogger(l log.Logger) Option {
	return func(d *Datasource) { d.logger = l }
}

// WithHTTPClient sets the client of health checks (default: a client of
// its own, closed by Dispose). Its redirect policy is replaced by
// secret.CheckRedirect: no redirect to another origin is followed.
func WithHTTPClient(c *http.Client) Option {
	return func(d *Datasource) { d.client = c }
}

// WithProbeTimeout bounds each request of a health check (default
// DefaultProbeTimeout).
func WithProbeTimeout(t time.Duration) Option {
	return func(d *Datasource) { d.probeTimeout = t }
}

// WithSimulatorOptions configures the built-in simulator that runs without
// a target use (default: the simulator's defaults).
func WithSimulatorOptions(opts ...sim.Option) Option {
	return func(d *Datasource) { d.simOpts = opts }
}

// WithLiveMetrics makes the runs started here count their requests in m,
// the bencher's live metrics (package live): give every instance the same
// Metrics, created once per process, and register LiveCollector(m) where
// the plugin's metrics are served from, so that the series outlive the
// instances. Without it, runs have no live metrics.
func WithLiveMetrics(m *live.Metrics) Option {
	return func(d *Datasource) { d.liveMetrics = m }
}

// WithStreamInterval sets how often RunStream sends progress (default
// DefaultStreamInterval).
func WithStreamInterval(t time.Duration) Option {
	return func(d *Datasource) { d.streamInterval = t }
}

// WithInstances records every instance in in, so that the process can
// stop their runs when it ends (Instances.Close).
func WithInstances(in *Instances) Option {
	return func(d *Datasource) { d.instances = in }
}

// Instances are the live instances of a process. The SDK disposes of an
// instance when its settings change, but not when the process ends: main
// closes them on SIGTERM and when the SDK's server returns, so that the
// runs going then write their partial documents.
type Instances struct {
	mu  sync.Mutex
	set map[*Datasource]struct{}
}

// NewInstances returns an empty set.
func NewInstances() *Instances { return &Instances{set: map[*Datasource]struct{}{}} }

// add records d.
func (in *Instances) add(d *Datasource) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.set[d] = struct{}{}
}

// remove forgets d.
func (in *Instances) remove(d *Datasource) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.set, d)
}

// Close stops the runs of every instance, with the reason "plugin
// stopped", and waits until their (interrupted) documents, with the
// records gathered so far, are written.
func (in *Instances) Close() {
	in.mu.Lock()
	all := make([]*Datasource, 0, len(in.set))
	for d := range in.set {
		all = append(all, d)
	}
	in.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range all {
		wg.Go(func() { d.runs.closeWith(ReasonPluginStopped) })
	}
	wg.Wait()
}

// Datasource is one configured instance of the data source. Invalid
// settings do not prevent its creation: its health check and every query
// then report what is wrong, naming the field.
type Datasource struct {
	settings  Settings
	configErr error
	index     *results.Index
	docs      *docCache
	mux       *datasource.QueryTypeMux
	resources backend.CallResourceHandler
	runs      *runManager

	simOpts        []sim.Option
	streamInterval time.Duration
	liveMetrics    *live.Metrics
	instances      *Instances

	logger       log.Logger       // behind red
	red          *secret.Redactor // every credential of the settings
	client       *http.Client
	ownClient    bool
	probeTimeout time.Duration

	mu      sync.Mutex
	skipped map[string]string // files reported as skipped, with their reasons
}

// NewFactory returns the instance factory that datasource.Manage calls for
// each configured instance (and again when its settings change).
func NewFactory(opts ...Option) datasource.InstanceFactoryFunc {
	return func(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		return New(s, opts...), nil
	}
}

// New returns the instance of the settings s.
func New(s backend.DataSourceInstanceSettings, opts ...Option) *Datasource {
	d := &Datasource{
		logger:         backend.Logger,
		probeTimeout:   DefaultProbeTimeout,
		streamInterval: DefaultStreamInterval,
		skipped:        map[string]string{},
	}
	for _, o := range opts {
		o(d)
	}
	d.red = newRedactor(s)
	d.logger = newRedactLogger(d.logger, d.red)
	if d.client == nil {
		d.client, d.ownClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: secret.CheckRedirect}, true
	}
	d.settings, d.configErr = LoadSettings(s)
	if d.configErr != nil {
		d.logger.Warn("Invalid data source settings", "uid", s.UID, "error", d.configErr)
	} else {
		d.index = results.NewIndex(d.settings.ResultsDir)
		d.docs = newDocCache(DefaultDocCacheSize, results.Read)
		d.logger.Debug("Data source settings", "uid", s.UID, "settings", d.settings)
	}
	d.runs = newRunManager(d.settings, d.logger, d.red, d.simOpts, d.liveMetrics)
	if d.configErr == nil {
		d.runs.recover()
	}
	d.resources = httpadapter.New(d.newResourceMux())
	d.mux = datasource.NewQueryTypeMux()
	d.mux.HandleFunc(QueryTypeRuns, d.queryRuns)
	d.mux.HandleFunc(QueryTypeTrend, d.queryTrend)
	d.mux.HandleFunc(QueryTypeLive, d.queryLive)
	d.mux.HandleFunc(QueryTypeRun, d.queryRun)
	d.mux.HandleFunc(QueryTypeDistribution, d.queryDistribution)
	d.mux.HandleFunc(QueryTypeCompare, d.queryCompare)
	d.mux.HandleFunc(QueryTypeOutputs, d.queryOutputs)
	d.mux.HandleFunc(QueryTypeAnnotations, d.queryAnnotations)
	d.mux.HandleFunc("", d.queryUnknown)
	if d.instances != nil {
		d.instances.add(d)
	}
	return d
}

// Settings returns the instance's validated settings and the error of
// their validation.
func (d *Datasource) Settings() (Settings, error) {
	return d.settings, d.configErr
}

// Dispose cancels the instance's running runs, waits for their
// (interrupted) documents, and releases its idle connections; the SDK calls
// it when the settings change or the instance is dropped.
func (d *Datasource) Dispose() {
	if d.instances != nil {
		d.instances.remove(d)
	}
	d.runs.close()
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
}

// QueryData answers each query with its own DataResponse, routed by query
// type. It returns an error only when the request itself cannot be served,
// never for one query's problem. Frames and errors are scrubbed of the
// settings' credentials.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	if d.configErr != nil {
		resp := backend.NewQueryDataResponse()
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusBadRequest,
				backend.ErrorSourceDownstream, d.configErr.Error()+" (fix the data source's settings)")
		}
		scrubQueryResponse(d.red, resp)
		return resp, nil
	}
	resp, err := d.mux.QueryData(ctx, req)
	scrubQueryResponse(d.red, resp)
	return resp, d.red.Error(err)
}
