package results

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/stats"
	"github.com/benchstation/benchstation/internal/secret"
)

// DefaultMaxErrorExamples is the number of example messages kept per error
// class when Meta.MaxErrorExamples is 0.
const DefaultMaxErrorExamples = 3

// Meta is what a document holds beyond the runner's Result: the user's
// names for the run, the workload, the objectives, and what is known of the
// environment. The zero value is valid.
type Meta struct {
	// ID is the document's id; empty makes one with NewID from the start time.
	ID      string
	Name    string
	Labels  map[string]string
	Profile string
	// Workload describes the requests.
	Workload Workload
	// SLOs are the per-request objectives goodput counts against.
	SLOs []stats.SLO
	// Gates are checked against the summary.
	Gates []gate.Gate
	// AllowSaturated lets the gates pass on a run whose client was
	// saturated (the run is still marked client_saturated).
	AllowSaturated bool
	// Percentiles are extra percentiles for every distribution; those that
	// gates name (such as "ttft_p99.9") are added by themselves.
	Percentiles []float64
	// Simulated is true when the target is the built-in simulator.
	Simulated bool
	// ServerVersion is what the server's /version answered (see ServerVersion).
	ServerVersion string
	// BencherVersion defaults to BuildVersion(); Host to os.Hostname().
	BencherVersion string
	Host           string
	// ServerSide is what the server's metrics showed, if known.
	ServerSide *ServerSide
	// Batch is what a batch-api run measured of its batch job (nil for
	// the online modes); the summary's throughputs are then over its
	// makespan, and what the mode cannot measure is absent.
	Batch *Batch
	// MaxErrorExamples is the number of example messages kept per error
	// class: 0 means DefaultMaxErrorExamples, a negative number none.
	MaxErrorExamples int
	// RunID is the id shared by the shards of a sharded run (the Result's
	// Shard set), which their merged document takes (see Merge).
	RunID string
	// OmitRecords leaves the records out of the document (RecordCount
	// still counts them).
	OmitRecords bool
	// Redactor, when set, scrubs the credentials it knows from every
	// string of the document that came from the server, before it is
	// stored: the records' error messages and outputs (their finish reason,
	// the model and the server version are replaced whole, by
	// secret.Redacted, when they hold one) and the run's error. The
	// bencher's client scrubs its records already (bencher.WithRedactor);
	// this is the document's own line of defence. The records of the
	// Result are left as they are: the document gets scrubbed copies.
	Redactor *secret.Redactor
}

// New builds the document of a finished run. Its status is interrupted
// when the runner stopped for a cancelled context (or said it completed
// while some records were canceled, which only a stop does), failed when
// it stopped for the error rate (bencher.StopMaxErrorRate), and completed
// otherwise.
// The summary is computed from the records with the SLOs, percentiles and
// requested concurrency and rate of the run; gates are checked against it.
func New(res *bencher.Result, m Meta) *Document {
	return NewPartial(res, m, nil)
}

// NewPartial builds the document of a run that may have ended early. cause
// is what ended it: nil as for New; an error wrapping context.Canceled
// makes the run interrupted; any other error makes it failed, with the
// error's text as the document's error. res may hold only part of the
// records, or none; a nil res stands for a run that could not start (a
// Result with only Config and Start set gives a better document).
func NewPartial(res *bencher.Result, m Meta, cause error) *Document {
	if res == nil {
		now := time.Now()
		res = &bencher.Result{Start: now, End: now}
		if cause == nil {
			cause = errors.New("the run produced no result")
		}
	}
	records := scrubRecords(res.Records, m.Redactor)
	d := &Document{Records: records}
	h := &d.Header
	h.SchemaVersion, h.Kind = SchemaVersion, Kind
	h.ID = cmp.Or(m.ID, NewID(res.Start))
	h.Name, h.Profile = m.Name, m.Profile
	h.Labels = maps.Clone(m.Labels)
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	h.StopReason = res.StopReason
	h.Status, h.Error = status(res, cause)
	h.Error = m.Redactor.String(h.Error)
	h.Config = newConfig(res, m)
	h.Config.Run.Model = m.Redactor.Value(h.Config.Run.Model)
	h.Environment = newEnvironment(res, m)
	h.Environment.Model = m.Redactor.Value(h.Environment.Model)
	h.Environment.ServerVersion = m.Redactor.Value(h.Environment.ServerVersion)
	h.Summary = stats.Summarize(records, summaryOptions(res, m)...)
	if m.Batch != nil {
		b := *m.Batch
		b.Errors = slices.Clone(b.Errors)
		for i, e := range b.Errors {
			b.Errors[i] = m.Redactor.String(e)
		}
		h.Batch = &b
		setBatch(h, h.Batch)
	}
	h.Errors = errorInfo(records, h.Summary, m.MaxErrorExamples)
	h.ClockSource, h.Client = res.ClockSource, res.Client
	h.Prewarm = res.Prewarm
	if len(m.Gates) > 0 {
		h.Gates = CheckGates(m.Gates, h, m.AllowSaturated)
	}
	h.SchedulerLateness = res.Lateness
	h.ServerSide = m.ServerSide
	if res.Shard != nil {
		h.Shard = &ShardInfo{Index: res.Shard.Index, Count: res.Shard.Count, RunID: m.RunID,
			Concurrency: res.Shard.Concurrency, Requests: res.Shard.Requests, ClockOffset: res.ClockOffset}
	}
	h.RecordCount = len(records)
	if m.OmitRecords {
		d.Records, h.RecordsOmitted = nil, true
	}
	return d
}

