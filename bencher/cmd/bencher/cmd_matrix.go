package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
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
	if !o.set.profiles && o.target != "" {
		profs = withoutMissingBatchAPI(ctx, p, profs, stderr)
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

// withoutMissingBatchAPI leaves the batch-api profile out of the default
// profiles when the target plainly serves no Batch API (GET /batches
// answers 404, 405 or 501, as a plain vllm serve does), saying so: a
// matrix of the default profiles against such a server would otherwise
// end with runs that all failed. Any other answer keeps the profile, and
// its run says what went wrong.
func withoutMissingBatchAPI(ctx context.Context, p *plan, profs []profile, stderr io.Writer) []profile {
	i := slices.IndexFunc(profs, func(pr profile) bool { return pr.mode == modeBatchAPI })
	if i < 0 {
		return profs
	}
	hc, base, err := p.targetClient()
	if err != nil {
		return profs
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	where := results.RedactURL(strings.TrimRight(base, "/")) + "/batches?limit=1"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/batches?limit=1", nil)
	if err != nil {
		return profs
	}
	resp, err := hc.Do(req)
	if err != nil {
		return profs
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		fmt.Fprintf(stderr, "bencher: the target serves no Batch API (GET %s answered %s): the matrix leaves out "+
			"the %s profile (name it in --profiles to run it anyway)\n", where, resp.Status, profs[i].name)
		return slices.Delete(slices.Clone(profs), i, i+1)
	}
	return profs
}
