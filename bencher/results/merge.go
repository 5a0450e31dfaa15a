package results

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/stats"
)

// ShardInfo is the shard section of a shard's document: which part of a
// sharded run it holds (see bencher.WithShard).
type ShardInfo struct {
	// Index is the shard's number, from 0, of Count shards.
	Index int `json:"index"`
	Count int `json:"count"`
	// RunID is the id every shard of the run shares, and the id of their
	// merged document.
	RunID string `json:"run_id"`
	// Concurrency and Requests are the shard's part of the run's
	// (config.run holds the whole run's).
	Concurrency int `json:"concurrency"`
	Requests    int `json:"requests"`
	// ClockOffset is the target's clock minus this host's
	// (environment.host), measured from the target's Date headers before
	// the start; null when the target sent no Date.
	ClockOffset *bencher.ClockOffset `json:"clock_offset"`
}

// Merged is the merged section of a document joined from the documents of
// a sharded run's shards (see Merge).
type Merged struct {
	// RunID is the run's id (the document's id); Count its shards.
	RunID string `json:"run_id"`
	Count int    `json:"count"`
	// StartAt is the instant every shard started at (config.run.start_at).
	StartAt time.Time `json:"start_at"`
	// Clock says how the shards' records were put on one clock.
	Clock string `json:"clock"`
	// ClockSpread is the largest difference between two shards' clock
	// offsets, and ClockSpreadUncertainty its bound (the sum of the two
	// offsets' uncertainties); absent unless two offsets were measured.
	ClockSpread            *time.Duration `json:"clock_spread_ns,omitempty"`
	ClockSpreadUncertainty *time.Duration `json:"clock_spread_uncertainty_ns,omitempty"`
	// Shards are the shards' own notes, by index.
	Shards []MergedShard `json:"shards"`
}

// MergedShard is what a merged document keeps of one shard's document.
type MergedShard struct {
	Index int `json:"index"`
	// ID is the shard document's id; File the file it was read from.
	ID   string `json:"id"`
	File string `json:"file,omitempty"`
	// Host ran the shard; ClockOffset is its clock against the target's
	// (null: not measured).
	Host        string               `json:"host"`
	ClockOffset *bencher.ClockOffset `json:"clock_offset"`
	// StartTime and EndTime are the shard's own (its environment's, on its
	// clock); Shift is what was added to its record times to count them
	// from the run's start (its start minus the run's start_at).
	StartTime time.Time     `json:"start_time"`
	EndTime   time.Time     `json:"end_time"`
	Shift     time.Duration `json:"shift_ns"`
	// Status, StopReason and Error are the shard's.
	Status     Status             `json:"status"`
	StopReason bencher.StopReason `json:"stop_reason"`
	Error      string             `json:"error,omitempty"`
	// Concurrency and Requests are the shard's part of the load;
	// RecordCount its records.
	Concurrency int `json:"concurrency"`
	Requests    int `json:"requests"`
	RecordCount int `json:"record_count"`
	// SchedulerLateness and Client are the shard's own figures: they are
	// percentiles of each shard's process, which a merge cannot join.
	SchedulerLateness *bencher.Lateness   `json:"scheduler_lateness,omitempty"`
	Client            *bencher.ClientLoad `json:"client,omitempty"`
}

// ClockNotApplied is Merged.Clock: what Merge does with the clocks.
const ClockNotApplied = "each shard's record times count from its own start, on its own clock, shifted by that " +
	"start's distance from start_at; the clock offsets are recorded, not applied (the shards' clocks are taken " +
	"to agree, as NTP keeps them; clock_spread says how far apart the measured offsets were)"

// ErrMerge is wrapped by the errors of documents that Merge refuses.
var ErrMerge = errors.New("results: merge")

