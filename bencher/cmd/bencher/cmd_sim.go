package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/benchstation/benchstation/bencher/sim"
)

// simCommand is bencher sim: the simulator, served until interrupted.
func simCommand(ctx context.Context, listen string, o *simOptions, stderr io.Writer, log *slog.Logger) int {
	if err := o.check(""); err != nil {
		return fail(stderr, err)
	}
	srv := sim.New(append(o.options(), sim.WithLogger(log))...)
	base, wait, err := srv.Start(ctx, listen)
	if err != nil {
		return fail(stderr, fmt.Errorf("--listen: %w", err))
	}
	fmt.Fprintf(stderr, "bencher: SIMULATED vLLM server: model %s, OpenAI API at %s/v1 (with the Batch API: %s%s, %s%s), "+
		"metrics at %s%s; Ctrl-C stops it\n", srv.Model(), base, base, sim.PathFiles, base, sim.PathBatches, base, sim.PathMetrics)
	if err := wait(); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stderr, "bencher: simulator stopped")
	return exitOK
}
