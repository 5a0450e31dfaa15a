package pacer

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gapStats returns the mean and the coefficient of variation of the gaps of
// a schedule, in seconds.
func gapStats(s []time.Duration) (mean, cv float64) {
	n := float64(len(s) - 1)
	var sum, sum2 float64
	for i := 1; i < len(s); i++ {
		g := (s[i] - s[i-1]).Seconds()
		sum += g
		sum2 += g * g
	}
	mean = sum / n
	variance := sum2/n - mean*mean
	return mean, math.Sqrt(variance) / mean
}

func TestGammaMeanAndCV(t *testing.T) {
	t.Parallel()
	const n = 200_000
	tests := []struct {
		rate, shape float64
	}{
		{rate: 10, shape: 1},
		{rate: 250, shape: 1},
		{rate: 100, shape: 0.25},
		{rate: 100, shape: 0.5},
		{rate: 100, shape: 2},
		{rate: 3, shape: 10},
		{rate: 1000, shape: 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("rate=%v/shape=%v", tt.rate, tt.shape), func(t *testing.T) {
			t.Parallel()
			p, err := NewGamma(tt.rate, tt.shape, 42)
			require.NoError(t, err)
			s := Schedule(p, n+1)
			assert.Equal(t, time.Duration(0), s[0], "first arrival at 0")
			mean, cv := gapStats(s)
			// The standard error of the mean gap is cv/√n of it (< 0.5% here).
			assert.InEpsilon(t, 1/tt.rate, mean, 0.015, "mean gap")
			assert.InEpsilon(t, 1/math.Sqrt(tt.shape), cv, 0.03, "coefficient of variation")
			achieved := float64(n) / s[n].Seconds()
			assert.InEpsilon(t, tt.rate, achieved, 0.015, "rate over the schedule")
		})
	}
}

// TestPoissonTail checks the shape of the exponential distribution, not
// only its moments: P(gap > t) = exp(−rate·t).
func TestPoissonTail(t *testing.T) {
	t.Parallel()
	const n = 100_000
	p, err := NewPoisson(50, 7)
	require.NoError(t, err)
	s := Schedule(p, n+1)
	for _, k := range []float64{0.5, 1, 2, 3} {
		over := 0
		for i := 1; i <= n; i++ {
			if (s[i] - s[i-1]).Seconds() > k/50 {
				over++
			}
		}
		want := math.Exp(-k)
		got := float64(over) / n
		assert.InDelta(t, want, got, 4*math.Sqrt(want*(1-want)/n)+0.0005, "P(gap > %v mean)", k)
	}
}

func TestGammaDeterministic(t *testing.T) {
	t.Parallel()
	a, err := NewGamma(100, 0.5, 1)
	require.NoError(t, err)
	b, err := NewGamma(100, 0.5, 1)
	require.NoError(t, err)
	c, err := NewGamma(100, 0.5, 2)
	require.NoError(t, err)
	sa, sb, sc := Schedule(a, 1000), Schedule(b, 1000), Schedule(c, 1000)
	assert.Equal(t, sa, sb, "same seed, same schedule")
	assert.NotEqual(t, sa, sc, "another seed, another schedule")
	for i := 1; i < len(sa); i++ {
		require.GreaterOrEqual(t, sa[i], sa[i-1], "offsets never decrease")
	}
}

func TestGammaInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		rate, shape float64
		want        string
	}{
		{"zero rate", 0, 1, "pacer: invalid parameter: rate 0 must be a finite number > 0"},
		{"negative rate", -1, 1, "pacer: invalid parameter: rate -1 must be a finite number > 0"},
		{"infinite rate", math.Inf(1), 1, "pacer: invalid parameter: rate +Inf must be a finite number > 0"},
		{"NaN rate", math.NaN(), 1, "pacer: invalid parameter: rate NaN must be a finite number > 0"},
		{"zero shape", 1, 0, "pacer: invalid parameter: burstiness 0 must be a finite number > 0"},
		{"infinite shape", 1, math.Inf(1), "pacer: invalid parameter: burstiness +Inf must be a finite number > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewGamma(tt.rate, tt.shape, 1)
			require.ErrorIs(t, err, ErrInvalid)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestPacerFunc(t *testing.T) {
	t.Parallel()
	i := time.Duration(0)
	p := PacerFunc(func() time.Duration { i += time.Millisecond; return i })
	assert.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond}, Schedule(p, 2))
}

func BenchmarkGammaNext(b *testing.B) {
	for _, shape := range []float64{0.5, 1, 4} {
		b.Run(fmt.Sprintf("shape=%v", shape), func(b *testing.B) {
			p, _ := NewGamma(100, shape, 1)
			b.ReportAllocs()
			for b.Loop() {
				p.Next()
			}
		})
	}
}
