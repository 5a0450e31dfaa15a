package workload

import (
	"testing"

	"github.com/benchstation/benchstation/bencher"
)

// BenchmarkSyntheticRequest measures one synthetic request of 512 tokens.
func BenchmarkSyntheticRequest(b *testing.B) {
	for _, api := range []bencher.API{bencher.APICompletions, bencher.APIChat} {
		b.Run(string(api), func(b *testing.B) {
			src, err := NewSynthetic(SyntheticOptions{API: api, Input: Fixed(512), PrefixShare: 0.25})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(512*wordBytes - 1)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_ = src.Request(i)
			}
		})
	}
}

// BenchmarkSynthetic100k measures a whole workload: 100,000 requests of 512
// tokens.
func BenchmarkSynthetic100k(b *testing.B) {
	opts := SyntheticOptions{Count: 100_000, Input: Fixed(512), Output: Fixed(128)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Synthetic(opts); err != nil {
			b.Fatal(err)
		}
	}
}
