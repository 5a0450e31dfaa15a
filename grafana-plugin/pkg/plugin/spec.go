package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/workload"
)

// Limits of a run spec.
const (
	maxSpecRequests    = 1_000_000
	maxSpecConcurrency = 10_000
	maxSpecDuration    = 24 * time.Hour
	maxSpecNameLength  = 200
	maxSpecLabels      = 32
)

// Profile is a named load shape. The values are those of the bencher CLI's
// profiles (bencher/cmd/bencher/profiles.go), which are unexported there:
// keep the two in step.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Mode is how the runs send their requests: ModeOnline (each on its
	// own, streamed and timed) or ModeBatchAPI (all as one OpenAI Batch
	// API job: no TTFT, ITL or TPOT).
	Mode        string        `json:"mode"`
	Concurrency int           `json:"concurrency"`
	Retries     int           `json:"retries"`
	RetryBase   time.Duration `json:"-"`
	RetryMax    time.Duration `json:"-"`
}

// Profiles returns the known profiles, as the CLI lists them.
func Profiles() []Profile {
	return []Profile{
		{Name: "high-parallelism", Description: "50 concurrent requests, no retries", Mode: ModeOnline, Concurrency: 50},
		{Name: "inngest-style", Description: "a durable job queue: 10 concurrent requests, each retried up to 5 times " +
			"with exponential backoff (1s, doubling, at most 30s; Retry-After honoured)",
			Mode: ModeOnline, Concurrency: 10, Retries: 5, RetryBase: time.Second, RetryMax: 30 * time.Second},
		{Name: ProfileBatchAPI, Description: "all requests as one OpenAI Batch API job (upload, create, poll, download): " +
			"makespan and throughput; no TTFT, ITL or TPOT", Mode: ModeBatchAPI},
	}
}

// The modes of a profile (Profile.Mode), named as the bencher CLI's --mode.
const (
	ModeOnline   = "online"
	ModeBatchAPI = "batch-api"
)

// ProfileBatchAPI is the profile whose runs are one Batch API job.
const ProfileBatchAPI = "batch-api"

