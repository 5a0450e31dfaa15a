package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/report"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
	"github.com/benchstation/benchstation/bencher/stats"
	"github.com/benchstation/benchstation/bencher/workload"
	"github.com/benchstation/benchstation/internal/secret"
)

// usageError is an error of the command line or of its input files: the
// command exits 2 without running anything.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// plan is everything a benchmark needs that the flags say, checked before
// anything runs.
type plan struct {
	o           *loadOptions
	api         bencher.API
	wl          bencher.Workload
	wlMeta      results.Workload
	wlSize      int // requests of a file workload; 0 for synthetic
	gates       []gate.Gate
	slos        []stats.SLO
	percentiles []float64
	apiKey      string
	headers     http.Header
	labels      map[string]string
	format      report.Format
	promOpts    []serverside.Option // nil without --prometheus-url
	shard       *shardPlan          // nil without --shard
	startAt     time.Time           // --start-at; zero: at once
	// red knows the run's credentials: the API key, the values of
	// credential headers (secret.IsCredentialHeader), the user-info of
	// --target and --prometheus-url. Everything the server says passes
	// through it before it is shown, logged or stored.
	red *secret.Redactor
}

// newPlan checks the flags and reads the input files, and makes red know
// the credentials they give. Every error is a usageError.
func newPlan(o *loadOptions, red *secret.Redactor) (*plan, error) {
	p := &plan{o: o, api: bencher.API(o.api), red: red}
	red.AddURL(o.target)
	red.AddURL(o.prom.url)
	if o.target == "" {
		if err := o.sim.check("sim."); err != nil {
			return nil, err
		}
	}
	var err error
	if strings.TrimSpace(o.slo) != "" {
		if p.gates, err = gate.Parse(o.slo, stats.IsValueName); err != nil {
			return nil, usagef("--slo: %w", err)
		}
	}
	if p.slos, err = stats.ParseSLOs(o.requestSLO); err != nil {
		return nil, usagef("--request-slo: %w", err)
	}
	for _, s := range o.percentiles {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v < 0 || v > 100 {
			return nil, usagef("--percentile %q: want a number from 0 to 100", s)
		}
		p.percentiles = append(p.percentiles, v)
	}
	if p.format, err = report.ParseFormat(o.format); err != nil {
		return nil, usagef("--format: %w", err)
	}
	if p.headers, err = parseHeaders(o.headers); err != nil {
		return nil, err
	}
	red.AddHeaders(p.headers)
	if p.labels, err = parseLabels(o.labels); err != nil {
		return nil, err
	}
	if p.apiKey, err = readAPIKey(o.apiKeyFile); err != nil {
		return nil, err
	}
	red.Add(p.apiKey)
	if err := p.readPrometheus(); err != nil {
		return nil, err
	}
	if err := p.readWorkload(); err != nil {
		return nil, err
	}
	return p, nil
}

