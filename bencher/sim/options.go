package sim

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Defaults of the options.
const (
	// DefaultModel is the served model name.
	DefaultModel = "benchstation/sim-1b"
	// DefaultMaxModelLen is the context window in tokens (vLLM's --max-model-len).
	DefaultMaxModelLen = 8192
	// DefaultMaxNumSeqs is the most sequences running at once (vLLM's --max-num-seqs).
	DefaultMaxNumSeqs = 256
	// DefaultMaxNumBatchedTokens is the token budget of one engine step
	// (vLLM's --max-num-batched-tokens).
	DefaultMaxNumBatchedTokens = 8192
	// DefaultKVCacheTokens is the KV-cache capacity in tokens.
	DefaultKVCacheTokens = 16384 * DefaultBlockSize
	// DefaultBlockSize is the KV-cache and prefix-cache block size in tokens.
	DefaultBlockSize = 16
	// DefaultPrefillTimePerToken is the step time added per prompt token computed.
	DefaultPrefillTimePerToken = 25 * time.Microsecond
	// DefaultDecodeTime is the fixed time of one engine step.
	DefaultDecodeTime = 8 * time.Millisecond
	// DefaultDecodeTimePerSeq is the step time added per sequence in the step,
	// so that decoding slows as the running batch grows.
	DefaultDecodeTimePerSeq = 50 * time.Microsecond
	// DefaultSeed seeds output text, output lengths and fault injection.
	DefaultSeed = 1
	// DefaultMaxNaturalTokens bounds where the simulated end of sequence falls
	// for requests without ignore_eos.
	DefaultMaxNaturalTokens = 512
	// DefaultRetryAfter is the Retry-After of injected 429 responses.
	DefaultRetryAfter = time.Second
	// DefaultStallDuration is the pause of an injected stall.
	DefaultStallDuration = 500 * time.Millisecond
	// DefaultShutdownGrace is how long Serve waits for in-flight requests
	// after its context is cancelled before closing connections.
	DefaultShutdownGrace = 5 * time.Second
	// DefaultBatchShare is the share of MaxNumSeqs that Batch API requests
	// may hold in the engine at once.
	DefaultBatchShare = 0.5
	// DefaultBatchCompletionWindow is how long after its creation a batch
	// expires (OpenAI's only completion_window, "24h").
	DefaultBatchCompletionWindow = 24 * time.Hour
	// DefaultMaxFiles, DefaultMaxFileBytes, DefaultMaxUploadBytes,
	// DefaultMaxBatches and DefaultMaxBatchRequests are the defaults of
	// BatchLimits. An upload and a batch are bounded as OpenAI bounds them
	// (200 MB, 50,000 requests); all stored files together to 512 MiB.
	DefaultMaxFiles         = 1000
	DefaultMaxFileBytes     = 512 << 20
	DefaultMaxUploadBytes   = 200_000_000
	DefaultMaxBatches       = 1000
	DefaultMaxBatchRequests = 50_000
	// CharsPerToken is the number of prompt bytes counted as one token.
	CharsPerToken = 4
	// VersionSuffix ends the version that the simulator's GET /version
	// reports, so that a simulator in another process (bencher sim) is
	// known as one: see IsVersion.
	VersionSuffix = "+benchstation-sim"
	// Version is what GET /version reports.
	Version = "0.1.0" + VersionSuffix
)

// IsVersion reports whether v, what a server's GET /version reported, is
// the simulator's (it ends with VersionSuffix).
func IsVersion(v string) bool { return strings.HasSuffix(v, VersionSuffix) }

// Option configures a Server.
type Option func(*config)

type config struct {
	model            string
	maxModelLen      int
	maxNumSeqs       int
	maxBatchedTokens int
	kvTokens         int
	blockSize        int
	prefixCaching    bool
	prefillPerToken  time.Duration
	decodeBase       time.Duration
	decodePerSeq     time.Duration
	seed             uint64
	maxNatural       int
	faults           Faults
	observer         Observer
	logger           *slog.Logger
	earlyRole        bool
	shutdownGrace    time.Duration
	batchShare       float64
	batchWindow      time.Duration
	batchLimits      BatchLimits
	// batchHook, set by tests only, is called by a batch's goroutine as
	// the batch reaches each phase, and may block it there until ctx ends.
	batchHook func(ctx context.Context, id string, p batchPhase)
}

