package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/batchapi"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/workload"
)

// Defaults of the run flags that the library leaves open.
const (
	// defaultRequests is the run length when neither --requests nor
	// --duration (nor a data set) gives one.
	defaultRequests = 100
	// defaultConcurrency is the closed loop's workers without a profile.
	defaultConcurrency = 10
	// apiKeyEnv is the variable the API key is read from without a key file.
	apiKeyEnv = "OPENAI_API_KEY"
)

// flagger is what flags are added to: the application or a command.
type flagger interface {
	Flag(name, help string) *kingpin.FlagClause
}

// loadOptions are the flags of a benchmark (run and matrix).
type loadOptions struct {
	target, model, api, apiKeyFile string
	headers, labels                []string
	name                           string

	requests    int
	duration    time.Duration
	concurrency int
	rate        float64
	burstiness  float64
	warmup      int
	timeout     time.Duration
	idleTimeout time.Duration
	noPrewarm   bool
	retries     int
	retryBase   time.Duration
	retryMax    time.Duration
	maxErrRate  float64
	seed        uint64

	input, output   workload.Dist
	ignoreEOS       bool
	prefixShare     float64
	prefixGroups    int
	dataset, batch  string
	recordOutputs   bool
	stream          bool
	omitRecords     bool
	checkTarget     bool
	percentiles     []string
	requestSLO, slo string
	allowSaturated  bool

	resultsDir, format, junit string
	metricsListen             string
	metricsLinger             time.Duration
	progress                  string

	mode      string        // online or batch-api
	batchPoll time.Duration // batch-api: the interval between polls

	profile, sweep  string // run only
	profiles, sizes string // matrix only
	faults          string // matrix only

	prom  promOptions
	sim   simOptions
	shard shardOptions // run only
	set   setByUser
}

// setByUser says which flags were given, so that a profile only changes
// the others.
type setByUser struct {
	requests, concurrency, retries, retryBase, retryMax, api, output, mode, profiles bool
}

