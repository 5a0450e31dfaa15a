// Command benchstation-exporter serves NVIDIA GPU metrics, read straight
// from NVML, for Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/collector"
	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
	"github.com/benchstation/benchstation/internal/buildinfo"
	"github.com/benchstation/benchstation/internal/secret"
)

// DefaultListenAddress avoids the ports of the known GPU exporters (9400
// dcgm-exporter, 9445 and 9835 nvidia_gpu_exporter).
const DefaultListenAddress = ":9849"

const exporterName = "benchstation_exporter"

// init fills prometheus/common/version, which --version, the landing page
// and benchstation_exporter_build_info print, from internal/buildinfo: the
// version stamped at link time, else Go's build information.
func init() {
	info := buildinfo.Get()
	version.Version = info.Version
	version.Revision = info.Revision
	version.BuildDate = info.Time
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

type options struct {
	metricsPath   string
	enablePprof   bool
	simulate      string
	libraryPath   string
	retryInterval time.Duration
	collectors    map[string]*bool
	config        collector.Config
	batch         batch.Sources
	batchSet      bool // --[no-]collector.batch given
	web           *web.FlagConfig
	log           *promslog.Config
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	app := kingpin.New("benchstation-exporter", "Prometheus exporter for NVIDIA GPUs, reading NVML directly.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print("benchstation-exporter"))
	app.HelpFlag.Short('h')
	o := &options{collectors: map[string]*bool{}, log: &promslog.Config{}}
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	app.Flag("web.enable-pprof", "Serve Go's profiling endpoints under "+pprofPrefix+" (and link them from the landing page).").
		Default("false").BoolVar(&o.enablePprof)
	o.web = kingpinflag.AddFlags(app, DefaultListenAddress)
	app.Flag("nvml.simulate", "Serve SIMULATED data from a model system instead of the GPUs ("+
		strings.Join(gpusim.Models(), ", ")+"). For demos and tests; nvidia_gpu_info{simulated=\"true\"} marks it.").
		PlaceHolder("MODEL").EnumVar(&o.simulate, gpusim.Models()...)
	app.Flag("nvml.library-path", "Path of libnvidia-ml.so.1 (default: the dynamic linker's search path).").StringVar(&o.libraryPath)
	app.Flag("nvml.retry-interval", "How often to retry initialising NVML while it is unavailable.").
		Default(gpu.DefaultRetryInterval.String()).DurationVar(&o.retryInterval)
	app.Flag("path.procfs", "procfs mount point, for process names (the host's /proc when in a container).").
		Default(collector.DefaultProcPath).StringVar(&o.config.ProcPath)
	app.Flag("collector.process.max-per-gpu", "Most per-process series per GPU; the processes using the most memory are kept.").
		Default(fmt.Sprint(collector.DefaultMaxProcessesPerGPU)).IntVar(&o.config.MaxProcessesPerGPU)
	for _, f := range collector.Factories() {
		state := "disabled"
		if f.DefaultEnabled {
			state = "enabled"
		}
		flag := app.Flag("collector."+f.Name,
			fmt.Sprintf("Enable the %s collector: %s (default: %s).", f.Name, f.Help, state)).
			Default(fmt.Sprint(f.DefaultEnabled))
		if f.Name == "batch" {
			flag.IsSetByUser(&o.batchSet)
		}
		o.collectors[f.Name] = flag.Bool()
	}
	batchFlags(app, o)
	promslogflag.AddFlags(app, o.log)
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	if err := checkTelemetryPath(o.metricsPath, o.enablePprof); err != nil {
		return nil, err
	}
	if o.config.MaxProcessesPerGPU < 1 {
		return nil, fmt.Errorf("--collector.process.max-per-gpu must be at least 1, got %d", o.config.MaxProcessesPerGPU)
	}
	if o.retryInterval <= 0 {
		return nil, fmt.Errorf("--nvml.retry-interval must be positive, got %s", o.retryInterval)
	}
	if err := resolveBatch(o); err != nil {
		return nil, err
	}
	return o, nil
}

func batchFlags(app *kingpin.Application, o *options) {
	b := &o.config.Batch
	app.Flag("batch.endpoint", "Base URL of an OpenAI-compatible Batch API server to poll (GET URL/v1/batches); repeatable. "+
		"The key is read from --batch.api-key-file, else $"+batch.APIKeyEnv+".").PlaceHolder("URL").StringsVar(&o.batch.URLs)
	app.Flag("batch.api-key-file", "File holding the API key of the --batch.endpoint servers (default: $"+batch.APIKeyEnv+").").
		PlaceHolder("FILE").StringVar(&o.batch.APIKeyFile)
	app.Flag("batch.config-file", "YAML file listing batch endpoints, each with its own name and key file or variable.").
		PlaceHolder("FILE").StringVar(&o.batch.ConfigFile)
	app.Flag("batch.interval", "Time between polls of each batch endpoint.").Default(batch.DefaultInterval.String()).DurationVar(&b.Interval)
	app.Flag("batch.timeout", "Time limit of one poll of a batch endpoint, all pages together.").Default(batch.DefaultTimeout.String()).DurationVar(&b.Timeout)
	app.Flag("batch.stale-after", "How long a failing batch endpoint's last good data is still served.").
		Default(batch.DefaultStaleAfter.String()).DurationVar(&b.StaleAfter)
	app.Flag("batch.window", "How long a finished batch job keeps its per-job series.").Default(batch.DefaultWindow.String()).DurationVar(&b.Window)
	app.Flag("batch.max-batches", "Most batch jobs with per-job series, per endpoint; unfinished jobs first.").
		Default(fmt.Sprint(batch.DefaultMaxBatches)).IntVar(&b.MaxBatches)
	app.Flag("batch.max-pages", "Most pages (of 100 jobs) one poll may read; a longer listing fails the poll.").
		Default(fmt.Sprint(batch.DefaultMaxPages)).IntVar(&b.MaxPages)
}

// resolveBatch reads the batch endpoints and their keys, and switches the
// batch collector on when there are endpoints, unless the flag says no.
func resolveBatch(o *options) error {
	b := &o.config.Batch
	if b.Interval <= 0 || b.Timeout <= 0 || b.StaleAfter <= 0 || b.Window <= 0 || b.MaxBatches < 1 || b.MaxPages < 1 {
		return errors.New("--batch.interval, --batch.timeout, --batch.stale-after, --batch.window, --batch.max-batches and --batch.max-pages must be positive")
	}
	eps, err := o.batch.Endpoints()
	if err != nil {
		return err
	}
	b.Endpoints = eps
	if len(eps) > 0 && !o.batchSet {
		*o.collectors["batch"] = true
	}
	return b.Validate()
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	// The last line of defence: every credential known to the process is
	// scrubbed from everything it writes (stderr is shipped to Loki in the
	// compose stack), whatever the message that carries it.
	red := newRedactor(args, os.Getenv)
	stderr = red.Writer(stderr)
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "benchstation-exporter: %v (see --help)\n", err)
		return 2
	}
	for _, ep := range o.config.Batch.Endpoints {
		ep.AddCredentials(red)
	}
	o.log.Writer = stderr
	logger := slog.New(red.Handler(promslog.New(o.log).Handler()))
	if err := serve(ctx, o, logger); err != nil {
		logger.Error("exporter stopped", "err", err)
		return 1
	}
	return 0
}

