// Command bencher benchmarks OpenAI-compatible LLM servers (vLLM and
// others) under realistic load, and serves a built-in vLLM simulator.
//
//	bencher run      one benchmark run (or a sweep of load levels)
//	bencher matrix   profiles × sizes, compared in one table
//	bencher sim      serve the simulator until interrupted
//	bencher report   re-render a result document
//	bencher compare  compare two result documents; exit 3 on a regression
//	bencher merge    join the documents of a sharded run's shards
//	bencher export   labelstudio: a run's answers as Label Studio tasks
//
// See bencher --help for the flags and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/secret"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitBreach      = 3
	exitInterrupted = 130
)

const appHelp = `Load generator for OpenAI-compatible LLM servers (vLLM and others).

Without --target, run and matrix start the built-in vLLM simulator on a
loopback port and benchmark it; their output and result documents then say
SIMULATED. Every run is written as a JSON document into --results-dir, even
when it is interrupted or fails.

Profiles (--profile, and bencher matrix --profiles; explicit flags win):
` + "%s" + `
Exit codes:
  0    success
  1    runtime error: target unreachable or not OpenAI-compatible, no request
       succeeded, a run failed (--max-error-rate), a file could not be written
  2    usage error: bad flags or arguments, a bad --slo, --request-slo or
       --threshold expression, a bad dataset line (FILE:LINE)
  3    an --slo gate was breached, or compare found a regression
  130  interrupted (SIGINT, SIGTERM); the partial result is still written
       (a second signal ends the process at once, except while a result
       file is written: that write finishes first)
`

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	writes = newFinalWrites(os.Exit, os.Stderr)
	// The first signal stops the run; a second one ends the process at
	// once, except during the write of a result file (see finalWrites).
	go writes.watch(sigs, cancel)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// terminated is the exit code kingpin asks for after --help or --version;
// run recovers it, so that the process exits only in main.
type terminated int

// cli holds the flags of every command.
type cli struct {
	logLevel string

	run     loadOptions
	matrix  loadOptions
	sim     simOptions
	listen  string
	report  reportOptions
	compare compareOptions
	merge   mergeOptions
}

// newApp returns the command line of bencher, writing into c.
func newApp(stdout, stderr io.Writer, c *cli) *kingpin.Application {
	app := kingpin.New("bencher", fmt.Sprintf(appHelp, profilesHelp()))
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Terminate(func(code int) { panic(terminated(code)) }) // --help, --version: see run
	app.Version(results.BuildVersion())
	app.HelpFlag.Short('h')
	app.Flag("log-level", "Log level of diagnostics on stderr: debug, info, warn or error.").
		Default("warn").EnumVar(&c.logLevel, "debug", "info", "warn", "error")

	runCmd := app.Command("run", "Run one benchmark (or, with --sweep, one per load level) and report it.")
	addLoadFlags(runCmd, &c.run)
	runCmd.Flag("requests", fmt.Sprintf("Requests to send, warm-up included (default %d, or the --dataset's length).", defaultRequests)).
		IsSetByUser(&c.run.set.requests).IntVar(&c.run.requests)
	runCmd.Flag("duration", "Stop scheduling requests after this long (with no --requests: send until then).").DurationVar(&c.run.duration)
	runCmd.Flag("profile", "Load profile: "+strings.Join(profileNames(), ", ")+" (see above).").
		EnumVar(&c.run.profile, profileNames()...)
	runCmd.Flag("sweep", "Comma-separated load levels, one run each: concurrencies, or rates (req/s) when --rate is given.").
		PlaceHolder("LIST").StringVar(&c.run.sweep)
	addShardFlags(runCmd, &c.run.shard)
	addSimFlags(runCmd, "sim.", &c.run.sim)

	matrixCmd := app.Command("matrix", "Run every profile at every size and compare them in one table.")
	addLoadFlags(matrixCmd, &c.matrix)
	matrixCmd.Flag("profiles", "Comma-separated profiles to run (default: all; batch-api is left out, with a note, when the --target "+
		"answers GET /v1/batches with 404).").Default(strings.Join(profileNames(), ",")).IsSetByUser(&c.matrix.set.profiles).StringVar(&c.matrix.profiles)
	matrixCmd.Flag("sizes", "Comma-separated run sizes, in requests.").Default("10,100,5000").StringVar(&c.matrix.sizes)
	matrixCmd.Flag("faults", "Faults the built-in simulator injects: none, or demo ("+demoFaultsHelp+
		"), which shows why retries matter. Explicit --sim.fault.* flags win.").
		Default(faultsNone).EnumVar(&c.matrix.faults, faultsNone, faultsDemo)
	addSimFlags(matrixCmd, "sim.", &c.matrix.sim)

	simCmd := app.Command("sim", "Serve the built-in vLLM simulator (OpenAI API and /metrics) until interrupted.")
	simCmd.Flag("listen", "Address to listen on.").Default("127.0.0.1:8000").StringVar(&c.listen)
	simCmd.Flag("model", "Served model name.").Default(sim.DefaultModel).StringVar(&c.sim.model)
	addSimFlags(simCmd, "", &c.sim)

	addReportCommands(app, c)
	addMergeCommand(app, &c.merge)
	addExportCommand(app, stdout, stderr)
	return app
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "bencher: a command is needed: run, matrix, sim, report, compare, merge or export (see --help)")
		return exitUsage
	}
	c := &cli{}
	// The redactor of the run's credentials (the API key, credential
	// headers, URL user-info), which newPlan fills in: everything the
	// process writes passes through it, the last line of defence behind
	// the scrubbing of the server's text where it is recorded.
	red := secret.NewRedactor()
	rawStderr := stderr
	stdout, stderr = red.Writer(stdout), red.Writer(stderr)
	cmd, code, err := parse(newApp(stdout, stderr, c), args)
	if code >= 0 {
		return code
	}
	if err != nil {
		fmt.Fprintf(stderr, "bencher: %s (see --help)\n", errText(err))
		return exitUsage
	}
	bar := barWanted(rawStderr, cmd, c)
	if bar {
		// The bar and every line written meanwhile (warnings, log
		// lines) share one writer, so no line lands inside the bar's.
		stderr = live.NewTerminal(stderr)
	}
	log := newLogger(stderr, c.logLevel, red)
	switch cmd {
	case "run":
		return runCommand(ctx, &c.run, red, stdout, stderr, log, bar)
	case "matrix":
		return matrixCommand(ctx, &c.matrix, red, stdout, stderr, log, bar)
	case "sim":
		return simCommand(ctx, c.listen, &c.sim, stderr, log)
	case "report":
		return reportCommand(&c.report, stdout, stderr)
	case "compare":
		return compareCommand(&c.compare, stdout, stderr)
	case "merge":
		return mergeCommand(&c.merge, stdout, stderr)
	}
	fmt.Fprintf(stderr, "bencher: unknown command %q (see --help)\n", cmd)
	return exitUsage
}

