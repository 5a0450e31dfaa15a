package results

import (
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/stats"
)

// SchemaVersion is the version of the document format this package writes
// and the newest it reads. It changes only when a change would mislead an
// older reader; fields may be added within a version.
const SchemaVersion = 1

// Kind is the value of every run document's "kind" field.
const Kind = "benchstation.run"

// Status says how a run ended.
type Status string

// The statuses of a run. Interrupted and failed documents still hold what
// was measured before the end.
const (
	StatusCompleted   Status = "completed"   // the run ended as configured
	StatusInterrupted Status = "interrupted" // the run was cancelled (Ctrl-C)
	StatusFailed      Status = "failed"      // a fatal error ended (or prevented) the run
)

// Document is one run: its header and its per-request records.
type Document struct {
	Header
	// Records has one record per scheduled request, by index, as the runner
	// measured them; empty when RecordsOmitted.
	Records []bencher.Record `json:"records"`
}

// Header is everything in a document except the records: what a listing
// needs, and what reports and comparisons read.
type Header struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"`
	// ID is unique and sorts by start time: "20261127T101500Z-1a2b3c".
	ID string `json:"id"`
	// Name, Labels and Profile are the user's names for the run.
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Profile string            `json:"profile"`

	Status Status `json:"status"`
	// StopReason is the runner's reason for stopping; empty when the run
	// could not start.
	StopReason bencher.StopReason `json:"stop_reason"`
	// Error says what interrupted or failed the run; empty when completed.
	Error string `json:"error,omitempty"`

	Config      Config        `json:"config"`
	Environment Environment   `json:"environment"`
	Summary     stats.Summary `json:"summary"`
	// Errors lists the error classes of the failed measured requests, most
	// frequent first, with example messages.
	Errors []ErrorClassInfo `json:"errors"`
	// Gates are the outcomes of the gates of Config.Gates; omitted when
	// there were none.
	Gates []gate.Outcome `json:"gates,omitempty"`
	// SchedulerLateness is the open-loop scheduler's lateness (see
	// bencher.Lateness); omitted for a closed loop.
	SchedulerLateness *bencher.Lateness `json:"scheduler_lateness,omitempty"`
	// Prewarm says how many connections were opened before the run's
	// clock started (see bencher.Prewarm); omitted when none were
	// (config.run.prewarm_connections 0).
	Prewarm *bencher.Prewarm `json:"prewarm,omitempty"`
	// ClockSource says which clock timed the stream events
	// (bencher.ClockKernel, ClockUser, ClockMixed); empty without streams.
	ClockSource string `json:"clock_source,omitempty"`
	// Client is how late the client itself was; Client.Saturated marks a
	// run whose latencies include the client's own delays.
	Client *bencher.ClientLoad `json:"client,omitempty"`
	// ServerSide is what the server's metrics showed during the run.
	ServerSide *ServerSide `json:"server_side,omitempty"`
	// Batch is what a batch-api run (Config.Run.Mode bencher.ModeBatchAPI)
	// measured of its batch job; omitted for the online modes.
	Batch *Batch `json:"batch,omitempty"`

	// Shard says which part of a sharded run the document holds (see
	// bencher.WithShard); omitted for a whole run.
	Shard *ShardInfo `json:"shard,omitempty"`
	// Merged says which shards' documents a merged document was joined
	// from (see Merge); omitted otherwise.
	Merged *Merged `json:"merged,omitempty"`

	// RecordCount is the number of records of the run, written or not;
	// RecordsOmitted says that they were left out of the document.
	RecordCount    int  `json:"record_count"`
	RecordsOmitted bool `json:"records_omitted,omitempty"`
}

// Config is the full configuration of a run.
type Config struct {
	// Run is the runner's configuration (never holds the API key).
	Run bencher.RunConfig `json:"run"`
	// Workload describes where the requests came from.
	Workload Workload `json:"workload"`
	// SLOs are the per-request objectives of goodput, as stats.SLO.String
	// writes them ("ttft<=500ms").
	SLOs []string `json:"slos,omitempty"`
	// Gates are the thresholds asked for on the summary (--slo).
	Gates []gate.Gate `json:"gates,omitempty"`
	// Percentiles are the extra percentiles asked for beyond p50, p90,
	// p95 and p99.
	Percentiles []float64 `json:"percentiles,omitempty"`
}

// Workload sources.
const (
	SourceSynthetic = "synthetic" // generated prompts
	SourceJSONL     = "jsonl"     // a prompt file, one JSON object per line
	SourceBatch     = "batch"     // an OpenAI batch input file
)

