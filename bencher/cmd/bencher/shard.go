package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
)

// Sharding: one run sent by several processes (pods of a Kubernetes
// Indexed Job, or processes on one machine), merged afterwards.
const (
	// jobIndexEnv holds the pod's index in a Kubernetes Indexed Job,
	// which --shard /N takes as the shard's index.
	jobIndexEnv = "JOB_COMPLETION_INDEX"
	// startAtEnv gives --start-at when the flag is not set.
	startAtEnv = "BENCHER_START_AT"
	// defaultStartGrace is how far in the past --start-at may be.
	defaultStartGrace = 2 * time.Second
)

// shardOptions are the flags of a shard's run.
type shardOptions struct {
	spec       string        // --shard I/N or /N
	startAt    string        // --start-at, RFC 3339
	startGrace time.Duration // --start-grace
	runID      string        // --run-id; "" derives it
}

// shardPlan is a checked --shard: the shard, the start and the run id.
type shardPlan struct {
	index, count int
	startAt      time.Time
	runID        string
}

// label is the shard as people write it: "2/4".
func (s *shardPlan) label() string { return fmt.Sprintf("%d/%d", s.index, s.count) }

// docID is the id of the shard's document: shard-2-of-4-RUNID, so that
// DIR/shard-*.json names every shard's document of a run's directory.
func (s *shardPlan) docID() string {
	return fmt.Sprintf("shard-%d-of-%d-%s", s.index, s.count, s.runID)
}

// parseShard reads --shard: "I/N" (0 <= I < N), or "/N" with I from
// $JOB_COMPLETION_INDEX (getenv reads the environment).
func parseShard(spec string, getenv func(string) string) (index, count int, err error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return 0, 0, usagef("--shard %q: want INDEX/COUNT, such as 2/4 (the third of four shards; from 0), "+
			"or /COUNT to take the index from $%s", spec, jobIndexEnv)
	}
	count, err = strconv.Atoi(ns)
	if err != nil || count < 1 {
		return 0, 0, usagef("--shard %q: the shard count %q must be a whole number of at least 1", spec, ns)
	}
	from := ""
	if is == "" {
		is = strings.TrimSpace(getenv(jobIndexEnv))
		if is == "" {
			return 0, 0, usagef("--shard %q gives no index, and $%s (set in the pods of a Kubernetes Indexed Job) "+
				"is not set: give one, such as --shard 0/%d", spec, jobIndexEnv, count)
		}
		from = " ($" + jobIndexEnv + ")"
	}
	index, err = strconv.Atoi(is)
	if err != nil || index < 0 || index >= count {
		return 0, 0, usagef("--shard %q: the index %q%s must be a whole number from 0 to %d", spec, is, from, count-1)
	}
	return index, count, nil
}

// parseStartAt reads --start-at and refuses an instant further in the
// past than grace.
func parseStartAt(s string, grace time.Duration, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, usagef("--start-at %q: want an RFC 3339 instant, such as 2026-12-02T17:00:00Z", s)
	}
	if late := now.Sub(t); late > grace {
		return time.Time{}, usagef("--start-at %s was %s ago, more than --start-grace %s: give an instant ahead, "+
			"such as $(date -u -d '+30 sec' +%%Y-%%m-%%dT%%H:%%M:%%SZ)", s, late.Round(time.Millisecond), grace)
	}
	return t, nil
}

// newShardPlan checks the shard flags; nil without --shard.
func newShardPlan(o *loadOptions, getenv func(string) string, now time.Time) (*shardPlan, error) {
	s := &o.shard
	if s.spec == "" {
		if s.runID != "" {
			return nil, usagef("--run-id names the run of the shards of --shard: give --shard too")
		}
		return nil, nil
	}
	index, count, err := parseShard(s.spec, getenv)
	if err != nil {
		return nil, err
	}
	switch {
	case o.sweep != "":
		return nil, usagef("--shard sends one run: not with --sweep")
	case o.target == "":
		return nil, usagef("--shard needs --target: the shards must load one server (without it, each would start " +
			"a simulator of its own)")
	case s.startAt == "":
		return nil, usagef("--shard needs --start-at (or $%s): the instant every shard starts at", startAtEnv)
	}
	p := &shardPlan{index: index, count: count}
	if p.startAt, err = parseStartAt(s.startAt, s.startGrace, now); err != nil {
		return nil, err
	}
	p.runID = s.runID
	if p.runID == "" {
		p.runID = deriveRunID(o, count, p.startAt)
	} else if !results.ValidID(p.runID) {
		return nil, usagef("--run-id %q: want letters, digits, '.', '_' and '-', not starting with '.'", p.runID)
	}
	return p, nil
}

