package workload

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/benchstation/benchstation/bencher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// text returns the prompt of a synthetic request, whatever its API.
func text(req bencher.Request) string {
	if len(req.Messages) > 0 {
		return req.Messages[0].Content
	}
	return req.Prompt
}

func mustSynthetic(t *testing.T, opts SyntheticOptions) []bencher.Request {
	t.Helper()
	reqs, err := Synthetic(opts)
	require.NoError(t, err)
	require.Len(t, reqs, opts.Count)
	return reqs
}

func TestSyntheticDeterministic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts SyntheticOptions
	}{
		{"defaults", SyntheticOptions{Count: 50}},
		{"chat uniform", SyntheticOptions{Count: 50, API: bencher.APIChat, Input: Uniform(1, 900), Output: Normal(100, 30), Seed: 7}},
		{"prefix groups", SyntheticOptions{Count: 50, Input: Normal(300, 50), PrefixShare: 0.4, PrefixGroups: 3, Seed: 1 << 60, IgnoreEOS: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := json.Marshal(mustSynthetic(t, tt.opts))
			require.NoError(t, err)
			b, err := json.Marshal(mustSynthetic(t, tt.opts))
			require.NoError(t, err)
			assert.Equal(t, a, b, "same seed and options, same bytes")

			other := tt.opts
			other.Seed++
			c, err := json.Marshal(mustSynthetic(t, other))
			require.NoError(t, err)
			assert.NotEqual(t, a, c, "another seed, other requests")
		})
	}
}

func TestSyntheticSeedsDiffer(t *testing.T) {
	t.Parallel()
	seen := map[string]uint64{}
	for seed := range uint64(200) {
		reqs := mustSynthetic(t, SyntheticOptions{Count: 1, Input: Fixed(16), Seed: seed})
		p := reqs[0].Prompt
		prev, dup := seen[p]
		require.False(t, dup, "seeds %d and %d gave the same prompt", prev, seed)
		seen[p] = seed
	}
}

func TestSyntheticShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts SyntheticOptions
		in   int
		max  int
	}{
		{"defaults", SyntheticOptions{Count: 3}, DefaultInputTokens, DefaultOutputTokens},
		{"completions", SyntheticOptions{Count: 3, API: bencher.APICompletions, Input: Fixed(7), Output: Fixed(9), IgnoreEOS: true}, 7, 9},
		{"chat", SyntheticOptions{Count: 3, API: bencher.APIChat, Input: Fixed(1), Output: Fixed(2)}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i, req := range mustSynthetic(t, tt.opts) {
				assert.Equal(t, strconv.Itoa(i), req.ID)
				assert.Equal(t, tt.in, req.PromptTokens)
				assert.Equal(t, tt.max, req.MaxTokens)
				assert.Equal(t, tt.opts.IgnoreEOS, req.IgnoreEOS)
				assert.Nil(t, req.Body)
				if tt.opts.API == bencher.APIChat {
					assert.Empty(t, req.Prompt)
					require.Len(t, req.Messages, 1)
					assert.Equal(t, "user", req.Messages[0].Role)
				} else {
					assert.Nil(t, req.Messages)
				}
				assert.Len(t, strings.Fields(text(req)), tt.in)
			}
		})
	}
}

// TestSyntheticTokenCount checks the construction the token estimate rests
// on: n words from the vocabulary, single spaces, no leading space, 4n−1
// bytes (which the simulator counts as n tokens).
func TestSyntheticTokenCount(t *testing.T) {
	t.Parallel()
	words := map[string]bool{}
	for i := 0; i < vocabSize; i++ {
		words[vocab[i*wordBytes+1:(i+1)*wordBytes]] = true
	}
	reqs := mustSynthetic(t, SyntheticOptions{Count: 300, Input: Uniform(1, 700), PrefixShare: 0.3, PrefixGroups: 2, Seed: 3})
	for _, req := range reqs {
		p := req.Prompt
		got := strings.Split(p, " ")
		require.Len(t, got, req.PromptTokens, "request %s", req.ID)
		require.Len(t, p, wordBytes*req.PromptTokens-1)
		assert.Equal(t, req.PromptTokens, EstimateTokens(p), "the simulator's count")
		for _, w := range got {
			require.True(t, words[w], "word %q of request %s is not in the vocabulary", w, req.ID)
		}
		require.Less(t, strings.Index(vocab, " "+got[0]), firstWords*wordBytes, "a prompt opens with a first word")
	}
}

func TestVocabulary(t *testing.T) {
	t.Parallel()
	require.Len(t, vocab, vocabSize*wordBytes)
	seen := map[string]bool{}
	for i := 0; i < vocabSize; i++ {
		w := vocab[i*wordBytes : (i+1)*wordBytes]
		require.Regexp(t, `^ [a-z]{3}$`, w)
		require.False(t, seen[w], "duplicate %q", w)
		seen[w] = true
	}
}