// Workload describes a run's requests.
type Workload struct {
	// Source is SourceSynthetic, SourceJSONL or SourceBatch.
	Source string `json:"source"`
	// File is the path of the prompt or batch file.
	File string `json:"file,omitempty"`
	// InputTokens and OutputTokens are length distributions in the form
	// workload.ParseDist reads: "512" (fixed), "256:1024" (uniform),
	// "512~64" (normal: mean~std).
	InputTokens  string `json:"input_tokens,omitempty"`
	OutputTokens string `json:"output_tokens,omitempty"`
	// IgnoreEOS asks the server to generate exactly max_tokens.
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
	// PrefixShare (0–1) and PrefixGroups shape shared prompt prefixes.
	PrefixShare  float64 `json:"prefix_share,omitempty"`
	PrefixGroups int     `json:"prefix_groups,omitempty"`
	// Seed makes the workload reproducible.
	Seed uint64 `json:"seed"`
	// Size is the number of distinct requests of the workload (the lines
	// of a file); 0 when unbounded.
	Size int `json:"size,omitempty"`
}

// Environment is where and when a run ran.
type Environment struct {
	// Target is the server's base URL, without credentials, query or fragment.
	Target string `json:"target"`
	// Simulated is true when the target was the built-in simulator.
	Simulated bool `json:"simulated"`
	// Model is the model the requests named.
	Model string `json:"model"`
	// ServerVersion is what the server's /version answered, when it did.
	ServerVersion string `json:"server_version,omitempty"`
	// BencherVersion and GoVersion identify the client.
	BencherVersion string `json:"bencher_version"`
	GoVersion      string `json:"go_version"`
	Host           string `json:"host"`
	OS             string `json:"os"`
	Arch           string `json:"arch"`
	// StartTime and EndTime bound the run (UTC, RFC 3339 with nanoseconds).
	// Record times are offsets from StartTime.
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
}

// Duration is the run's wall-clock length.
func (e Environment) Duration() time.Duration { return e.EndTime.Sub(e.StartTime) }

// ErrorClassInfo counts the failed measured requests of one error class.
type ErrorClassInfo struct {
	Class bencher.ErrorClass `json:"class"`
	Count int                `json:"count"`
	// Examples are distinct error messages of the class, in the order they
	// first occurred, at most the document's example limit.
	Examples []string `json:"examples"`
}

// ServerSide is what the server side saw during the run window, read from
// Prometheus after the run. Every field is optional: nil means unknown.
type ServerSide struct {
	// Source says where the numbers came from (a Prometheus URL).
	Source string `json:"source,omitempty"`
	// GPUMemoryPeakBytes is the peak GPU memory used, summed over GPUs.
	GPUMemoryPeakBytes *float64 `json:"gpu_memory_peak_bytes,omitempty"`
	// EnergyJoules is the GPUs' energy use over the run.
	EnergyJoules *float64 `json:"energy_joules,omitempty"`
	// PowerWattsMean is the GPUs' mean power draw, summed over GPUs.
	PowerWattsMean *float64 `json:"power_watts_mean,omitempty"`
	// GPUUtilizationMean is the mean GPU utilisation (0–1).
	GPUUtilizationMean *float64 `json:"gpu_utilization_mean,omitempty"`
	// KVCacheUsagePeak is the peak of vllm:kv_cache_usage_perc (0–1).
	KVCacheUsagePeak *float64 `json:"kv_cache_usage_peak,omitempty"`
	// PrefixCacheHitRatio is prefix-cache hits over queries (0–1), in tokens.
	PrefixCacheHitRatio *float64 `json:"prefix_cache_hit_ratio,omitempty"`
	// Preemptions is the number of preemptions during the run.
	Preemptions *float64 `json:"preemptions,omitempty"`
	// Extra holds further named numbers.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Completed reports whether the run ended as configured.
func (h *Header) Completed() bool { return h.Status == StatusCompleted }

// Title returns the run's name, or its profile, or its ID.
func (h *Header) Title() string {
	switch {
	case h.Name != "":
		return h.Name
	case h.Profile != "":
		return h.Profile
	}
	return h.ID
}

// BatchMode reports whether the run sent its requests as one Batch API
// job (its summary has no TTFT, ITL or TPOT).
func (h *Header) BatchMode() bool { return h.Batch != nil }

// ClientSaturated reports whether the client was the bottleneck of its
// own measurements (Client.Saturated).
func (h *Header) ClientSaturated() bool { return h.Client != nil && h.Client.Saturated }
