package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// Verdict is the outcome of one metric of a comparison.
type Verdict string

// The verdicts.
const (
	VerdictNone    Verdict = ""        // no threshold on the metric
	VerdictPass    Verdict = "pass"    // within its threshold
	VerdictFail    Verdict = "fail"    // its threshold was breached: a regression
	VerdictMissing Verdict = "missing" // a run has no such value: counts as a regression
)

// Row is one metric of a comparison.
type Row struct {
	Name string `json:"name"`
	// Base and New are the runs' values; nil when a run has none.
	Base *float64 `json:"base"`
	New  *float64 `json:"new"`
	// Delta is New − Base; Relative is Delta / |Base|, nil when a value is
	// missing or Base is 0 and New is not.
	Delta    *float64 `json:"delta"`
	Relative *float64 `json:"relative"`
	// Unit is the value's unit as the tables show it: ms, s, %, req/s,
	// tok/s, or "" for counts and plain numbers.
	Unit string `json:"unit"`
	// Better says which way the value is better.
	Better Direction `json:"better"`
	// Change is "better", "worse", "same", "changed" (for a neutral
	// value) or "" (a value is missing).
	Change    string     `json:"change"`
	Threshold *Threshold `json:"threshold,omitempty"`
	Verdict   Verdict    `json:"verdict"`
}

// RunRef identifies a run of a comparison.
type RunRef struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Status    results.Status `json:"status"`
	Simulated bool           `json:"simulated"`
	Target    string         `json:"target"`
	Model     string         `json:"model"`
	Start     time.Time      `json:"start"`
}

// Comparison is a new run compared with a base run.
type Comparison struct {
	Base RunRef `json:"base"`
	New  RunRef `json:"new"`
	Rows []Row  `json:"rows"`
	// Regressed is true when a threshold was breached, a thresholded value
	// is missing, or the new run did not complete; Reasons says which.
	Regressed bool     `json:"regressed"`
	Reasons   []string `json:"reasons"`
	// Warnings are differences between the runs that make the comparison
	// doubtful (simulated against real, other models or loads).
	Warnings []string `json:"warnings"`
}

// compareNames are the values every comparison shows, in order.
func compareNames() []string {
	return []string{
		"success_rate", "error_rate", "request_throughput", "output_throughput", "total_token_throughput",
		"goodput", "ttft_p50", "ttft_p95", "ttft_p99", "tpot_p50", "tpot_p95", "itl_p50", "itl_p95",
		"e2el_p50", "e2el_p95", "e2el_p99", "queue_delay_p95", "concurrency", "duration_s", "requests",
	}
}

// Compare compares a new run with a base run under thresholds (nil: none;
// the CLI passes DefaultThresholds when the user gives none). See
// CompareHeaders.
func Compare(base, cur *results.Document, thresholds []Threshold) *Comparison {
	return CompareHeaders(&base.Header, &cur.Header, thresholds)
}

// CompareHeaders compares two runs by their headers: every value of
// compareNames and of the thresholds, side by side, with a verdict for
// those with a threshold. The comparison regressed when a threshold was
// breached, when a run lacks a value that a threshold names, or when the
// new run was interrupted or failed.
func CompareHeaders(base, cur *results.Header, thresholds []Threshold) *Comparison {
	c := &Comparison{Base: ref(base), New: ref(cur), Reasons: []string{}, Warnings: warnings(base, cur)}
	byName := map[string]*Threshold{}
	names := compareNames()
	for i := range thresholds {
		byName[thresholds[i].Name] = &thresholds[i]
		if !slices.Contains(names, thresholds[i].Name) {
			names = append(names, thresholds[i].Name)
		}
	}
	for _, name := range names {
		r, ok := compareValue(name, base, cur, byName[name])
		if !ok {
			continue
		}
		c.Rows = append(c.Rows, r)
		if reason := r.reason(); reason != "" {
			c.Reasons = append(c.Reasons, reason)
		}
	}
	if !cur.Completed() {
		c.Reasons = append(c.Reasons, "the new run "+ended(cur.Status)+": "+oneLine(cur.Error, 200))
	}
	c.Regressed = len(c.Reasons) > 0
	return c
}

// ref returns the identity of a run.
func ref(h *results.Header) RunRef {
	return RunRef{
		ID: h.ID, Title: h.Title(), Status: h.Status, Simulated: h.Environment.Simulated,
		Target: h.Environment.Target, Model: h.Environment.Model, Start: h.Environment.StartTime,
	}
}

// compareValue returns the row of one value, and false when neither run
// has it and no threshold names it.
func compareValue(name string, base, cur *results.Header, t *Threshold) (Row, bool) {
	bv, bok := base.Summary.Value(name)
	nv, nok := cur.Summary.Value(name)
	r := Row{Name: name, Unit: Unit(name), Better: Better(name), Threshold: t}
	if !bok && !nok && t == nil {
		return r, false
	}
	if bok {
		r.Base = &bv
	}
	if nok {
		r.New = &nv
	}
	if !bok || !nok {
		if t != nil {
			r.Verdict = VerdictMissing
		}
		return r, true
	}
	delta := nv - bv
	rel := relative(bv, nv)
	r.Delta = &delta
	if !math.IsInf(rel, 0) {
		r.Relative = &rel
	}
	r.Change = change(delta, r.Better)
	if t != nil {
		r.Verdict = VerdictPass
		if t.breached(rel, r.Better) {
			r.Verdict = VerdictFail
		}
	}
	return r, true
}