func defaultConfig() config {
	return config{
		model:            DefaultModel,
		maxModelLen:      DefaultMaxModelLen,
		maxNumSeqs:       DefaultMaxNumSeqs,
		maxBatchedTokens: DefaultMaxNumBatchedTokens,
		kvTokens:         DefaultKVCacheTokens,
		blockSize:        DefaultBlockSize,
		prefixCaching:    true,
		prefillPerToken:  DefaultPrefillTimePerToken,
		decodeBase:       DefaultDecodeTime,
		decodePerSeq:     DefaultDecodeTimePerSeq,
		seed:             DefaultSeed,
		maxNatural:       DefaultMaxNaturalTokens,
		faults:           Faults{RetryAfter: DefaultRetryAfter, StallDuration: DefaultStallDuration},
		logger:           slog.New(slog.DiscardHandler),
		shutdownGrace:    DefaultShutdownGrace,
		batchShare:       DefaultBatchShare,
		batchWindow:      DefaultBatchCompletionWindow,
		batchLimits: BatchLimits{MaxFiles: DefaultMaxFiles, MaxFileBytes: DefaultMaxFileBytes,
			MaxUploadBytes: DefaultMaxUploadBytes, MaxBatches: DefaultMaxBatches, MaxRequests: DefaultMaxBatchRequests},
	}
}

// WithModel sets the served model name (default DefaultModel).
func WithModel(name string) Option { return func(c *config) { c.model = name } }

// WithMaxModelLen sets the context window in tokens (default DefaultMaxModelLen).
func WithMaxModelLen(n int) Option { return func(c *config) { c.maxModelLen = n } }

// WithMaxNumSeqs sets the most sequences running at once (default DefaultMaxNumSeqs).
func WithMaxNumSeqs(n int) Option { return func(c *config) { c.maxNumSeqs = n } }

// WithMaxNumBatchedTokens sets the token budget of one engine step
// (default DefaultMaxNumBatchedTokens).
func WithMaxNumBatchedTokens(n int) Option { return func(c *config) { c.maxBatchedTokens = n } }

// WithKVCacheTokens sets the KV-cache capacity in tokens (default DefaultKVCacheTokens).
func WithKVCacheTokens(n int) Option { return func(c *config) { c.kvTokens = n } }

// WithBlockSize sets the cache block size in tokens (default DefaultBlockSize).
func WithBlockSize(n int) Option { return func(c *config) { c.blockSize = n } }

// WithPrefixCaching switches prefix caching on or off (default on).
func WithPrefixCaching(on bool) Option { return func(c *config) { c.prefixCaching = on } }

// WithPrefillTimePerToken sets the step time per computed prompt token
// (default DefaultPrefillTimePerToken).
func WithPrefillTimePerToken(d time.Duration) Option {
	return func(c *config) { c.prefillPerToken = d }
}

// WithDecodeTime sets the fixed step time and the step time added per
// sequence in the step (defaults DefaultDecodeTime and DefaultDecodeTimePerSeq).
func WithDecodeTime(base, perSeq time.Duration) Option {
	return func(c *config) { c.decodeBase, c.decodePerSeq = base, perSeq }
}

// WithZeroDelay sets every engine timing to zero: steps run back to back, for
// load-generator tests that need the highest request rate.
func WithZeroDelay() Option {
	return func(c *config) { c.prefillPerToken, c.decodeBase, c.decodePerSeq = 0, 0, 0 }
}

// WithSeed sets the seed of output text, output lengths and faults (default DefaultSeed).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithMaxNaturalTokens bounds the simulated end-of-sequence position of
// requests without ignore_eos (default DefaultMaxNaturalTokens).
func WithMaxNaturalTokens(n int) Option { return func(c *config) { c.maxNatural = n } }

// WithFaults sets fault injection. Zero RetryAfter and StallDuration take
// DefaultRetryAfter and DefaultStallDuration.
func WithFaults(f Faults) Option {
	return func(c *config) {
		if f.RetryAfter <= 0 {
			f.RetryAfter = DefaultRetryAfter
		}
		if f.StallDuration <= 0 {
			f.StallDuration = DefaultStallDuration
		}
		c.faults = f
	}
}

// WithObserver sets an observer that receives a Record per request.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithEarlyRoleChunk makes chat streams send their role-only chunk as soon as
// the request is accepted, before the first token, instead of together with
// the first token as vLLM does. A client that counts the role chunk as the
// first token then shows a wrong TTFT.
func WithEarlyRoleChunk(on bool) Option { return func(c *config) { c.earlyRole = on } }