// profileNames lists the known profiles' names, for messages.
func profileNames() string {
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// findProfile returns the profile called name.
func findProfile(name string) (Profile, bool) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// RunSpec is the JSON body of POST /runs. Unknown fields are rejected.
//
// A run with a named Profile is stored under that profile. A custom load
// (no Profile) is stored under a profile key derived from its load, so
// that the trend and the alert group runs of the same load together and
// never with another load:
//
//	custom-c<concurrency>-in<input>-out<output>          closed loop
//	custom-r<rate>-in<input>-out<output>                 open loop
//	custom-r<rate>-c<concurrency>-in<input>-out<output>  open loop, capped
//
// <rate> is the rate in requests per second in its shortest decimal form
// ("20", "2.5"); <input> and <output> are InputTokens and OutputTokens as
// length distributions in their canonical form ("512", "256:1024",
// "512~64"), with the synthetic workload's defaults (512 and 128) when they
// are not given. For example {"concurrency": 300, "requests": 1000} is
// custom-c300-in512-out128, and {"rate": 20, "duration": "1m",
// "outputTokens": "64"} is custom-r20-in512-out64. See CustomProfileKey.
type RunSpec struct {
	// Target is the server's OpenAI-compatible base URL; empty means the
	// data source's default target, or the built-in simulator without one.
	Target string `json:"target"`
	Model  string `json:"model"`
	// API is "completions" (default) or "chat".
	API string `json:"api"`
	// Profile names a load shape; Concurrency (closed loop) and Rate
	// (open loop, requests per second) give a custom one instead.
	Profile     string  `json:"profile"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	// Requests or Duration (such as "30s") bound the run: exactly one.
	Requests int    `json:"requests"`
	Duration string `json:"duration"`
	// InputTokens and OutputTokens are length distributions: "512",
	// "256:1024" (uniform) or "512~64" (normal).
	InputTokens  string            `json:"inputTokens"`
	OutputTokens string            `json:"outputTokens"`
	Name         string            `json:"name"`
	Labels       map[string]string `json:"labels"`
	// RecordOutputs keeps prompts and generated texts in the run's
	// document, for the outputs query.
	RecordOutputs bool `json:"recordOutputs"`
}

// specError is a spec problem that names its field; forbidden marks a
// target the settings do not allow (403 rather than 400).
type specError struct {
	msg       string
	forbidden bool
}

func (e *specError) Error() string { return e.msg }

// badSpec returns a specError.
func badSpec(format string, args ...any) error {
	return &specError{msg: fmt.Sprintf(format, args...)}
}

// runPlan is a validated spec, ready to run.
type runPlan struct {
	target, model, profile, name string
	api                          bencher.API
	mode                         string // bencher.ModeClosedLoop or ModeOpenLoop
	labels                       map[string]string
	requests                     int
	options                      []bencher.Option
	source                       bencher.Workload
	wlMeta                       results.Workload
	input, output                workload.Dist // the token lengths, defaults applied
}

// CustomProfilePrefix begins the profile key of every custom load.
const CustomProfilePrefix = workload.CustomProfilePrefix

// CustomProfileKey returns the profile key of a custom load (see RunSpec),
// the one the bencher CLI gives its custom loads too: concurrency 0 means
// none (an open loop without a cap), rate 0 a closed loop; zero Dists
// stand for the synthetic workload's default lengths.
func CustomProfileKey(concurrency int, rate float64, input, output workload.Dist) string {
	return workload.CustomProfileKey(concurrency, rate, input, output)
}

// decodeSpec reads a RunSpec strictly; errors name the field.
func decodeSpec(r io.Reader) (RunSpec, error) {
	var s RunSpec
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	err := dec.Decode(&s)
	if err == nil {
		if _, e := dec.Token(); !errors.Is(e, io.EOF) {
			err = errors.New("unexpected data after the object")
		}
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return s, nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return s, badSpec("%s: must be %s, not a JSON %s", typeErr.Field, describeType(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return s, badSpec("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return s, badSpec("body: not a valid JSON object: %v", err)
}

// plan validates s against the settings and returns its plan.
func (s RunSpec) plan(set Settings) (*runPlan, error) {
	p := &runPlan{model: strings.TrimSpace(s.Model), name: s.Name, labels: s.Labels, profile: s.Profile}
	var err error
	if p.target, err = s.checkTarget(set); err != nil {
		return nil, err
	}
	if err := s.checkNames(); err != nil {
		return nil, err
	}
	load, err := s.loadOptions()
	if err != nil {
		return nil, err
	}
	bound, err := s.boundOptions()
	if err != nil {
		return nil, err
	}
	p.requests = s.Requests
	p.mode = bencher.ModeClosedLoop
	if s.Rate > 0 {
		p.mode = bencher.ModeOpenLoop
	}
	if pr, ok := findProfile(s.Profile); ok && pr.Mode == ModeBatchAPI {
		if s.Requests == 0 {
			return nil, badSpec("duration: the %s profile runs a fixed number of requests as one batch: give requests", s.Profile)
		}
		p.mode = bencher.ModeBatchAPI
	}
	if err := s.workload(p); err != nil {
		return nil, err
	}
	if p.profile == "" {
		p.profile = CustomProfileKey(s.Concurrency, s.Rate, p.input, p.output)
	}
	p.options = append(append(p.options, load...), bound...)
	p.options = append(p.options, bencher.WithRecordOutputs(s.RecordOutputs))
	return p, nil
}

// checkTarget returns the run's target ("" for the simulator).
func (s RunSpec) checkTarget(set Settings) (string, error) {
	raw := strings.TrimSpace(s.Target)
	if raw == "" {
		return set.DefaultTarget, nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", badSpec("target: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", badSpec("target: must start with http:// or https://")
	case u.Host == "":
		return "", badSpec("target: has no host")
	case u.User != nil:
		return "", badSpec("target: must not contain credentials (the API key is in the data source's settings)")
	case u.RawQuery != "" || u.Fragment != "":
		return "", badSpec("target: must not have a query or fragment")
	case !set.AllowsTarget(u):
		return "", &specError{msg: fmt.Sprintf("target: host %q is not an allowed target host (see the data source's allowed hosts)", u.Host), forbidden: true}
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// checkNames checks name, labels and api.
func (s RunSpec) checkNames() error {
	if len(s.Name) > maxSpecNameLength {
		return badSpec("name: longer than %d characters", maxSpecNameLength)
	}
	if len(s.Labels) > maxSpecLabels {
		return badSpec("labels: more than %d labels", maxSpecLabels)
	}
	for k, v := range s.Labels {
		if strings.TrimSpace(k) == "" || len(k) > 100 || len(v) > 200 {
			return badSpec("labels: %q: keys must be 1 to 100 characters and values at most 200", k)
		}
	}
	if s.API != "" && s.API != string(bencher.APICompletions) && s.API != string(bencher.APIChat) {
		return badSpec("api: must be %q or %q, got %q", bencher.APICompletions, bencher.APIChat, s.API)
	}
	return nil
}

// loadOptions returns the load shape's options.
func (s RunSpec) loadOptions() ([]bencher.Option, error) {
	if s.Profile != "" {
		pr, ok := findProfile(s.Profile)
		switch {
		case !ok:
			return nil, badSpec("profile: unknown profile %q (known: %s)", s.Profile, profileNames())
		case s.Concurrency != 0 || s.Rate != 0:
			return nil, badSpec("profile: give a profile or concurrency/rate, not both")
		}
		if pr.Mode == ModeBatchAPI {
			return nil, nil // the server runs the batch as it will
		}
		opts := []bencher.Option{bencher.WithConcurrency(pr.Concurrency), bencher.WithRetries(pr.Retries)}
		if pr.RetryBase > 0 {
			opts = append(opts, bencher.WithBackoff(pr.RetryBase, pr.RetryMax))
		}
		return opts, nil
	}
	switch {
	case s.Concurrency < 0 || s.Concurrency > maxSpecConcurrency:
		return nil, badSpec("concurrency: must be between 1 and %d, got %d", maxSpecConcurrency, s.Concurrency)
	case s.Rate < 0 || s.Rate > 1e6:
		return nil, badSpec("rate: must be a positive number of requests per second, got %g", s.Rate)
	case s.Concurrency == 0 && s.Rate == 0:
		return nil, badSpec("profile: give a profile, a concurrency or a rate")
	}
	var opts []bencher.Option
	if s.Concurrency > 0 {
		opts = append(opts, bencher.WithConcurrency(s.Concurrency))
	}
	if s.Rate > 0 {
		opts = append(opts, bencher.WithRate(s.Rate))
	}
	return opts, nil
}

// boundOptions returns the options of requests or duration.
func (s RunSpec) boundOptions() ([]bencher.Option, error) {
	switch {
	case s.Requests != 0 && s.Duration != "":
		return nil, badSpec("duration: give requests or duration, not both")
	case s.Duration != "":
		d, err := time.ParseDuration(s.Duration)
		if err != nil || d <= 0 || d > maxSpecDuration {
			return nil, badSpec("duration: must be a duration such as \"30s\" or \"5m\", at most %s, got %q", maxSpecDuration, s.Duration)
		}
		return []bencher.Option{bencher.WithDuration(d)}, nil
	case s.Requests < 0 || s.Requests > maxSpecRequests:
		return nil, badSpec("requests: must be between 1 and %d, got %d", maxSpecRequests, s.Requests)
	case s.Requests == 0:
		return nil, badSpec("requests: give requests or duration")
	}
	return []bencher.Option{bencher.WithRequests(s.Requests)}, nil
}

// workload builds the synthetic workload of the spec.
func (s RunSpec) workload(p *runPlan) error {
	o := workload.SyntheticOptions{API: bencher.API(s.API)}
	if o.API == "" {
		o.API = bencher.APICompletions
	}
	p.api = o.API
	p.options = append(p.options, bencher.WithAPI(o.API))
	var err error
	if s.InputTokens != "" {
		if o.Input, err = workload.ParseDist(s.InputTokens); err != nil {
			return badSpec("inputTokens: %v", err)
		}
	}
	if s.OutputTokens != "" {
		if o.Output, err = workload.ParseDist(s.OutputTokens); err != nil {
			return badSpec("outputTokens: %v", err)
		}
	}
	p.input, p.output = o.Input, o.Output
	src, err := workload.NewSynthetic(o)
	if err != nil {
		return badSpec("inputTokens/outputTokens: %v", err)
	}
	p.source = src
	p.wlMeta = results.Workload{Source: results.SourceSynthetic, InputTokens: s.InputTokens, OutputTokens: s.OutputTokens}
	return nil
}