// relative returns (n − b) / |b|: 0 when both are 0, ±Inf from a base of 0.
func relative(b, n float64) float64 {
	switch {
	case b == n:
		return 0
	case b == 0:
		return math.Inf(int(math.Copysign(1, n)))
	}
	return (n - b) / math.Abs(b)
}

// change classifies a change of a value better in direction d.
func change(delta float64, d Direction) string {
	switch {
	case delta == 0:
		return "same"
	case d == Neutral:
		return "changed"
	case (delta > 0) == (d == HigherIsBetter):
		return "better"
	}
	return "worse"
}

// reason says why a row is a regression, or "".
func (r *Row) reason() string {
	switch r.Verdict {
	case VerdictMissing:
		which := "the new run"
		if r.Base == nil {
			which = "the base run"
		}
		return fmt.Sprintf("%s: %s has no samples for it (threshold %s)", r.Name, which, r.Threshold.limitText())
	case VerdictFail:
		verb := "grew"
		if *r.Delta < 0 {
			verb = "dropped"
		}
		by := "from 0"
		if r.Relative != nil {
			by = "by " + f2(math.Abs(100**r.Relative)) + "%"
		}
		return fmt.Sprintf("%s %s %s (threshold %s)", r.Name, verb, by, r.Threshold.limitText())
	}
	return ""
}

// warnings lists the differences that make a comparison doubtful.
func warnings(base, cur *results.Header) []string {
	out := []string{}
	switch be, ne := base.Environment.Simulated, cur.Environment.Simulated; {
	case be && ne:
		out = append(out, "both runs were SIMULATED")
	case be:
		out = append(out, "the base run was SIMULATED and the new run was not")
	case ne:
		out = append(out, "the new run was SIMULATED and the base run was not")
	}
	if bm, nm := base.Environment.Model, cur.Environment.Model; bm != nm {
		out = append(out, fmt.Sprintf("the models differ: %q and %q", bm, nm))
	}
	if bl, nl := loadText(base), loadText(cur); bl != nl {
		out = append(out, "the loads differ: "+bl+" and "+nl)
	}
	out = append(out, workloadWarnings(base, cur)...)
	for _, r := range []struct {
		which string
		h     *results.Header
	}{{"base", base}, {"new", cur}} {
		if r.h.ClientSaturated() {
			out = append(out, "the "+r.which+" run's client was SATURATED ("+strings.Join(r.h.Client.Reasons, ", ")+
				"): its latencies include the client's own delays")
		}
	}
	if !base.Completed() {
		out = append(out, "the base run "+ended(base.Status))
	}
	return out
}

// loadText describes a run's load shape in a few words.
func loadText(h *results.Header) string {
	cfg := &h.Config.Run
	if cfg.Mode == bencher.ModeBatchAPI {
		return loadMode(cfg) + " (no TTFT, ITL or TPOT)"
	}
	s := loadMode(cfg) + ", concurrency " + requestedConcurrency(cfg)
	if cfg.Mode == "open_loop" {
		s += ", rate " + requestedRate(cfg) + " req/s"
	}
	return s
}

// ended says how a run that did not complete ended: "was interrupted" or
// "failed".
func ended(s results.Status) string {
	if s == results.StatusInterrupted {
		return "was interrupted"
	}
	return string(s)
}

// workloadWarnings lists the differences of the two runs' workloads: the
// API, streaming, the source of the prompts, the token lengths and the
// profile. Latencies and throughputs of different workloads do not
// compare.
func workloadWarnings(base, cur *results.Header) []string {
	var out []string
	differ := func(what, b, n string) {
		if b != n {
			out = append(out, fmt.Sprintf("the workloads differ: %s %s and %s", what, orNone(b), orNone(n)))
		}
	}
	bc, nc := &base.Config, &cur.Config
	differ("API", string(bc.Run.API), string(nc.Run.API))
	differ("streaming", fmt.Sprint(bc.Run.Stream), fmt.Sprint(nc.Run.Stream))
	differ("prompt source", bc.Workload.Source+" "+bc.Workload.File, nc.Workload.Source+" "+nc.Workload.File)
	differ("input tokens", bc.Workload.InputTokens, nc.Workload.InputTokens)
	differ("output tokens", bc.Workload.OutputTokens, nc.Workload.OutputTokens)
	differ("profile", base.Profile, cur.Profile)
	return out
}

// orNone quotes s, or says "(none)".
func orNone(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "(none)"
	}
	return strconv.Quote(s)
}

// Unit returns the unit of a summary value as reports show it: "ms" for
// latency statistics, "s" for duration_s, "%" for ratios, "req/s" and
// "tok/s" for rates, "requests" for concurrencies, "" for counts.
func Unit(name string) string {
	switch {
	case isRatio(name):
		return "%"
	case isCount(name):
		return ""
	}
	switch name {
	case "request_throughput", "goodput", "request_rate", "requested_request_rate":
		return "req/s"
	case "output_throughput", "total_token_throughput":
		return "tok/s"
	case "concurrency", "server_concurrency":
		return "requests"
	case "duration_s":
		return "s"
	}
	if i := strings.LastIndexByte(name, '_'); i > 0 && stats.IsValueName(name) {
		return "ms"
	}
	return ""
}
