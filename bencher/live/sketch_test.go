package live

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSketchBuckets(t *testing.T) {
	t.Parallel()
	prev := -1
	for us := int64(0); us < 1<<22; us = us*9/8 + 1 {
		d := time.Duration(us) * time.Microsecond
		b := bucketOf(d)
		require.GreaterOrEqual(t, b, prev, "buckets must not decrease at %v", d)
		lo, hi := bucketBounds(b)
		require.True(t, float64(us) >= lo && float64(us) < hi, "%dµs not in bucket %d [%v, %v)", us, b, lo, hi)
		prev = b
	}
	assert.Equal(t, sketchBuckets-1, bucketOf(time.Duration(1<<62)), "huge values land in the last bucket")
	assert.Equal(t, 0, bucketOf(-time.Second), "negative values count as 0")
}

func TestSketchQuantile(t *testing.T) {
	t.Parallel()
	var s sketch
	_, ok := s.quantile(0.5)
	assert.False(t, ok, "no values, no quantile")
	rng := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 10000 {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		all = append(all, d)
		s.add(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got, ok := s.quantile(q)
		require.True(t, ok)
		want := all[int(q*float64(len(all)))-1]
		assert.InEpsilon(t, float64(want), float64(got), 0.13, "q%v", q)
	}
}