// parse parses args; code is kingpin's exit code after --help or
// --version, and -1 otherwise.
func parse(app *kingpin.Application, args []string) (cmd string, code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(t)
		}
	}()
	cmd, err = app.Parse(args)
	if err != nil {
		err = nameFlag(app, args, err)
	}
	return cmd, -1, err
}

// nameFlag adds the flag and its value to the error of a value that did not
// parse, which kingpin leaves out ("strconv.ParseFloat: parsing "x"").
func nameFlag(app *kingpin.Application, args []string, err error) error {
	pc, perr := app.ParseContext(args)
	if perr != nil || pc == nil {
		return err
	}
	for _, el := range pc.Elements {
		fc, ok := el.Clause.(*kingpin.FlagClause)
		if !ok || el.Value == nil {
			continue
		}
		m := fc.Model()
		if serr := m.Value.Set(*el.Value); serr != nil && serr.Error() == err.Error() {
			return fmt.Errorf("--%s=%s: %w", m.Name, *el.Value, err)
		}
	}
	return err
}

// newLogger returns the logger of diagnostics, on stderr, scrubbed by red.
func newLogger(stderr io.Writer, level string, red *secret.Redactor) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // the flag's enum admits only valid levels
	return slog.New(red.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})))
}

// barWanted says whether to draw the progress line: on a terminal, unless
// told otherwise.
func barWanted(stderr io.Writer, cmd string, c *cli) bool {
	mode := c.run.progress
	if cmd == "matrix" {
		mode = c.matrix.progress
	}
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := stderr.(*os.File)
	return ok && live.IsTerminal(f)
}

// fail prints err and returns its exit code: 2 for usage errors, 130 for
// an interruption, 1 otherwise.
func fail(stderr io.Writer, err error) int {
	switch {
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bencher: %s\n", errText(err))
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "bencher: interrupted before the run began; nothing was measured")
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "bencher: %s\n", errText(err))
	return exitError
}

// errText returns err's message without the "bencher: " prefixes that the
// library's errors carry, since every line the command prints starts with
// one already: never "bencher: bencher: ...".
func errText(err error) string {
	s := err.Error()
	for strings.HasPrefix(s, "bencher: ") {
		s = strings.TrimPrefix(s, "bencher: ")
	}
	return strings.ReplaceAll(s, ": bencher: ", ": ")
}
