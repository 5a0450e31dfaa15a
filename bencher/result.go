package bencher

import (
	"time"
)

// StopReason says why a run stopped.
type StopReason string

// The stop reasons.
const (
	StopCompleted    StopReason = "completed"      // every request of the run was sent and finished
	StopDuration     StopReason = "duration"       // the duration was over (requests already scheduled were finished)
	StopMaxErrorRate StopReason = "max_error_rate" // too many measured requests failed
	StopInterrupted  StopReason = "interrupted"    // the run's context was cancelled
)

// Load modes of a run.
const (
	ModeClosedLoop = "closed_loop" // N workers, each sending its next request when free
	ModeOpenLoop   = "open_loop"   // requests scheduled at a rate, whatever the server's speed
	// ModeBatchAPI: all requests submitted at once as one OpenAI Batch API
	// job (package batchapi), measured from the job's output file.
	ModeBatchAPI = "batch_api"
)

// Result is what a run measured: the records in schedule order and the
// configuration that produced them. It is a plain document; the versioned
// result file is built around it.
type Result struct {
	// Start is when the run started (wall clock; in-process it also holds
	// the monotonic reading that record offsets are relative to). End is
	// Start plus the run's monotonic length.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// StopReason says why the run stopped.
	StopReason StopReason `json:"stop_reason"`
	// Config is the configuration used.
	Config RunConfig `json:"config"`
	// Prewarm says how the connection pool was opened before the start
	// (nil when it was not: WithPrewarm(false), or WithHTTPClient).
	Prewarm *Prewarm `json:"prewarm,omitempty"`
	// Lateness measures how late the open-loop scheduler dispatched
	// requests after their scheduled times (nil for a closed loop).
	Lateness *Lateness `json:"scheduler_lateness,omitempty"`
	// ClockSource says which clock timed the stream events: ClockKernel,
	// ClockUser or ClockMixed ("" without streams).
	ClockSource string `json:"clock_source,omitempty"`
	// Client is how late the client itself was, and whether it was
	// saturated (the bottleneck of its own measurements).
	Client *ClientLoad `json:"client,omitempty"`
	// Shard says which part of a sharded run this result holds (nil: the
	// whole run; see WithShard).
	Shard *Shard `json:"shard,omitempty"`
	// ClockOffset is the target's clock against this host's, measured
	// before a run with a start instant (WithStartAt); nil without one, or
	// when the target sent no Date header.
	ClockOffset *ClockOffset `json:"clock_offset,omitempty"`
	// Records has one record per scheduled request, in schedule order
	// (by Index; a shard's records hold its own indices only).
	Records []Record `json:"records"`
}

// Interrupted reports whether the run was cancelled before its end.
func (r *Result) Interrupted() bool { return r.StopReason == StopInterrupted }

// Duration is the run's length.
func (r *Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// RunConfig is the configuration of a run, as recorded in its result. It
// never holds the API key or header values.
type RunConfig struct {
	// Target is the base URL, without userinfo, query or fragment.
	Target string `json:"target"`
	API    API    `json:"api"`
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
	// Mode is ModeClosedLoop, ModeOpenLoop or ModeBatchAPI.
	Mode string `json:"mode"`
	// Concurrency is the number of workers (closed loop) or the cap on
	// requests in flight (open loop; 0: none).
	Concurrency int `json:"concurrency"`
	// Rate (requests/s) and Burstiness (gamma shape) of an open loop.
	Rate       float64 `json:"rate,omitempty"`
	Burstiness float64 `json:"burstiness,omitempty"`
	// Requests and Duration are the run's limits (0: none).
	Requests int           `json:"requests"`
	Duration time.Duration `json:"duration_ns"`
	Warmup   int           `json:"warmup"`
	Timeout  time.Duration `json:"timeout_ns"`
	// IdleTimeout is the limit on the time without a byte of a stream (0:
	// none, and absent from the document; see WithIdleTimeout).
	IdleTimeout time.Duration `json:"idle_timeout_ns,omitempty"`
	// PrewarmConnections is the number of connections opened before the
	// start (asked for; 0: none, cold connections, and absent from the
	// document, as in documents older than prewarming; see Result.Prewarm).
	PrewarmConnections int           `json:"prewarm_connections,omitempty"`
	Retries            int           `json:"retries"`
	RetryBase          time.Duration `json:"retry_base_ns"`
	RetryMax           time.Duration `json:"retry_max_ns"`
	MaxErrorRate       float64       `json:"max_error_rate,omitempty"`
	MinErrorSample     int           `json:"min_error_sample,omitempty"`
	Seed               uint64        `json:"seed"`
	RecordOutputs      bool          `json:"record_outputs,omitempty"`
	// Shards is the number of runners that sent the run together (see
	// WithShard; 0 and absent: an unsharded run). Concurrency and Requests are then
	// the whole run's, and Result.Shard says which part one runner sent.
	Shards int `json:"shards,omitempty"`
	// StartAt is the wall-clock instant the run was set to start at (see
	// WithStartAt; absent: when it was called).
	StartAt time.Time `json:"start_at,omitzero"`
}

// Lateness summarises how late the open-loop scheduler woke up to dispatch
// requests, compared with their scheduled times. Latencies count from the
// scheduled time, so lateness is part of them, never hidden; this says how
// much of it was the scheduler's (timer wake-up) rather than the server's.
type Lateness struct {
	Samples int           `json:"samples"`
	Mean    time.Duration `json:"mean_ns"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}