// parseHeaders reads 'Name: value' headers. A header whose name looks like
// a credential's is a secret: its value is scrubbed from all the output
// (see newPlan), and a malformed one is not quoted.
func parseHeaders(hs []string) (http.Header, error) {
	h := http.Header{}
	for _, s := range hs {
		name, value, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			if secret.IsCredentialName(s) {
				return nil, usagef("--header %s: want 'Name: value' (not quoted: it may hold a credential)", secret.Redacted)
			}
			return nil, usagef("--header %q: want 'Name: value'", s)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// parseLabels reads k=v labels.
func parseLabels(ls []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range ls {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--label %q: want KEY=VALUE", s)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// readAPIKey reads the key from the key file, or from $OPENAI_API_KEY.
func readAPIKey(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(apiKeyEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("--api-key-file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" || strings.ContainsAny(key, "\r\n") {
		return "", usagef("--api-key-file %s: want one non-empty line", file)
	}
	return key, nil
}

// readWorkload builds the workload: a prompt file, a batch file, or
// synthetic prompts.
func (p *plan) readWorkload() error {
	o := p.o
	p.wlMeta = results.Workload{Source: results.SourceSynthetic, Seed: o.seed, IgnoreEOS: o.ignoreEOS}
	switch {
	case o.dataset != "" && o.batch != "":
		return usagef("--dataset and --batch-file exclude each other")
	case o.dataset != "":
		return p.readDataset()
	case o.batch != "":
		return p.readBatch()
	}
	src, err := workload.NewSynthetic(workload.SyntheticOptions{
		API: p.api, Input: o.input, Output: o.output, IgnoreEOS: o.ignoreEOS,
		PrefixShare: o.prefixShare, PrefixGroups: o.prefixGroups, Seed: o.seed,
	})
	if err != nil {
		return usagef("workload: %w", err)
	}
	p.wl = src
	p.wlMeta.InputTokens, p.wlMeta.OutputTokens = o.input.String(), o.output.String()
	if o.prefixShare > 0 {
		p.wlMeta.PrefixShare, p.wlMeta.PrefixGroups = o.prefixShare, o.prefixGroups
	}
	return nil
}

// readDataset reads --dataset.
func (p *plan) readDataset() error {
	fo := workload.FileOptions{IgnoreEOS: p.o.ignoreEOS, Seed: p.o.seed}
	if p.o.set.output {
		fo.Output = p.o.output
		p.wlMeta.OutputTokens = p.o.output.String()
	}
	reqs, err := workload.ReadJSONL(p.o.dataset, p.api, fo)
	if err != nil {
		return usagef("--dataset: %w", err)
	}
	p.setFile(results.SourceJSONL, p.o.dataset, reqs)
	return nil
}

// readBatch reads --batch-file, whose url gives the API.
func (p *plan) readBatch() error {
	reqs, api, err := workload.ReadBatch(p.o.batch)
	if err != nil {
		return usagef("--batch-file: %w", err)
	}
	if p.o.set.api && api != p.api {
		return usagef("--api %s, but the requests of --batch-file %s are for the %s API", p.api, p.o.batch, api)
	}
	p.api = api
	p.setFile(results.SourceBatch, p.o.batch, reqs)
	return nil
}

// setFile makes a file's requests the workload, cycled when the run is
// longer than the file.
func (p *plan) setFile(source, file string, reqs []bencher.Request) {
	p.wl = workload.Cycle(reqs)
	p.wlSize = len(reqs)
	p.wlMeta.Source, p.wlMeta.File, p.wlMeta.Size = source, file, len(reqs)
}

// spec is the load of one run: a run, a level of a sweep, or a cell of a
// matrix.
type spec struct {
	profile     string
	mode        string // modeOnline or modeBatchAPI
	name        string
	labels      map[string]string
	concurrency int
	rate        float64
	requests    int
	retries     int
	retryBase   time.Duration
	retryMax    time.Duration
	barLabel    string
}

// baseSpec returns the load the flags give (after any profile).
func (p *plan) baseSpec(o *loadOptions) spec {
	s := spec{
		profile: o.profile, mode: o.mode, name: o.name, labels: p.labels, rate: o.rate,
		concurrency: o.concurrency, requests: o.requests, retries: o.retries,
		retryBase: o.retryBase, retryMax: o.retryMax,
	}
	if !o.set.concurrency && o.profile == "" {
		s.concurrency = defaultConcurrency
		if o.rate > 0 {
			s.concurrency = 0 // an open loop without a cap
		}
	}
	if !o.set.requests && o.duration == 0 {
		s.requests = defaultRequests
		if p.wlSize > 0 {
			s.requests = p.wlSize
		}
	}
	return s
}

// profileKey returns the profile a spec's runs are stored under: its named
// profile, or for a custom load a key derived from the load, as the Grafana
// plugin derives it (workload.CustomProfileKey: custom-c300-in512-out128),
// so that trends and the regression alert compare like with like. A load
// from a file is keyed by its source instead of token lengths
// (custom-c8-jsonl, with -outN when --output-tokens overrides the file's).
func (p *plan) profileKey(sp spec) string {
	switch {
	case sp.profile != "":
		return sp.profile
	case sp.mode == modeBatchAPI:
		return p.batchProfileKey(sp)
	case p.wlMeta.Source == results.SourceSynthetic:
		return workload.CustomProfileKey(sp.concurrency, sp.rate, p.o.input, p.o.output)
	}
	key := workload.CustomLoadKey(sp.concurrency, sp.rate) + "-" + p.wlMeta.Source
	if p.wlMeta.OutputTokens != "" {
		key += "-out" + p.wlMeta.OutputTokens
	}
	return key
}

// runnerOptions returns the runner's options for a spec (without the
// target, which is known only once it runs).
func (p *plan) runnerOptions(s spec) []bencher.Option {
	o := p.o
	opts := []bencher.Option{
		bencher.WithAPI(p.api), bencher.WithAPIKey(p.apiKey), bencher.WithHeaders(p.headers), bencher.WithRedactor(p.red),
		bencher.WithStreaming(o.stream), bencher.WithTimeout(o.timeout), bencher.WithRecordOutputs(o.recordOutputs),
		bencher.WithIdleTimeout(o.idleTimeout), bencher.WithPrewarm(!o.noPrewarm),
		bencher.WithConcurrency(s.concurrency), bencher.WithRate(s.rate), bencher.WithBurstiness(o.burstiness),
		bencher.WithRequests(s.requests), bencher.WithDuration(o.duration), bencher.WithWarmup(o.warmup),
		bencher.WithRetries(s.retries), bencher.WithBackoff(s.retryBase, s.retryMax),
		bencher.WithMaxErrorRate(o.maxErrRate, 0), bencher.WithSeed(o.seed),
		bencher.WithStartAt(p.startAt),
	}
	if p.shard != nil {
		opts = append(opts, bencher.WithShard(p.shard.index, p.shard.count))
	}
	return opts
}

// check validates the runner options of every spec before anything runs:
// a plan that cannot measure anything or that the machine cannot hold is a
// usage error.
func (p *plan) check(specs []spec) error {
	if err := p.checkFlags(); err != nil {
		return err
	}
	limit := maxInFlight(p.o.target == "")
	for _, s := range specs {
		if err := p.checkSpec(s, limit); err != nil {
			return err
		}
	}
	for _, s := range specs {
		if s.mode == modeBatchAPI {
			if err := p.checkBatch(s); err != nil {
				return err
			}
			continue
		}
		target := p.o.target
		if target == "" {
			target = bencher.DefaultBaseURL // the simulator's URL is not known yet
		}
		opts := append(p.runnerOptions(s), bencher.WithTarget(target))
		if _, err := bencher.NewRunner(opts...); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// checkFlags refuses flags that no run can satisfy.
func (p *plan) checkFlags() error {
	o := p.o
	if o.set.requests && o.requests <= 0 {
		return usagef("--requests %d: want at least 1 (leave --requests out to send until --duration ends)", o.requests)
	}
	if len(p.slos) == 0 {
		for _, g := range p.gates {
			switch g.Name {
			case "goodput", "good_requests", "slo_attainment":
				return usagef("--slo %s: %s needs --request-slo (the per-request objectives it counts)", g.Text, g.Name)
			}
		}
	}
	return nil
}

// checkSpec refuses a run that would measure nothing, or that asks for
// more requests in flight than the process can open connections for.
func (p *plan) checkSpec(s spec, limit int) error {
	o := p.o
	if s.requests > 0 && o.warmup >= s.requests {
		return usagef("--warmup %d with %d requests leaves no request to measure: want fewer warm-up requests than requests",
			o.warmup, s.requests)
	}
	if s.concurrency > limit {
		where := "--concurrency"
		if o.sweep != "" {
			where = "--sweep"
		}
		return usagef("%s %d: more requests in flight than this process can hold: each needs a connection, and it may "+
			"open %d files (ulimit -n)%s; want at most %d", where, s.concurrency, openFileLimit(), simNote(o.target == ""), limit)
	}
	return nil
}

// simNote says why the limit is halved with the built-in simulator.
func simNote(embedded bool) string {
	if embedded {
		return ", half of them for the built-in simulator's side"
	}
	return ""
}

// reservedFiles are the files kept for everything but the requests' own
// connections (the results, the logs, the metrics endpoint, Prometheus).
const reservedFiles = 256

// maxConcurrencyCap is the most requests in flight whatever the file
// limit: past it, the goroutines and buffers of the requests alone outgrow
// the memory of most machines.
const maxConcurrencyCap = 100_000

// maxInFlight returns the most requests in flight the process can hold:
// one connection each within the open-file limit (two with the embedded
// simulator, which serves them in the same process), at most
// maxConcurrencyCap.
func maxInFlight(embedded bool) int {
	n := openFileLimit() - reservedFiles
	if embedded {
		n /= 2
	}
	return max(min(n, maxConcurrencyCap), 1)
}