// addLoadFlags adds the flags shared by run and matrix.
func addLoadFlags(f flagger, o *loadOptions) {
	f.Flag("target", "OpenAI base URL of the server, such as http://host:8000/v1. Without it the built-in vLLM SIMULATOR is started "+
		"on a loopback port and benchmarked, and the results say SIMULATED.").PlaceHolder("URL").StringVar(&o.target)
	f.Flag("model", "Model name sent in requests (default: the first model that GET /v1/models lists).").StringVar(&o.model)
	f.Flag("api", "OpenAI endpoint: completions or chat.").Default(string(bencher.DefaultAPI)).
		IsSetByUser(&o.set.api).EnumVar(&o.api, string(bencher.APICompletions), string(bencher.APIChat))
	f.Flag("api-key-file", "File holding the API key (default: $"+apiKeyEnv+"). A key is never taken on the command line.").
		PlaceHolder("FILE").StringVar(&o.apiKeyFile)
	f.Flag("header", "Extra HTTP header of every request, 'Name: value' (repeatable).").PlaceHolder("'K: V'").StringsVar(&o.headers)
	f.Flag("name", "Name of the run, kept in its result document.").StringVar(&o.name)
	f.Flag("label", "Label of the run, k=v, kept in its result document (repeatable).").PlaceHolder("K=V").StringsVar(&o.labels)
	f.Flag("concurrency", "Closed loop: the number of concurrent workers; with --rate: the most requests in flight (0: no cap). "+
		"Default "+strconv.Itoa(defaultConcurrency)+" (closed loop), or the profile's.").IsSetByUser(&o.set.concurrency).IntVar(&o.concurrency)
	f.Flag("rate", "Open loop: requests per second, sent whatever the server's speed (default: closed loop).").FloatVar(&o.rate)
	f.Flag("burstiness", "Open loop: gamma shape of the gaps between requests; 1 is Poisson, below 1 burstier.").
		Default("1").FloatVar(&o.burstiness)
	f.Flag("warmup", "Requests sent first and left out of every result.").Default("0").IntVar(&o.warmup)
	f.Flag("timeout", "Time limit of one attempt of a request (0: none).").Default(bencher.DefaultTimeout.String()).DurationVar(&o.timeout)
	f.Flag("idle-timeout", "Time limit without a byte of a streamed answer (before its first token or between tokens; 0: none); "+
		"a stalled stream fails as timeout with its stage.").Default(bencher.DefaultIdleTimeout.String()).DurationVar(&o.idleTimeout)
	f.Flag("no-prewarm", "Do not open the connections before the first request (by default as many as may be in flight, "+
		"so that connecting is not measured): the first requests measure cold connections.").BoolVar(&o.noPrewarm)
	f.Flag("retries", "Retries of a request after a connection error, HTTP 429 or 5xx, with exponential backoff "+
		"honouring Retry-After (default 0, or the profile's).").IsSetByUser(&o.set.retries).IntVar(&o.retries)
	f.Flag("retry-backoff", "Backoff of the first retry; it doubles at each retry up to --retry-backoff-max, and each wait is "+
		"stretched by a random 0-15% (Inngest's exponential backoff with jitter): min(max, base*2^(k-1))*(1+0.15u).").
		Default(bencher.DefaultRetryBase.String()).IsSetByUser(&o.set.retryBase).DurationVar(&o.retryBase)
	f.Flag("retry-backoff-max", "Largest backoff of a retry, before its jitter (of up to 15%).").
		Default(bencher.DefaultRetryMax.String()).IsSetByUser(&o.set.retryMax).DurationVar(&o.retryMax)
	f.Flag("max-error-rate", "Stop the run, marked failed, when more than this share (0-1) of requests failed (0: never).").
		Default("0").FloatVar(&o.maxErrRate)
	f.Flag("seed", "Seed of the workload, the open-loop schedule and the retry jitter.").Default("1").Uint64Var(&o.seed)
	f.Flag("mode", "How the requests are sent: online (each on its own, its stream timed: TTFT, ITL, TPOT) or batch-api "+
		"(all as one OpenAI Batch API job: upload, create, poll, download; measures the job's makespan, time to "+
		"in_progress and throughput; TTFT, ITL and TPOT do not exist, n/a). Default online, or the profile's.").
		Default(modeOnline).IsSetByUser(&o.set.mode).EnumVar(&o.mode, modeOnline, modeBatchAPI)
	f.Flag("batch-poll", "batch-api: the longest interval between reads of the batch's status: they come every "+
		"twentieth of the time waited so far, from 50ms up to this, so the makespan is timed to about 5% or this "+
		"(a 429 or 503 is waited out for its Retry-After). --duration bounds the whole job: a batch not ended "+
		"by then is cancelled.").Default(batchapi.DefaultPoll.String()).DurationVar(&o.batchPoll)
	addWorkloadFlags(f, o)
	addOutputFlags(f, o)
	addPrometheusFlags(f, &o.prom)
}

// addWorkloadFlags adds the flags of the requests' contents.
func addWorkloadFlags(f flagger, o *loadOptions) {
	f.Flag("input-tokens", "Prompt length of synthetic requests, in tokens: N, LO:HI (uniform) or MEAN~STD (normal).").
		Default(strconv.Itoa(workload.DefaultInputTokens)).SetValue(&o.input)
	f.Flag("output-tokens", "Output length (max_tokens): N, LO:HI or MEAN~STD; for --dataset, of lines that give none.").
		Default(strconv.Itoa(workload.DefaultOutputTokens)).IsSetByUser(&o.set.output).SetValue(&o.output)
	f.Flag("ignore-eos", "Ask the server (vLLM) to generate exactly max_tokens tokens.").BoolVar(&o.ignoreEOS)
	f.Flag("prefix-share", "Share (0-1) of each synthetic prompt that is a prefix shared with other requests, for prefix caching.").
		Default("0").FloatVar(&o.prefixShare)
	f.Flag("prefix-groups", "Number of distinct shared prefixes.").Default(strconv.Itoa(workload.DefaultPrefixGroups)).IntVar(&o.prefixGroups)
	f.Flag("dataset", "Prompt file (JSONL: {\"prompt\": ...} or {\"messages\": [...]} per line) instead of synthetic prompts.").
		PlaceHolder("FILE").StringVar(&o.dataset)
	f.Flag("batch-file", "OpenAI batch input file ({custom_id, method, url, body} per line); its url sets the API.").
		PlaceHolder("FILE").StringVar(&o.batch)
	f.Flag("record-outputs", "Keep the generated text of every request in the result document.").BoolVar(&o.recordOutputs)
	f.Flag("stream", "Stream responses (--no-stream: no TTFT or ITL can be measured).").Default("true").BoolVar(&o.stream)
}