func TestSyntheticLengths(t *testing.T) {
	t.Parallel()
	reqs := mustSynthetic(t, SyntheticOptions{Count: 4000, Input: Uniform(100, 200), Output: Normal(50, 10), Seed: 11})
	ins, outs := make([]int, len(reqs)), make([]int, len(reqs))
	for i, req := range reqs {
		require.GreaterOrEqual(t, req.PromptTokens, 100)
		require.LessOrEqual(t, req.PromptTokens, 200)
		ins[i], outs[i] = req.PromptTokens, req.MaxTokens
	}
	inMean, _ := moments(ins)
	outMean, outStd := moments(outs)
	assert.InDelta(t, 150, inMean, 3)
	assert.InDelta(t, 50, outMean, 1)
	assert.InDelta(t, 10, outStd, 1)
}

func TestSyntheticPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		share  float64
		groups int
		want   int // shared leading words within a group, of 100
	}{
		{"none", 0, 0, 0},
		{"half", 0.5, 0, 50},
		{"rounded", 0.333, 1, 33},
		{"all", 1, 0, 100},
		{"three groups", 0.25, 3, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs := mustSynthetic(t, SyntheticOptions{Count: 12, Input: Fixed(100), PrefixShare: tt.share, PrefixGroups: tt.groups, Seed: 5})
			groups := max(tt.groups, 1)
			for i := range reqs {
				for j := i + 1; j < len(reqs); j++ {
					a, b := strings.Fields(reqs[i].Prompt), strings.Fields(reqs[j].Prompt)
					if i%groups != j%groups {
						assert.NotEqual(t, a[:tt.want], b[:tt.want], "requests %d and %d are in different groups", i, j)
						continue
					}
					assert.Equal(t, a[:tt.want], b[:tt.want], "requests %d and %d share the prefix", i, j)
					if tt.want < len(a) {
						assert.NotEqual(t, a[tt.want:], b[tt.want:], "requests %d and %d differ after it", i, j)
					}
				}
			}
		})
	}
}

// TestSyntheticPrefixVaryingLengths checks that prompts of different lengths
// share round(share × the shorter length) words.
func TestSyntheticPrefixVaryingLengths(t *testing.T) {
	t.Parallel()
	reqs := mustSynthetic(t, SyntheticOptions{Count: 40, Input: Uniform(10, 400), PrefixShare: 0.5, Seed: 9})
	for i := 1; i < len(reqs); i++ {
		a, b := strings.Fields(reqs[0].Prompt), strings.Fields(reqs[i].Prompt)
		k := min(len(a)+1, len(b)+1) / 2 // round(0.5 n), halves rounded up
		assert.Equal(t, a[:k], b[:k], "request %d", i)
	}
}

func TestSyntheticOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts SyntheticOptions
		want string
	}{
		{"count", SyntheticOptions{Count: -1}, "workload: count -1 is negative"},
		{"api", SyntheticOptions{API: "embeddings"}, `workload: unknown API "embeddings" (want "completions" or "chat")`},
		{"input", SyntheticOptions{Input: Uniform(9, 5)}, "workload: input length: invalid length distribution 9:5: low 9 is above high 5"},
		{"output", SyntheticOptions{Output: Fixed(-1)}, "workload: output length: invalid length distribution -1: length -1 is below 1"},
		{"share above 1", SyntheticOptions{PrefixShare: 1.5}, "workload: prefix share 1.5 is outside 0…1"},
		{"share negative", SyntheticOptions{PrefixShare: -0.1}, "workload: prefix share -0.1 is outside 0…1"},
		{"groups", SyntheticOptions{PrefixGroups: -2}, "workload: prefix groups -2 is below 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs, err := Synthetic(tt.opts)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, reqs)
		})
	}
	_, err := Synthetic(SyntheticOptions{Input: Fixed(0)})
	assert.ErrorIs(t, err, ErrInvalidDist)
}

func TestSyntheticZeroCount(t *testing.T) {
	t.Parallel()
	reqs, err := Synthetic(SyntheticOptions{})
	require.NoError(t, err)
	assert.Empty(t, reqs)
}

// TestSyntheticSourceByIndex checks that request i is the same however and
// in whatever order it is drawn, concurrently too.
func TestSyntheticSourceByIndex(t *testing.T) {
	t.Parallel()
	opts := SyntheticOptions{Count: 64, API: bencher.APIChat, Input: Uniform(5, 50), PrefixShare: 0.5, PrefixGroups: 4, Seed: 42}
	want := mustSynthetic(t, opts)
	src, err := NewSynthetic(opts)
	require.NoError(t, err)
	got := make([]bencher.Request, len(want))
	var wg sync.WaitGroup
	for i := len(got) - 1; i >= 0; i-- {
		wg.Go(func() { got[i] = src.Request(i) })
	}
	wg.Wait()
	assert.Equal(t, want, got)
	assert.Equal(t, want[3], src.Request(3))
}
