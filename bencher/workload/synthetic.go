package workload

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher"
)

// Defaults of [SyntheticOptions], used where a field is left zero.
const (
	// DefaultAPI is the API of synthetic requests.
	DefaultAPI = bencher.APICompletions
	// DefaultInputTokens is the fixed prompt length, in tokens.
	DefaultInputTokens = 512
	// DefaultOutputTokens is the fixed output length (max_tokens).
	DefaultOutputTokens = 128
	// DefaultPrefixGroups is the number of distinct shared prefixes.
	DefaultPrefixGroups = 1
)

// SyntheticOptions describes a synthetic workload. The zero value is valid:
// completions requests of 512 prompt tokens and max_tokens 128, seed 0.
type SyntheticOptions struct {
	// Count is the number of requests [Synthetic] returns (NewSynthetic
	// ignores it).
	Count int
	// API selects a completions request (Prompt) or a chat request
	// (Messages: one "user" message); default DefaultAPI.
	API bencher.API
	// Input is the distribution of prompt lengths in tokens; default
	// Fixed(DefaultInputTokens).
	Input Dist
	// Output is the distribution of max_tokens; default
	// Fixed(DefaultOutputTokens).
	Output Dist
	// IgnoreEOS asks the server to generate exactly max_tokens tokens.
	IgnoreEOS bool
	// PrefixShare is the fraction (0 to 1) of each prompt's tokens that is a
	// prefix shared with the other requests of its group, to exercise
	// prefix caching: a prompt of n tokens opens with round(PrefixShare × n)
	// words of its group's prefix, so two prompts of one group share as many
	// leading tokens as the shorter of their prefixes.
	PrefixShare float64
	// PrefixGroups is the number of distinct prefixes; request i belongs to
	// group i mod PrefixGroups. Default DefaultPrefixGroups.
	PrefixGroups int
	// Seed makes the workload reproducible: the same options and seed give
	// byte-identical requests.
	Seed uint64
}

// SyntheticSource draws synthetic requests by index: Request(i) depends only
// on the options and i, so a run of any length draws the same requests in
// the same order. It is immutable and safe for concurrent use.
type SyntheticSource struct {
	api       bencher.API
	in, out   Dist
	ignoreEOS bool
	share     float64
	groups    int
	seed      uint64
}

var _ Source = (*SyntheticSource)(nil)

// NewSynthetic checks opts, fills in the defaults and returns the source of
// the workload they describe.
func NewSynthetic(opts SyntheticOptions) (*SyntheticSource, error) {
	s := &SyntheticSource{
		api: cmp.Or(opts.API, DefaultAPI), in: opts.Input, out: opts.Output,
		ignoreEOS: opts.IgnoreEOS, share: opts.PrefixShare,
		groups: cmp.Or(opts.PrefixGroups, DefaultPrefixGroups), seed: opts.Seed,
	}
	if s.in.IsZero() {
		s.in = Fixed(DefaultInputTokens)
	}
	if s.out.IsZero() {
		s.out = Fixed(DefaultOutputTokens)
	}
	if err := checkAPI(s.api); err != nil {
		return nil, err
	}
	if err := s.in.Validate(); err != nil {
		return nil, fmt.Errorf("workload: input length: %w", err)
	}
	if err := s.out.Validate(); err != nil {
		return nil, fmt.Errorf("workload: output length: %w", err)
	}
	if !(s.share >= 0 && s.share <= 1) { // NaN fails both
		return nil, fmt.Errorf("workload: prefix share %s is outside 0…1", num(s.share))
	}
	if s.groups < 1 {
		return nil, fmt.Errorf("workload: prefix groups %d is below 1", s.groups)
	}
	return s, nil
}

// Synthetic returns the first opts.Count requests of the synthetic workload
// opts describes; see [NewSynthetic].
func Synthetic(opts SyntheticOptions) ([]bencher.Request, error) {
	if opts.Count < 0 {
		return nil, fmt.Errorf("workload: count %d is negative", opts.Count)
	}
	s, err := NewSynthetic(opts)
	if err != nil {
		return nil, err
	}
	return Take(s, opts.Count), nil
}

// Request returns the i-th request (i ≥ 0). Its ID is i in decimal; its
// PromptTokens is the number of words in its prompt, which is its token
// count (see the package documentation).
func (s *SyntheticSource) Request(i int) bencher.Request {
	src := newPCG(s.seed, streamRequest, uint64(i))
	rng := rand.New(src)
	n := s.in.Sample(rng)
	req := bencher.Request{
		ID:           strconv.Itoa(i),
		MaxTokens:    s.out.Sample(rng),
		IgnoreEOS:    s.ignoreEOS,
		PromptTokens: n,
	}
	text := s.prompt(i, n, src)
	if s.api == bencher.APIChat {
		req.Messages = []bencher.Message{{Role: "user", Content: text}}
	} else {
		req.Prompt = text
	}
	return req
}

// prompt builds the text of request i: n words, of which the first come
// from the group's prefix stream and the rest from the request's own.
func (s *SyntheticSource) prompt(i, n int, own *rand.PCG) string {
	k := min(n, int(math.Round(s.share*float64(n))))
	var b strings.Builder
	b.Grow(n*wordBytes - 1)
	if k > 0 {
		writeWords(&b, newPCG(s.seed, streamPrefix, uint64(i%s.groups)), k, true)
	}
	writeWords(&b, own, n-k, k == 0)
	return b.String()
}

// writeWords appends n words drawn from src; first says that they open the
// prompt, so the first one goes without its space.
func writeWords(b *strings.Builder, src *rand.PCG, n int, first bool) {
	if n <= 0 {
		return
	}
	if first {
		w := (src.Uint64() >> 32) * firstWords >> 32
		b.WriteString(vocab[w*wordBytes+1 : (w+1)*wordBytes])
		n--
	}
	for n > 0 {
		x := src.Uint64()
		for j := 0; j < 8 && n > 0; j++ {
			w := x & (vocabSize - 1)
			b.WriteString(vocab[w*wordBytes : (w+1)*wordBytes])
			x >>= 8
			n--
		}
	}
}

// Streams of random numbers derived from a seed, so that each use draws
// from its own sequence.
const (
	streamRequest uint64 = iota + 1 // lengths and words of request i
	streamPrefix                    // the words of prefix group g
	streamOutput                    // the output length of file request i
)

// newPCG returns a PCG source for the n-th sequence of a stream, its state
// derived from (seed, stream, n) with SplitMix64, so that neighbouring
// indexes give unrelated sequences.
func newPCG(seed, stream, n uint64) *rand.PCG {
	h := splitmix64(splitmix64(splitmix64(seed)^stream) ^ n)
	return rand.NewPCG(h, splitmix64(h))
}

// splitmix64 is the SplitMix64 finaliser, a bijective 64-bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// checkAPI rejects APIs other than completions and chat.
func checkAPI(api bencher.API) error {
	if api != bencher.APICompletions && api != bencher.APIChat {
		return fmt.Errorf("workload: unknown API %q (want %q or %q)", api, bencher.APICompletions, bencher.APIChat)
	}
	return nil
}