// allowSaturatedHelp is the help of --allow-saturated (run, matrix, report).
const allowSaturatedHelp = "Let --slo gates pass on a run whose client was saturated (client_saturated: the bencher " +
	"itself was late, so its latencies read high); the run is still marked and warned about."

// addOutputFlags adds the flags of results, reports and live views.
func addOutputFlags(f flagger, o *loadOptions) {
	f.Flag("results-dir", "Directory the result documents are written to.").Default("./" + results.DefaultDir).StringVar(&o.resultsDir)
	f.Flag("omit-records", "Leave the per-request records out of the result documents.").BoolVar(&o.omitRecords)
	f.Flag("request-slo", "Per-request SLOs for goodput, e.g. 'ttft<=500ms,tpot<=50ms' (metrics: ttft, server_ttft, "+
		"queue_delay, itl, tpot, e2el).").PlaceHolder("EXPR").StringVar(&o.requestSLO)
	f.Flag("slo", "Gates on the summary, checked after the run, e.g. 'ttft_p95<=500ms,success_rate>=0.99'; "+
		"a breach exits 3.").PlaceHolder("EXPR").StringVar(&o.slo)
	f.Flag("allow-saturated", allowSaturatedHelp).BoolVar(&o.allowSaturated)
	f.Flag("percentile", "Extra percentile of every latency, such as 99.9 (repeatable).").StringsVar(&o.percentiles)
	f.Flag("format", "Report format: table, json or markdown.").Default("table").EnumVar(&o.format, "table", "json", "markdown", "md")
	f.Flag("junit", "Also write a JUnit XML report (a test case per gate and per run) to FILE.").PlaceHolder("FILE").StringVar(&o.junit)
	f.Flag("metrics-listen", "Serve live Prometheus metrics (bencher_*) at http://ADDR/metrics during the run.").
		PlaceHolder("ADDR").StringVar(&o.metricsListen)
	f.Flag("metrics-linger", "Keep serving the live metrics this long after the last run, for a last scrape.").
		Default("0s").DurationVar(&o.metricsLinger)
	f.Flag("progress", "Progress line on stderr: auto (only when stderr is a terminal), always or never.").
		Default("auto").EnumVar(&o.progress, "auto", "always", "never")
	f.Flag("check-target", "Check before the run that --target answers GET /v1/models as an OpenAI server does.").
		Default("true").BoolVar(&o.checkTarget)
}

// promOptions are the flags of the server side read from Prometheus
// after each run.
type promOptions struct {
	url                                 string
	selector, gpuSelector, vllmSelector string
	wait, timeout                       time.Duration
}

// addPrometheusFlags adds the flags of the server side read from Prometheus.
func addPrometheusFlags(f flagger, o *promOptions) {
	f.Flag("prometheus-url", "Prometheus base URL, such as http://host:9090 (user:password@ for basic auth). After each run, "+
		"ask it what the server side saw during the run (GPU memory peak, energy, power, utilisation from the exporter; "+
		"KV-cache peak, prefix-cache hit ratio, preemptions, mean TTFT from vLLM) and keep it in the result document. "+
		"Runs shorter than about two scrape intervals get partial data.").PlaceHolder("URL").StringVar(&o.url)
	f.Flag("prometheus-selector", "Label matchers added to every Prometheus query, such as 'cluster=\"lab\"'.").
		PlaceHolder("MATCHERS").StringVar(&o.selector)
	f.Flag("prometheus-gpu-selector", "Label matchers added to the queries of GPU metrics (nvidia_gpu_*), "+
		"such as 'instance=\"gpu-box:9849\"'.").PlaceHolder("MATCHERS").StringVar(&o.gpuSelector)
	f.Flag("prometheus-vllm-selector", "Label matchers added to the queries of vLLM metrics (vllm:*), "+
		"such as 'model_name=\"meta-llama/Llama-3.1-8B-Instruct\"'.").PlaceHolder("MATCHERS").StringVar(&o.vllmSelector)
	f.Flag("prometheus-wait", "Longest wait after a run for Prometheus to scrape past its end before querying "+
		"(it goes on as soon as it has; 0: query at once).").Default(serverside.DefaultWait.String()).DurationVar(&o.wait)
	f.Flag("prometheus-timeout", "Time limit of each Prometheus query.").
		Default(serverside.DefaultTimeout.String()).DurationVar(&o.timeout)
}