// newRedactor returns the exporter's Redactor. It knows $BATCH_API_KEY,
// the credentials of URLs among the arguments, and any argument that may be
// a key put where a name or a path belongs (see batch.MayBeKey); run adds
// the endpoints' keys once they are read.
func newRedactor(args []string, getenv func(string) string) *secret.Redactor {
	r := secret.NewRedactor()
	if v := strings.TrimSpace(getenv(batch.APIKeyEnv)); v != "" {
		r.Add(v)
		r.AddHeader("Authorization", v) // "Bearer sk-…" pasted whole
	}
	for _, a := range args {
		v := a
		if strings.HasPrefix(a, "-") {
			_, v, _ = strings.Cut(a, "=")
		}
		r.AddURL(v)
		if batch.MayBeKey(v) {
			r.Add(v)
		}
	}
	return r
}

func serve(ctx context.Context, o *options, logger *slog.Logger) error {
	h, closeAll, err := newHandler(o, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	err = web.ListenAndServe(srv, o.web, logger)
	if errors.Is(err, http.ErrServerClosed) {
		logger.Info("shut down")
		return nil
	}
	return err
}

// newHandler builds everything the server serves: the NVML session, the
// collectors, the registry and the routes. closeAll releases what they hold.
func newHandler(o *options, logger *slog.Logger) (h http.Handler, closeAll func(), err error) {
	gpus, cfg := newManager(o, logger)
	enabled := map[string]bool{}
	for name, on := range o.collectors {
		enabled[name] = *on
	}
	exp, err := collector.New(collector.Deps{GPUs: gpus, Logger: logger, Config: cfg}, enabled)
	if err != nil {
		gpus.Close()
		return nil, nil, err
	}
	gpus.Refresh() // without NVML, the Manager logs the one line that says so
	closeAll = func() {
		exp.Close()
		gpus.Close()
	}
	return routes(o, newGatherer(exp), gpus, logger), closeAll, nil
}

// newGatherer returns what /metrics serves: the collectors' metrics and
// the exporter's own process and Go runtime (collector.Self, in place of
// client_golang's process and Go collectors), each gathered by its own
// fast path, and the build information, gathered once from a registry.
func newGatherer(exp *collector.Exporter) *collector.Merged {
	build := prometheus.NewRegistry()
	build.MustRegister(versioncollector.NewCollector(exporterName))
	info, err := build.Gather()
	if err != nil {
		panic(err) // one const metric of fixed names
	}
	return collector.Merge(exp.Transactional(), collector.NewSelf().Transactional(), gatheredOnce(info))
}

// gatheredOnce serves the same families at every scrape: the build
// information never changes, and a Registry's Gather of its one series
// cost about a twelfth of a scrape. Encoders only read the families.
type gatheredOnce []*dto.MetricFamily

func (g gatheredOnce) Gather() ([]*dto.MetricFamily, func(), error) { return g, func() {}, nil }

func newManager(o *options, logger *slog.Logger) (*gpu.Manager, collector.Config) {
	cfg := o.config
	opts := []gpu.Option{gpu.WithLogger(logger), gpu.WithRetryInterval(o.retryInterval)}
	if o.simulate != "" {
		sys, _ := gpusim.New(o.simulate) // the flag's enum admits only known models
		logger.Warn("SIMULATION MODE: all GPU metrics are simulated, not read from hardware", "system", o.simulate)
		cfg.ProcessName = sys.ProcessName
		return gpu.NewManager(sys.Library(), append(opts, gpu.Simulated())...), cfg
	}
	var libOpts []nvml.LibraryOption
	if o.libraryPath != "" {
		libOpts = append(libOpts, nvml.WithLibraryPath(o.libraryPath))
	}
	// The library is checked before go-nvml loads it and calls nvmlInit: a
	// file that is not NVML (or lacks a function start-up calls) would
	// otherwise kill the process with a symbol lookup error.
	check := func() error { return gpu.CheckLibrary(o.libraryPath) }
	return gpu.NewManager(nvml.New(libOpts...), append(opts, gpu.WithLibraryCheck(check))...), cfg
}
