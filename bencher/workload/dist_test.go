package workload

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Dist
		str  string
	}{
		{"512", Fixed(512), "512"},
		{" 1 ", Fixed(1), "1"},
		{"256:1024", Uniform(256, 1024), "256:1024"},
		{"7:7", Uniform(7, 7), "7:7"},
		{"512~64", Normal(512, 64), "512~64"},
		{"100.5~0", Normal(100.5, 0), "100.5~0"},
		{"1e3~1.5", Normal(1000, 1.5), "1000~1.5"},
		{"16777216", Fixed(MaxLength), "16777216"},
		{"1:16777216", Uniform(1, MaxLength), "1:16777216"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDist(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.str, got.String())
			back, err := ParseDist(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, back, "String must read back")
		})
	}
}

func TestParseDistErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", `invalid length distribution "": empty (want N, LO:HI or MEAN~STD)`},
		{"abc", `invalid length distribution "abc": length "abc" is not a whole number (want N, LO:HI or MEAN~STD)`},
		{"12.5", `invalid length distribution "12.5": length "12.5" is not a whole number (want N, LO:HI or MEAN~STD)`},
		{"0", `invalid length distribution "0": length 0 is below 1`},
		{"-3", `invalid length distribution "-3": length -3 is below 1`},
		{"x:5", `invalid length distribution "x:5": low "x" is not a whole number (want N, LO:HI or MEAN~STD)`},
		{"5:", `invalid length distribution "5:": high "" is not a whole number (want N, LO:HI or MEAN~STD)`},
		{"1:2:3", `invalid length distribution "1:2:3": high "2:3" is not a whole number (want N, LO:HI or MEAN~STD)`},
		{"0:5", `invalid length distribution "0:5": low 0 is below 1`},
		{"9:5", `invalid length distribution "9:5": low 9 is above high 5`},
		{"x~3", `invalid length distribution "x~3": mean "x" is not a finite number`},
		{"5~y", `invalid length distribution "5~y": std "y" is not a finite number`},
		{"NaN~1", `invalid length distribution "NaN~1": mean "NaN" is not a finite number`},
		{"5~Inf", `invalid length distribution "5~Inf": std "Inf" is not a finite number`},
		{"0.5~1", `invalid length distribution "0.5~1": mean 0.5 is below 1`},
		{"5~-1", `invalid length distribution "5~-1": std -1 is negative`},
		{"16777217", `invalid length distribution "16777217": length 16777217 is above 16777216`},
		{"1:99999999999", `invalid length distribution "1:99999999999": high 99999999999 is above 16777216`},
		{"1e300~1", `invalid length distribution "1e300~1": mean 1` + strings.Repeat("0", 300) + ` is above 16777216`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDist(tt.in)
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, ErrInvalidDist)
		})
	}
}

func TestDistValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Dist
		want string // "" for valid
	}{
		{"zero", Dist{}, ""},
		{"fixed", Fixed(3), ""},
		{"fixed 0", Fixed(0), "invalid length distribution 0: length 0 is below 1"},
		{"uniform reversed", Uniform(9, 5), "invalid length distribution 9:5: low 9 is above high 5"},
		{"normal NaN", Normal(math.NaN(), 1), "invalid length distribution NaN~1: mean and std must be finite"},
		{"normal negative std", Normal(5, -2), "invalid length distribution 5~-2: std -2 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.d.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, ErrInvalidDist)
		})
	}
}

func TestDistFlagAndText(t *testing.T) {
	t.Parallel()
	var d Dist
	require.NoError(t, d.Set("256:1024"))
	assert.Equal(t, Uniform(256, 1024), d)
	require.Error(t, d.Set("9:5"))
	assert.Equal(t, Uniform(256, 1024), d, "a failed Set leaves the value")

	text, err := Normal(512, 64).MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "512~64", string(text))
	require.NoError(t, d.UnmarshalText(text))
	assert.Equal(t, Normal(512, 64), d)

	text, err = Dist{}.MarshalText()
	require.NoError(t, err)
	require.NoError(t, d.UnmarshalText(text))
	assert.True(t, d.IsZero(), "the zero Dist reads back")
}

func TestDistSample(t *testing.T) {
	t.Parallel()
	const draws = 100_000
	sample := func(d Dist, seed uint64) []int {
		r := rand.New(rand.NewPCG(seed, 1))
		out := make([]int, draws)
		for i := range out {
			out[i] = d.Sample(r)
		}
		return out
	}
	t.Run("zero", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, 0, Dist{}.Sample(rand.New(rand.NewPCG(1, 2))))
	})
	t.Run("fixed is exact", func(t *testing.T) {
		t.Parallel()
		for _, v := range sample(Fixed(512), 1) {
			require.Equal(t, 512, v)
		}
	})
	t.Run("uniform within bounds and flat", func(t *testing.T) {
		t.Parallel()
		counts := map[int]int{}
		for _, v := range sample(Uniform(10, 19), 2) {
			require.GreaterOrEqual(t, v, 10)
			require.LessOrEqual(t, v, 19)
			counts[v]++
		}
		require.Len(t, counts, 10, "every value, both ends included, is drawn")
		for v, n := range counts {
			assert.InDelta(t, draws/10, n, draws/10*0.05, "value %d", v)
		}
	})
	t.Run("normal mean and std", func(t *testing.T) {
		t.Parallel()
		mean, std := moments(sample(Normal(512, 64), 3))
		assert.InDelta(t, 512, mean, 1)
		assert.InDelta(t, 64, std, 1)
	})
	t.Run("normal clamped to MaxLength", func(t *testing.T) {
		t.Parallel()
		for _, v := range sample(Normal(MaxLength, 1e300), 5)[:1000] {
			require.True(t, v == 1 || v == MaxLength, "got %d", v)
		}
	})
	t.Run("normal clamped to 1", func(t *testing.T) {
		t.Parallel()
		ones := 0
		for _, v := range sample(Normal(2, 10), 4) {
			require.GreaterOrEqual(t, v, 1)
			if v == 1 {
				ones++
			}
		}
		assert.Greater(t, ones, draws/3, "about half the draws fall below 1")
	})
}

// moments returns the mean and the standard deviation of xs.
func moments(xs []int) (mean, std float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}