// simOptions are the settings of the simulator (bencher sim, and the
// embedded simulator of a run without --target).
type simOptions struct {
	model                                     string
	maxNumSeqs, maxModelLen, kvCache, batched int
	decodeTime, decodePerSeq, prefillPerToken time.Duration
	zeroDelay, prefixCaching                  bool
	seed                                      uint64
	faults                                    sim.Faults
	batchShare                                float64
	batchWindow                               time.Duration
	batchLimits                               sim.BatchLimits
}

// addSimFlags adds the simulator's flags, each name preceded by prefix
// ("" for bencher sim, "sim." for run and matrix).
func addSimFlags(f flagger, prefix string, o *simOptions) {
	d := func(v time.Duration) string { return v.String() }
	n := strconv.Itoa
	f.Flag(prefix+"max-num-seqs", "Simulator: most sequences running at once.").Default(n(sim.DefaultMaxNumSeqs)).IntVar(&o.maxNumSeqs)
	f.Flag(prefix+"max-model-len", "Simulator: context window in tokens.").Default(n(sim.DefaultMaxModelLen)).IntVar(&o.maxModelLen)
	f.Flag(prefix+"kv-cache-tokens", "Simulator: KV-cache capacity in tokens.").Default(n(sim.DefaultKVCacheTokens)).IntVar(&o.kvCache)
	f.Flag(prefix+"max-num-batched-tokens", "Simulator: token budget of one engine step.").
		Default(n(sim.DefaultMaxNumBatchedTokens)).IntVar(&o.batched)
	f.Flag(prefix+"decode-time", "Simulator: fixed time of one engine step.").Default(d(sim.DefaultDecodeTime)).DurationVar(&o.decodeTime)
	f.Flag(prefix+"decode-time-per-seq", "Simulator: step time added per sequence in the step.").
		Default(d(sim.DefaultDecodeTimePerSeq)).DurationVar(&o.decodePerSeq)
	f.Flag(prefix+"prefill-time-per-token", "Simulator: step time added per prompt token computed.").
		Default(d(sim.DefaultPrefillTimePerToken)).DurationVar(&o.prefillPerToken)
	f.Flag(prefix+"zero-delay", "Simulator: no engine timing at all (steps back to back), for the highest request rate.").
		BoolVar(&o.zeroDelay)
	f.Flag(prefix+"prefix-caching", "Simulator: prefix caching (--no-"+prefix+"prefix-caching switches it off).").
		Default("true").BoolVar(&o.prefixCaching)
	f.Flag(prefix+"seed", "Simulator: seed of output text, lengths and faults.").Default(strconv.FormatUint(sim.DefaultSeed, 10)).
		Uint64Var(&o.seed)
	share := func(name, what string, v *float64) {
		f.Flag(prefix+"fault."+name, fmt.Sprintf("Simulator: share (0-1) of requests %s.", what)).Default("0").FloatVar(v)
	}
	share("rate-limit", "answered 429 with Retry-After", &o.faults.RateLimit)
	share("server-error", "answered 500", &o.faults.ServerError)
	share("context-too-long", "answered 400 (context length)", &o.faults.ContextTooLong)
	share("abort", "whose connection is closed mid-stream", &o.faults.Abort)
	share("error-event", "given an error event mid-stream", &o.faults.ErrorEvent)
	share("stall", "that stall mid-stream", &o.faults.Stall)
	f.Flag(prefix+"fault.retry-after", "Simulator: Retry-After of injected 429s.").Default(d(sim.DefaultRetryAfter)).
		DurationVar(&o.faults.RetryAfter)
	f.Flag(prefix+"fault.stall-duration", "Simulator: pause of an injected stall.").Default(d(sim.DefaultStallDuration)).
		DurationVar(&o.faults.StallDuration)
	addSimBatchFlags(f, prefix, o)
}

