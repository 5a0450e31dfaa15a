package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// matrixCommand is bencher matrix: every profile at every size, compared
// in one table.
func matrixCommand(ctx context.Context, o *loadOptions, red *secret.Redactor, stdout, stderr io.Writer, log *slog.Logger, bar bool) int {
	profs, sizes, err := matrixAxes(o)
	if err != nil {
		return fail(stderr, err)
	}
	if o.set.mode {
		return fail(stderr, usagef("--mode: matrix runs each profile in its own mode (%s is %s); leave --mode out",
			profileBatchAPI, modeBatchAPI))
	}
	if err := applyFaults(o); err != nil {
		return fail(stderr, err)
	}
	p, err := newPlan(o, red)
	if err != nil {
		return fail(stderr, err)
	}
	matrixID := results.NewID(time.Now())
	var specs []spec
	for _, pr := range profs {
		po := *o
		pr.apply(&po)
		po.profile = pr.name
		for _, n := range sizes {
			s := p.baseSpec(&po)
			s.requests = n
			s.labels = withLabel(p.labels, "matrix", matrixID)
			s.barLabel = fmt.Sprintf("%s n=%d", pr.name, n)
			s.name = strings.TrimSpace(o.name + " " + s.barLabel)
			specs = append(specs, s)
		}
	}
	if err := p.check(specs); err != nil {
		return fail(stderr, err)
	}
	render := func(w io.Writer, hs []*results.Header) error {
		return report.Matrix(w, hs, p.format)
	}
	return benchmark(ctx, p, specs, render, stdout, stderr, log, bar)
}

// matrixAxes reads --profiles and --sizes.
func matrixAxes(o *loadOptions) ([]profile, []int, error) {
	var profs []profile
	for _, name := range strings.Split(o.profiles, ",") {
		p, err := findProfile(strings.TrimSpace(name))
		if err != nil {
			return nil, nil, usagef("--profiles: %w", err)
		}
		profs = append(profs, p)
	}
	levels, err := parseLevels(o.sizes, true)
	if err != nil {
		return nil, nil, usagef("--sizes: %w", err)
	}
	sizes := make([]int, len(levels))
	for i, l := range levels {
		sizes[i] = int(l)
	}
	return profs, sizes, nil
}

// The --faults presets.
const (
	faultsNone = "none"
	faultsDemo = "demo"
	// demoFaultsHelp describes the demo preset.
	demoFaultsHelp = "20% of requests answered 429 with Retry-After 1s, 10% answered 500"
)

// applyFaults sets the simulator's faults of a --faults preset, where no
// --sim.fault.* flag set them.
func applyFaults(o *loadOptions) error {
	if o.faults != faultsDemo {
		return nil
	}
	if o.target != "" {
		return usagef("--faults %s: the faults are the built-in simulator's; leave out --target", o.faults)
	}
	f := &o.sim.faults
	if f.RateLimit == 0 {
		f.RateLimit = 0.2
	}
	if f.ServerError == 0 {
		f.ServerError = 0.1
	}
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	return nil
}
