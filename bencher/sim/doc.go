// Package sim is an in-process OpenAI-compatible server that behaves like a
// vLLM (V1 engine) server under load. It is the default target of the bencher
// load generator and the stand-in for vLLM in tests and demos where no GPU
// exists.
//
// # API
//
// [New] builds a [Server], which is an [http.Handler] serving
//
//	POST /v1/completions, POST /v1/chat/completions  (SSE when "stream": true)
//	GET  /v1/models, /health, /version, /metrics
//	POST /v1/files, GET /v1/files, GET|DELETE /v1/files/{id}, GET /v1/files/{id}/content
//	POST /v1/batches, GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel
//
// [Server.Serve] and [Server.Start] run it on a listener until a context is
// cancelled. Everything is configured with functional [Option]s whose defaults
// are the exported Default* constants.
//
// # Wire format
//
// Streams are vLLM's: "data: {json}\n\n" events ending with "data: [DONE]\n\n";
// one event per generated token; the last token's event carries
// finish_reason ("length" or "stop"); chat streams open with a role-only
// chunk (delta {"role":"assistant","content":""}) sent together with the first
// token, as vLLM does (or at once with [WithEarlyRoleChunk]);
// stream_options.include_usage adds a final chunk with "choices": [] and
// "usage"; stream_options.continuous_usage_stats adds usage to every chunk.
// Errors before streaming are {"error":{"message","type","param","code"}}
// bodies with the HTTP status; an error after streaming began is a
// data: {"error": {...}} event after HTTP 200.
//
// # The Batch API
//
// The files and batches endpoints are OpenAI's Batch API, with its objects,
// statuses, timestamps (Unix seconds, null until reached), error objects
// ({"error":{"message","type","param","code"}} with a string or null code)
// and list pages ({"object":"list","data","first_id","last_id","has_more"},
// newest first; GET /v1/batches takes limit, 1 to 100, default 20, and
// after). Uploads are multipart/form-data with the fields file and
// purpose, which must be "batch".
//
// A batch is created "validating": its input file is checked line by line
// as OpenAI checks it (invalid_json_line, missing_required_parameter,
// duplicate_custom_id, invalid_value for the method, invalid_url for a url
// other than the batch's endpoint, model_not_found, streaming_unsupported,
// invalid_request for a body that is not a request, empty_file), and any
// error makes it "failed" with errors.data naming each line (1-based, at
// most 100 errors). A valid batch goes "in_progress": its requests go
// through the same engine as online requests, fed in file order as batch
// slots free up; at most max(1, BatchShare × MaxNumSeqs) batch requests,
// of all batches together, are in the engine at once (WithBatchShare), so
// online requests keep the rest and the vllm:* metrics count both. When
// all have run the batch is "finalizing" while its files are written, then
// "completed". request_counts.completed counts the requests answered 200,
// failed those answered otherwise. model is the served model from
// in_progress on. usage ({input_tokens, input_tokens_details:
// {cached_tokens}, output_tokens, output_tokens_details: {reasoning_tokens},
// total_tokens}) sums the usage of the completed requests' output lines;
// cached_tokens is their prefix-cache hits (which the lines, as vLLM's
// responses by default, do not carry) and reasoning_tokens is 0. It is
// null until the batch goes in_progress (and for a batch that never
// does), then zeros that grow as requests complete.
//
// Output lines are OpenAI's, in the order the requests finished:
// {"id":"batch_req_…","custom_id","response":{"status_code":200,
// "request_id":"req_…","body":{…the non-streamed completion…}},
// "error":null} in the output file; a request the online endpoint would
// answer with an error (the context-length check, an injected fault: see
// Faults) is written with that status and error body to the error file. A
// request cut by a cancel or by the end of the completion window has
// "response": null and "error": {"code": "batch_cancelled" or
// "batch_expired", "message"} in the error file. An output or error file
// with no line is not written (its id is null).
//
// Cancelling (POST …/cancel) takes a validating, in-progress or finalizing
// batch to "cancelling": no more requests are fed, the ones in the engine
// finish, then it is "cancelled" with the results it has. Cancelling a
// cancelling or cancelled batch again changes nothing; a completed, failed
// or expired batch answers 409. A batch still running when its completion
// window ends (24 hours, or WithBatchCompletionWindow) is "expired": its
// requests in the engine are dropped, and with those never started are
// written as batch_expired.
//
// Memory is bounded (WithBatchLimits): stored files by count and total
// bytes, one upload's size (OpenAI's 200 MB by default, read as it
// streams), batches by count, and requests per batch (50,000). When a new
// file or batch would pass a limit, the oldest finished batches and the
// oldest files that no unfinished batch reads are dropped; when that is
// not enough the request is refused with 429 (413 for an upload too large),
// naming the limit. A batch's output files are stored even then. The
// simulator has no API keys: it accepts any Authorization header.
//
// Benchstation extension: each 200 response line of an output file also
// carries "timing": {"enqueued_at", "started_at", "finished_at"}, Unix
// times in seconds with fractions: when the batch went in_progress and
// queued the request, when the engine first scheduled it, and when the
// engine produced its last token. OpenAI clients ignore the field.
//
// [Server.Close] stops the running batches where they are; Serve calls it
// when its context ends.
//
// # Token counting
//
// There is no tokenizer. A prompt is a byte string and every [CharsPerToken]
// (4) bytes of it count as one token, rounded up, with at least one token.
// Chat prompts are rendered first as "<|role|>\ncontent\n" per message
// followed by "<|assistant|>\n". Prompts given as token-id arrays count one
// token per id. Generated text is drawn from a fixed vocabulary of short
// words, one word per token, chosen by hashing the seed, the prompt and the
// position, so that the same prompt gives the same text (like greedy
// decoding).
//
// # The engine model
//
// One scheduler goroutine runs engine steps while there is work and exits when
// there is none (so an idle server uses no CPU and no goroutine). A step works
// like vLLM V1's scheduler:
//
//   - Running sequences are scheduled first, in admission order: one decode
//     token each, or the next chunk of their prefill (chunked prefill), within
//     a budget of MaxNumBatchedTokens tokens per step.
//   - Each scheduled token needs a KV-cache slot. The cache holds
//     KVCacheTokens tokens; a sequence holds its prompt plus its generated
//     tokens. When the cache is full, the newest running sequence is preempted:
//     it frees its cache, goes back to the front of the waiting queue, is
//     counted in vllm:num_preemptions_total, and later recomputes its prompt
//     and generated tokens as a new prefill (the client just sees a pause).
//   - If nothing was preempted, waiting sequences are admitted in FIFO order
//     while fewer than MaxNumSeqs run, the token budget lasts and their prefill
//     fits in the cache.
//   - Prefix caching: prompts are cut into blocks of BlockSize tokens, each
//     block hashed together with its parent's hash (as vLLM does); blocks of
//     earlier prompts are kept in a CLOCK-evicted cache of KVCacheTokens /
//     BlockSize blocks. A newly admitted sequence skips the prefill of its
//     leading cached blocks (at most prompt-1 tokens, as in vLLM), and the
//     queried and hit tokens are counted in vllm:prefix_cache_queries_total
//     and vllm:prefix_cache_hits_total. Cached blocks are not shared in the
//     KV-cache accounting: every running sequence holds all of its tokens.
//   - A step lasts DecodeTime + DecodeTimePerSeq × (sequences in the step) +
//     PrefillTimePerToken × (prefill tokens computed in the step), waited with
//     a timer. At its end every sequence whose prefill is complete emits one
//     token. With all three durations zero, steps run back to back without
//     waiting.
//
// The effective context window is min(MaxModelLen, KVCacheTokens), so a single
// request always fits in the cache. A request's output length is max_tokens
// (default: context window − prompt tokens) when ignore_eos is true;
// otherwise the "end of sequence" falls at a position drawn from the seed and
// the prompt, uniformly in [1, MaxNaturalTokens], and an output that ends
// there before max_tokens finishes with "stop".
//
// # Faults and determinism
//
// [Faults] sets shares of requests that get a 429 with Retry-After, a 500, a
// 400 context-length error, a connection closed mid-stream, a
// data: {"error": ...} event after HTTP 200, or a stall mid-stream. Which
// request gets which fault, and where in the stream, is drawn from the seed and
// the request's arrival index, so a sequence of requests sent one at a time is
// answered identically by two servers with the same seed.
//
// # Observing the truth
//
// [WithObserver] receives a [Record] per request with the server-side times:
// arrival, scheduling, the engine's first token and the moment the first
// token's bytes were handed to the connection, so tests of a load generator
// can compare measured and true TTFT.
//
// # Metrics
//
// /metrics is served from the server's own prometheus.Registry with the
// names, types, help texts, label sets and histogram buckets of vLLM V1 (every
// vllm:* series has model_name and engine="0"; vllm:cache_config_info has
// engine only, as vLLM's). The Python client's *_created series are not
// emitted: client_golang does not write them in the text format.
package sim