// addSimBatchFlags adds the flags of the simulator's Batch API.
func addSimBatchFlags(f flagger, prefix string, o *simOptions) {
	n := strconv.Itoa
	f.Flag(prefix+"batch-share", "Simulator Batch API: share (above 0, at most 1) of --"+prefix+
		"max-num-seqs that batch requests may hold in the engine at once; online requests keep the rest.").
		Default(strconv.FormatFloat(sim.DefaultBatchShare, 'g', -1, 64)).FloatVar(&o.batchShare)
	f.Flag(prefix+"batch-completion-window", "Simulator Batch API: how long after its creation a batch expires "+
		"(its completion_window must say \"24h\"; a shorter window shows expiry).").
		Default(sim.DefaultBatchCompletionWindow.String()).DurationVar(&o.batchWindow)
	f.Flag(prefix+"batch-max-files", "Simulator Batch API: most files stored (uploads and batch outputs); "+
		"the oldest not read by an unfinished batch are dropped first.").Default(n(sim.DefaultMaxFiles)).IntVar(&o.batchLimits.MaxFiles)
	f.Flag(prefix+"batch-max-file-bytes", "Simulator Batch API: most bytes of all stored files together.").
		Default(strconv.FormatInt(sim.DefaultMaxFileBytes, 10)).Int64Var(&o.batchLimits.MaxFileBytes)
	f.Flag(prefix+"batch-max-upload-bytes", "Simulator Batch API: largest file one upload may hold.").
		Default(strconv.FormatInt(sim.DefaultMaxUploadBytes, 10)).Int64Var(&o.batchLimits.MaxUploadBytes)
	f.Flag(prefix+"batch-max-batches", "Simulator Batch API: most batches kept; the oldest finished are dropped first.").
		Default(n(sim.DefaultMaxBatches)).IntVar(&o.batchLimits.MaxBatches)
	f.Flag(prefix+"batch-max-requests", "Simulator Batch API: most requests in one batch.").
		Default(n(sim.DefaultMaxBatchRequests)).IntVar(&o.batchLimits.MaxRequests)
}

// check refuses simulator settings that the simulator would otherwise
// clamp; prefix is that of the flags' names.
func (o *simOptions) check(prefix string) error {
	if !(o.batchShare > 0 && o.batchShare <= 1) {
		return usagef("--%sbatch-share %g: the share must be above 0 and at most 1", prefix, o.batchShare)
	}
	if o.batchWindow <= 0 {
		return usagef("--%sbatch-completion-window %s: the window must be positive", prefix, o.batchWindow)
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"batch-max-files", int64(o.batchLimits.MaxFiles)}, {"batch-max-file-bytes", o.batchLimits.MaxFileBytes},
		{"batch-max-upload-bytes", o.batchLimits.MaxUploadBytes}, {"batch-max-batches", int64(o.batchLimits.MaxBatches)},
		{"batch-max-requests", int64(o.batchLimits.MaxRequests)}} {
		if l.v < 1 {
			return usagef("--%s%s %d: the limit must be at least 1", prefix, l.name, l.v)
		}
	}
	return nil
}

// options returns the simulator's options.
func (o *simOptions) options() []sim.Option {
	opts := []sim.Option{
		sim.WithMaxNumSeqs(o.maxNumSeqs), sim.WithMaxModelLen(o.maxModelLen), sim.WithKVCacheTokens(o.kvCache),
		sim.WithMaxNumBatchedTokens(o.batched), sim.WithDecodeTime(o.decodeTime, o.decodePerSeq),
		sim.WithPrefillTimePerToken(o.prefillPerToken), sim.WithPrefixCaching(o.prefixCaching),
		sim.WithSeed(o.seed), sim.WithFaults(o.faults),
		sim.WithBatchShare(o.batchShare), sim.WithBatchCompletionWindow(o.batchWindow), sim.WithBatchLimits(o.batchLimits),
	}
	if o.model != "" {
		opts = append(opts, sim.WithModel(o.model))
	}
	if o.zeroDelay {
		opts = append(opts, sim.WithZeroDelay())
	}
	return opts
}