// deriveRunID returns the run id every shard of a run derives alike from
// the start instant, the shard count and the flags that shape the load:
// START-HASH (20261202T170000Z-1a2b3c), as results.NewID writes ids.
func deriveRunID(o *loadOptions, count int, startAt time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "shards=%d start=%s seed=%d target=%s model=%s api=%s profile=%s name=%s labels=%q\n",
		count, startAt.UTC().Format(time.RFC3339Nano), o.seed, o.target, o.model, o.api, o.profile, o.name, o.labels)
	fmt.Fprintf(h, "requests=%d duration=%s concurrency=%d rate=%g burstiness=%g warmup=%d retries=%d\n",
		o.requests, o.duration, o.concurrency, o.rate, o.burstiness, o.warmup, o.retries)
	fmt.Fprintf(h, "input=%s output=%s prefix=%g/%d dataset=%s batch=%s stream=%t eos=%t\n",
		o.input.String(), o.output.String(), o.prefixShare, o.prefixGroups, o.dataset, o.batch, o.stream, o.ignoreEOS)
	return startAt.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h.Sum(nil)[:3])
}

// addShardFlags adds the flags of a sharded run (bencher run).
func addShardFlags(f flagger, o *shardOptions) {
	f.Flag("shard", "Send shard INDEX/COUNT of a run that COUNT processes send together (INDEX from 0, such as 2/4; "+
		"/COUNT takes INDEX from $"+jobIndexEnv+", as in a Kubernetes Indexed Job). Every shard computes the run's "+
		"whole schedule from --seed and sends request i when i mod COUNT is its INDEX; --requests is the total, "+
		"--concurrency is divided over the shards. Needs --target and --start-at; merge the shards' documents "+
		"with bencher merge.").PlaceHolder("I/N").StringVar(&o.spec)
	f.Flag("start-at", "Start the run at this instant (RFC 3339, such as 2026-12-02T17:00:00Z; default $"+startAtEnv+"), "+
		"after waiting for it: the shards of a run start together. The target's clock is measured meanwhile.").
		Envar(startAtEnv).PlaceHolder("TIME").StringVar(&o.startAt)
	f.Flag("start-grace", "How far in the past --start-at may be (a shard that started late sends its overdue "+
		"requests first); further is refused.").Default(defaultStartGrace.String()).DurationVar(&o.startGrace)
	f.Flag("run-id", "Id of the sharded run, shared by its shards and given to their merged document (default: "+
		"derived from --start-at, the shard count, --seed and the load's flags, alike on every shard).").
		PlaceHolder("ID").StringVar(&o.runID)
}

// readStart checks --shard and --start-at.
func (p *plan) readStart(getenv func(string) string, now time.Time) error {
	var err error
	if p.shard, err = newShardPlan(p.o, getenv, now); err != nil {
		return err
	}
	switch {
	case p.shard != nil:
		p.startAt = p.shard.startAt
	case p.o.shard.startAt != "":
		p.startAt, err = parseStartAt(p.o.shard.startAt, p.o.shard.startGrace, now)
	}
	return err
}

// noteShard says which shard runs, and when it starts.
func (s *session) noteShard() {
	sh := s.p.shard
	wait := ""
	if d := time.Until(sh.startAt); d > 0 {
		wait = fmt.Sprintf(" (in %s; the target's clock is measured meanwhile)", d.Round(100*time.Millisecond))
	}
	fmt.Fprintf(s.stderr, "bencher: shard %s of run %s; starting at %s%s\n",
		sh.label(), sh.runID, sh.startAt.UTC().Format(time.RFC3339Nano), wait)
}