// Merge joins the documents of the shards of one sharded run (see
// bencher.WithShard) into the document of the whole run, as if one
// process had run it: the records of every shard by schedule index, their
// times counted from the run's start (config.run.start_at), and the
// summary, errors and gates computed again from those records by the code
// that builds every document (NewPartial): no percentile is averaged. The
// figures of a shard's own process (the scheduler's lateness, the client's
// load) are kept per shard in the merged section; the merged run is
// client_saturated when any shard was. files name the documents in errors
// (and the merged section), one per document.
//
// It refuses documents that are not shards' (or have no records), of
// different runs (run id, shard count, seed, configuration, workload,
// name, labels or profile), and a shard twice or missing, naming the files
// and the field that differs.
func Merge(docs []*Document, files []string) (*Document, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: no documents", ErrMerge)
	}
	if len(files) != len(docs) {
		files = make([]string, len(docs))
		for i := range docs {
			files[i] = "document " + strconv.Itoa(i+1)
		}
	}
	byIndex, err := checkShards(docs, files)
	if err != nil {
		return nil, err
	}
	first := byIndex[0]
	startAt := first.Config.Run.StartAt
	if startAt.IsZero() {
		startAt = first.Environment.StartTime
	}
	res, notes := joinShards(byIndex, files, docs, startAt)
	m, err := mergedMeta(first, byIndex)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMerge, files[slices.Index(docs, first)], err)
	}
	doc := NewPartial(res, m, shardFailure(byIndex))
	doc.Merged = &Merged{RunID: first.Shard.RunID, Count: first.Shard.Count, StartAt: startAt,
		Clock: ClockNotApplied, Shards: notes}
	doc.Merged.setSpread()
	return doc, nil
}

// checkShards checks that docs are the shards of one run, every shard
// once, and returns them by index.
func checkShards(docs []*Document, files []string) ([]*Document, error) {
	for i, d := range docs {
		switch {
		case d.Shard == nil:
			return nil, fmt.Errorf("%w: %s is not a shard's document (it has no shard section): "+
				"merge joins the documents that bencher run --shard wrote", ErrMerge, files[i])
		case d.RecordsOmitted:
			return nil, fmt.Errorf("%w: %s was written without its records (--omit-records): "+
				"a merge computes the run's summary from every shard's records", ErrMerge, files[i])
		}
	}
	first := docs[0]
	for i, d := range docs[1:] {
		if err := sameRun(first, d); err != nil {
			return nil, fmt.Errorf("%w: %s and %s are not shards of one run: %w", ErrMerge, files[0], files[i+1], err)
		}
	}
	n := first.Shard.Count
	byIndex := make([]*Document, n)
	at := make([]string, n)
	for i, d := range docs {
		k := d.Shard.Index
		if k < 0 || k >= n {
			return nil, fmt.Errorf("%w: %s: shard index %d is not from 0 to %d", ErrMerge, files[i], k, n-1)
		}
		if byIndex[k] != nil {
			return nil, fmt.Errorf("%w: shard %d/%d twice: %s and %s", ErrMerge, k, n, at[k], files[i])
		}
		byIndex[k], at[k] = d, files[i]
	}
	var missing []string
	for k, d := range byIndex {
		if d == nil {
			missing = append(missing, strconv.Itoa(k))
		}
	}
	if len(missing) > 0 {
		what := "shard " + missing[0] + " is"
		if len(missing) > 1 {
			what = "shards " + strings.Join(missing, ", ") + " are"
		}
		return nil, fmt.Errorf("%w: run %s has %d shards, and %s missing (given: %s)",
			ErrMerge, first.Shard.RunID, n, what, strings.Join(files, ", "))
	}
	return byIndex, nil
}

// sameRun says, naming the field, how b is not a shard of a's run.
func sameRun(a, b *Document) error {
	type field struct {
		name string
		a, b any
	}
	for _, f := range []field{
		{"shard.run_id", a.Shard.RunID, b.Shard.RunID},
		{"shard.count", a.Shard.Count, b.Shard.Count},
		{"config.run.seed", a.Config.Run.Seed, b.Config.Run.Seed},
		{"config.workload.seed", a.Config.Workload.Seed, b.Config.Workload.Seed},
		{"config", runConfigKey(a.Config), runConfigKey(b.Config)},
		{"name", a.Name, b.Name},
		{"labels", a.Labels, b.Labels},
		{"profile", a.Profile, b.Profile},
	} {
		if err := sameJSON(f.name, f.a, f.b); err != nil {
			return err
		}
	}
	return nil
}