// scrubRecords returns records with the server's strings scrubbed by red:
// records itself when there was nothing to scrub, else a copy.
func scrubRecords(records []bencher.Record, red *secret.Redactor) []bencher.Record {
	if red.Empty() {
		return records
	}
	out := records
	for i := range records {
		r := &records[i]
		msg, output, finish := red.String(r.ErrorMessage), red.String(r.Output), red.Value(r.FinishReason)
		if msg == r.ErrorMessage && output == r.Output && finish == r.FinishReason {
			continue
		}
		if &out[0] == &records[0] {
			out = slices.Clone(records)
		}
		out[i].ErrorMessage, out[i].Output, out[i].FinishReason = msg, output, finish
	}
	return out
}

// status returns the status and error message of a run.
func status(res *bencher.Result, cause error) (Status, string) {
	switch {
	case cause != nil && errors.Is(cause, context.Canceled):
		return StatusInterrupted, cmp.Or(cause.Error(), "interrupted")
	case cause != nil:
		return StatusFailed, cmp.Or(cause.Error(), "failed")
	case res.StopReason == bencher.StopInterrupted:
		return StatusInterrupted, "the run was cancelled before its end"
	case (res.StopReason == bencher.StopCompleted || res.StopReason == bencher.StopDuration) && anyCanceled(res.Records):
		return StatusInterrupted, "the run was cancelled before its end (some requests were canceled)"
	case res.StopReason == bencher.StopMaxErrorRate:
		return StatusFailed, fmt.Sprintf("stopped early: the error rate passed the limit of %s",
			strconv.FormatFloat(res.Config.MaxErrorRate, 'g', -1, 64))
	}
	return StatusCompleted, ""
}

// anyCanceled reports whether a record was canceled, or never sent, by a
// stop of the run.
func anyCanceled(records []bencher.Record) bool {
	for i := range records {
		if records[i].Error == bencher.ErrCanceled || records[i].NotSent() {
			return true
		}
	}
	return false
}

// newConfig returns the configuration section.
func newConfig(res *bencher.Result, m Meta) Config {
	c := Config{
		Run:         res.Config,
		Workload:    m.Workload,
		Gates:       slices.Clone(m.Gates),
		Percentiles: percentiles(m),
	}
	c.Run.Target = RedactURL(c.Run.Target)
	for _, s := range m.SLOs {
		c.SLOs = append(c.SLOs, s.String())
	}
	return c
}

// percentiles returns the extra percentiles asked for and those the gates
// name, sorted and without duplicates.
func percentiles(m Meta) []float64 {
	ps := slices.Clone(m.Percentiles)
	for _, g := range m.Gates {
		if p, ok := stats.ExtraPercentile(g.Name); ok {
			ps = append(ps, p)
		}
	}
	ps = slices.DeleteFunc(ps, func(p float64) bool {
		return !(p >= 0 && p <= 100) || slices.Contains([]float64{stats.P50, stats.P90, stats.P95, stats.P99}, p)
	})
	slices.Sort(ps)
	return slices.Compact(ps)
}

// summaryOptions returns the options of the run's summary: the requested
// load is a shard's part of it in a shard's document.
func summaryOptions(res *bencher.Result, m Meta) []stats.Option {
	concurrency, rate := res.Config.Concurrency, res.Config.Rate
	if sh := res.Shard; sh != nil && sh.Count > 1 {
		// A shard's document measures its own part of the load.
		concurrency, rate = sh.Concurrency, rate/float64(sh.Count)
	}
	return []stats.Option{
		stats.WithSLOs(m.SLOs...),
		stats.WithPercentiles(percentiles(m)...),
		stats.WithRequestedConcurrency(concurrency),
		stats.WithRequestedRate(rate),
	}
}

// errorInfo lists the error classes of the summary, most frequent first,
// with up to limit distinct example messages each from the measured records.
func errorInfo(records []bencher.Record, s stats.Summary, limit int) []ErrorClassInfo {
	switch {
	case limit == 0:
		limit = DefaultMaxErrorExamples
	case limit < 0:
		limit = 0
	}
	out := make([]ErrorClassInfo, 0, len(s.ErrorsByClass))
	at := map[bencher.ErrorClass]int{}
	for class, n := range s.ErrorsByClass {
		out = append(out, ErrorClassInfo{Class: class, Count: n, Examples: []string{}})
	}
	slices.SortFunc(out, func(a, b ErrorClassInfo) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Class, b.Class))
	})
	for i := range out {
		at[out[i].Class] = i
	}
	for i := range records {
		r := &records[i]
		if r.Warmup || r.OK() {
			continue
		}
		j, ok := at[r.Error]
		if !ok {
			continue
		}
		e := &out[j]
		msg := exampleMessage(r)
		if len(e.Examples) < limit && !slices.Contains(e.Examples, msg) {
			e.Examples = append(e.Examples, msg)
		}
	}
	return out
}

// exampleMessage returns a failed record's message, or its HTTP status or
// class when it has none.
func exampleMessage(r *bencher.Record) string {
	switch {
	case r.ErrorMessage != "":
		return r.ErrorMessage
	case r.HTTPStatus != 0:
		return "HTTP " + strconv.Itoa(r.HTTPStatus)
	}
	return string(r.Error)
}

// CheckGates checks gates against the run's summary and, unless
// allowSaturated, refuses a run whose client was saturated
// (gate.Saturated): gates never pass on latencies that the client's own
// delays inflated, unless the user says they may.
func CheckGates(gates []gate.Gate, h *Header, allowSaturated bool) []gate.Outcome {
	out := gate.Check(gates, h.Summary)
	if h.ClientSaturated() && !allowSaturated {
		out = append(out, gate.Saturated(h.Client.Reasons))
	}
	return out
}