// WithShutdownGrace sets how long Serve waits for in-flight requests after
// its context is cancelled (default DefaultShutdownGrace).
func WithShutdownGrace(d time.Duration) Option { return func(c *config) { c.shutdownGrace = d } }

// WithBatchShare sets the share, above 0 and at most 1, of MaxNumSeqs that
// Batch API requests may hold in the engine at once (at least one request);
// online requests keep the rest (default DefaultBatchShare).
func WithBatchShare(share float64) Option { return func(c *config) { c.batchShare = share } }

// WithBatchCompletionWindow sets how long after its creation a batch
// expires, whatever its completion_window says ("24h", the only value the
// API accepts), so that tests and demos can see batches expire (default
// DefaultBatchCompletionWindow).
func WithBatchCompletionWindow(d time.Duration) Option { return func(c *config) { c.batchWindow = d } }

// BatchLimits bound the memory the Batch API holds. A zero field takes its
// default (DefaultMaxFiles, …).
type BatchLimits struct {
	// MaxFiles is the most files stored (uploads and batch outputs).
	MaxFiles int
	// MaxFileBytes is the most bytes of all stored files together.
	MaxFileBytes int64
	// MaxUploadBytes is the largest file one upload may hold.
	MaxUploadBytes int64
	// MaxBatches is the most batches kept.
	MaxBatches int
	// MaxRequests is the most requests in one batch.
	MaxRequests int
}

// WithBatchLimits sets the Batch API's limits. When a new file or batch
// would pass a limit, the oldest finished batches, and the oldest files no
// unfinished batch reads, are dropped first; when that is not enough, the
// upload or batch is refused with a 429 that names the limit.
func WithBatchLimits(l BatchLimits) Option { return func(c *config) { c.batchLimits = l } }

// normalize clamps out-of-range values to the nearest valid one and logs what
// it changed.
func (c *config) normalize() {
	clampMin := func(name string, v *int, lo int) {
		if *v < lo {
			c.logger.Warn("sim: option out of range, clamped", "option", name, "value", *v, "now", lo)
			*v = lo
		}
	}
	clampMin("max_num_seqs", &c.maxNumSeqs, 1)
	clampMin("max_num_batched_tokens", &c.maxBatchedTokens, 1)
	clampMin("block_size", &c.blockSize, 1)
	clampMin("max_model_len", &c.maxModelLen, 2)
	clampMin("kv_cache_tokens", &c.kvTokens, 2)
	clampMin("max_natural_tokens", &c.maxNatural, 1)
	if c.kvTokens < c.maxModelLen {
		c.logger.Warn("sim: KV cache smaller than the context window; context window reduced",
			"kv_cache_tokens", c.kvTokens, "max_model_len", c.maxModelLen)
		c.maxModelLen = c.kvTokens
	}
	for _, d := range []*time.Duration{&c.prefillPerToken, &c.decodeBase, &c.decodePerSeq} {
		*d = max(*d, 0)
	}
	if c.model == "" {
		c.model = DefaultModel
	}
	c.faults.normalize(c.logger)
	c.normalizeBatch()
}

func (c *config) normalizeBatch() {
	if !(c.batchShare > 0 && c.batchShare <= 1) {
		c.logger.Warn("sim: batch share out of (0, 1]; default used", "value", c.batchShare, "now", DefaultBatchShare)
		c.batchShare = DefaultBatchShare
	}
	if c.batchWindow <= 0 {
		c.batchWindow = DefaultBatchCompletionWindow
	}
	l := &c.batchLimits
	l.MaxFiles = cmpOr(l.MaxFiles, DefaultMaxFiles)
	l.MaxFileBytes = cmpOr(l.MaxFileBytes, DefaultMaxFileBytes)
	l.MaxUploadBytes = cmpOr(l.MaxUploadBytes, DefaultMaxUploadBytes)
	l.MaxBatches = cmpOr(l.MaxBatches, DefaultMaxBatches)
	l.MaxRequests = cmpOr(l.MaxRequests, DefaultMaxBatchRequests)
}

// cmpOr returns v, or def when v is not positive.
func cmpOr[T int | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// batchSlots is the most Batch API requests held in the engine at once.
func (c *config) batchSlots() int { return max(1, int(c.batchShare*float64(c.maxNumSeqs))) }