// runConfigKey is a shard's configuration without what differs from shard
// to shard (the connections it opened).
func runConfigKey(c Config) Config {
	c.Run.PrewarmConnections = 0
	return c
}

// sameJSON compares a and b as JSON and names the first field (a dotted
// path below name) that differs, with both values.
func sameJSON(name string, a, b any) error {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if bytes.Equal(ja, jb) {
		return nil
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	path, x, y := firstDiff(name, va, vb)
	return fmt.Errorf("%s differs: %s against %s", path, show(x), show(y))
}

// firstDiff returns the path of the first difference of two decoded JSON
// values, and the values there.
func firstDiff(path string, a, b any) (string, any, any) {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if !okA || !okB {
		return path, a, b
	}
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		ja, _ := json.Marshal(ma[k])
		jb, _ := json.Marshal(mb[k])
		if !bytes.Equal(ja, jb) {
			return firstDiff(path+"."+k, ma[k], mb[k])
		}
	}
	return path, a, b
}

// show renders a decoded JSON value for an error message.
func show(v any) string {
	if v == nil {
		return "none"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// joinShards returns the run's result joined from the shards' documents
// (by index), and the notes of the merged section.
func joinShards(byIndex []*Document, files []string, docs []*Document, startAt time.Time) (*bencher.Result, []MergedShard) {
	first := byIndex[0]
	res := &bencher.Result{Start: startAt, End: startAt, Config: first.Config.Run}
	res.Config.PrewarmConnections = 0
	notes := make([]MergedShard, len(byIndex))
	var saturated []string
	anySaturated := false
	for k, d := range byIndex {
		shift := d.Environment.StartTime.Sub(startAt)
		notes[k] = MergedShard{Index: k, ID: d.ID, File: files[slices.Index(docs, d)], Host: d.Environment.Host,
			ClockOffset: d.Shard.ClockOffset, StartTime: d.Environment.StartTime, EndTime: d.Environment.EndTime,
			Shift: shift, Status: d.Status, StopReason: d.StopReason, Error: d.Error,
			Concurrency: d.Shard.Concurrency, Requests: d.Shard.Requests, RecordCount: len(d.Records),
			SchedulerLateness: d.SchedulerLateness, Client: d.Client}
		for _, r := range d.Records {
			res.Records = append(res.Records, shifted(r, shift))
		}
		if d.Environment.EndTime.After(res.End) {
			res.End = d.Environment.EndTime
		}
		res.StopReason = worseStop(res.StopReason, d.StopReason)
		switch {
		case d.ClockSource == "" || d.ClockSource == res.ClockSource:
		case res.ClockSource == "":
			res.ClockSource = d.ClockSource
		default:
			res.ClockSource = bencher.ClockMixed
		}
		res.Config.PrewarmConnections += d.Config.Run.PrewarmConnections
		res.Prewarm = addPrewarm(res.Prewarm, d.Prewarm)
		if d.Client != nil && d.Client.Saturated {
			anySaturated = true
			saturated = append(saturated, d.Client.Reasons...)
		}
	}
	slices.SortStableFunc(res.Records, func(a, b bencher.Record) int { return cmp.Compare(a.Index, b.Index) })
	if anySaturated {
		slices.Sort(saturated)
		res.Client = &bencher.ClientLoad{Saturated: true, Reasons: slices.Compact(saturated)}
	}
	return res, notes
}

// shifted returns r with its times moved by d (the times it has: a zero
// send, first-token or chunk time means none, and stays zero).
func shifted(r bencher.Record, d time.Duration) bencher.Record {
	if d == 0 {
		return r
	}
	move := func(t time.Duration) time.Duration {
		if t == 0 {
			return 0
		}
		return t + d
	}
	r.Scheduled, r.End = r.Scheduled+d, r.End+d
	r.Sent, r.FirstToken = move(r.Sent), move(r.FirstToken)
	if len(r.AttemptSent) > 0 {
		r.AttemptSent = slices.Clone(r.AttemptSent)
		for i := range r.AttemptSent {
			r.AttemptSent[i] = move(r.AttemptSent[i])
		}
	}
	if len(r.ChunkTimes) > 0 {
		r.ChunkTimes = slices.Clone(r.ChunkTimes)
		for i := range r.ChunkTimes {
			r.ChunkTimes[i] += d
		}
	}
	return r
}

// worseStop returns the stop reason of a run whose shards stopped for a
// and b: an interruption first, then the error rate, the duration, and
// completion.
func worseStop(a, b bencher.StopReason) bencher.StopReason {
	rank := func(s bencher.StopReason) int {
		return slices.Index([]bencher.StopReason{bencher.StopCompleted, bencher.StopDuration,
			bencher.StopMaxErrorRate, bencher.StopInterrupted}, s)
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// addPrewarm adds a shard's prewarm to the run's.
func addPrewarm(sum, p *bencher.Prewarm) *bencher.Prewarm {
	if p == nil {
		return sum
	}
	if sum == nil {
		c := *p
		return &c
	}
	sum.Connections += p.Connections
	sum.Opened += p.Opened
	sum.Reused += p.Reused
	sum.Duration = max(sum.Duration, p.Duration)
	sum.Error = cmp.Or(sum.Error, p.Error)
	return sum
}

// mergedMeta returns the document meta of the merged run, from its first
// shard's document.
func mergedMeta(first *Document, byIndex []*Document) (Meta, error) {
	slos, err := stats.ParseSLOs(strings.Join(first.Config.SLOs, ","))
	if err != nil {
		return Meta{}, fmt.Errorf("config.slos: %w", err)
	}
	var hosts []string
	var side *ServerSide
	allowSaturated := false
	for _, d := range byIndex {
		if !slices.Contains(hosts, d.Environment.Host) {
			hosts = append(hosts, d.Environment.Host)
		}
		side = cmp.Or(side, d.ServerSide)
		// A saturated shard whose gates did not refuse it was allowed to be.
		allowSaturated = allowSaturated || d.ClientSaturated() && len(d.Gates) > 0 &&
			!slices.ContainsFunc(d.Gates, func(o gate.Outcome) bool { return o.Gate.Name == gate.ClientSaturated })
	}
	return Meta{
		ID: first.Shard.RunID, Name: first.Name, Labels: first.Labels, Profile: first.Profile,
		Workload: first.Config.Workload, SLOs: slos, Gates: first.Config.Gates, AllowSaturated: allowSaturated,
		Percentiles: first.Config.Percentiles, Simulated: first.Environment.Simulated,
		ServerVersion: first.Environment.ServerVersion, BencherVersion: first.Environment.BencherVersion,
		Host: strings.Join(hosts, ","), ServerSide: side,
	}, nil
}

// shardFailure is the cause of a merged run one of whose shards failed
// without a stop reason the records carry (it could not start, or its
// result could not be built); nil otherwise.
func shardFailure(byIndex []*Document) error {
	for k, d := range byIndex {
		if d.Status == StatusFailed && d.StopReason != bencher.StopMaxErrorRate {
			return fmt.Errorf("shard %d/%d failed: %s", k, len(byIndex), d.Error)
		}
	}
	return nil
}

// setSpread fills the spread of the shards' clock offsets.
func (m *Merged) setSpread() {
	var lo, hi *bencher.ClockOffset
	for _, s := range m.Shards {
		o := s.ClockOffset
		if o == nil {
			continue
		}
		if lo == nil || o.Offset < lo.Offset {
			lo = o
		}
		if hi == nil || o.Offset > hi.Offset {
			hi = o
		}
	}
	if lo == nil || lo == hi {
		return
	}
	spread, unc := hi.Offset-lo.Offset, hi.Uncertainty+lo.Uncertainty
	m.ClockSpread, m.ClockSpreadUncertainty = &spread, &unc
}
