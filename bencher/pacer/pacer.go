// Package pacer computes the arrival times of an open-loop load: requests
// arrive at a mean rate of R per second, with independent inter-arrival gaps
// drawn from a gamma distribution whose shape is the "burstiness" (vLLM's
// benchmark_serving convention):
//
//   - shape 1 gives a Poisson process (exponential gaps, coefficient of
//     variation 1);
//   - shape < 1 gives burstier traffic (CV = 1/√shape > 1);
//   - shape > 1 gives steadier traffic, approaching constant gaps as the
//     shape grows.
//
// The mean gap is always 1/R: the gamma's scale is 1/(R·shape).
//
// A [Gamma] pacer is deterministic: the same rate, shape and seed give the
// same schedule, on every machine. It computes times only; it never sleeps,
// so schedules can be tested without waiting ([Schedule]). The load loop
// (package bencher) sleeps until each time.
package pacer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Pacer yields the arrival times of an open-loop load.
type Pacer interface {
	// Next returns the offset from the start of the run at which the next
	// request is due. Offsets never decrease.
	Next() time.Duration
}

// PacerFunc adapts a function to a Pacer.
type PacerFunc func() time.Duration

// Next calls f.
func (f PacerFunc) Next() time.Duration { return f() }

// Compile-time interface checks.
var (
	_ Pacer = PacerFunc(nil)
	_ Pacer = (*Gamma)(nil)
)

// ErrInvalid is wrapped by the errors of constructors given a rate or shape
// that is not a finite positive number.
var ErrInvalid = errors.New("pacer: invalid parameter")

// Gamma is a pacer with gamma-distributed inter-arrival gaps. It is not safe
// for concurrent use.
type Gamma struct {
	rate  float64
	shape float64
	scale float64 // seconds: 1/(rate·shape)
	rng   *rand.Rand
	at    time.Duration
	first bool
}

// NewGamma returns a pacer of rate requests per second on average with gamma
// gaps of the given shape (the burstiness; 1 is Poisson), seeded by seed.
// The first request is due at 0, like vLLM's benchmark and vegeta.
func NewGamma(rate, shape float64, seed uint64) (*Gamma, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("%w: rate %v must be a finite number > 0", ErrInvalid, rate)
	}
	if !(shape > 0) || math.IsInf(shape, 0) {
		return nil, fmt.Errorf("%w: burstiness %v must be a finite number > 0", ErrInvalid, shape)
	}
	return &Gamma{
		rate:  rate,
		shape: shape,
		scale: 1 / (rate * shape),
		rng:   rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		first: true,
	}, nil
}

// NewPoisson returns a Poisson pacer: NewGamma with shape 1.
func NewPoisson(rate float64, seed uint64) (*Gamma, error) { return NewGamma(rate, 1, seed) }

// Rate returns the mean rate in requests per second.
func (g *Gamma) Rate() float64 { return g.rate }

// Shape returns the gamma shape (the burstiness).
func (g *Gamma) Shape() float64 { return g.shape }

// Next returns the offset of the next arrival: 0 for the first, then the
// previous offset plus a gamma-distributed gap.
func (g *Gamma) Next() time.Duration {
	if g.first {
		g.first = false
		return 0
	}
	g.at += time.Duration(math.Round(g.Gap() * 1e9))
	return g.at
}

// Gap draws one inter-arrival gap in seconds, without moving the schedule.
func (g *Gamma) Gap() float64 { return g.scale * g.standard() }

// standard draws from Gamma(shape, 1).
func (g *Gamma) standard() float64 {
	switch {
	case g.shape == 1:
		return g.rng.ExpFloat64()
	case g.shape < 1:
		// Gamma(k) = Gamma(k+1) · U^(1/k) (Marsaglia and Tsang, section 6).
		u := 1 - g.rng.Float64() // (0, 1]
		return marsagliaTsang(g.rng, g.shape+1) * math.Pow(u, 1/g.shape)
	default:
		return marsagliaTsang(g.rng, g.shape)
	}
}

// marsagliaTsang draws from Gamma(k, 1) for k >= 1 (G. Marsaglia and W. W.
// Tsang, "A simple method for generating gamma variables", 2000).
func marsagliaTsang(rng *rand.Rand, k float64) float64 {
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 {
			return d * v
		}
		if u > 0 && math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Schedule returns the next n offsets of p.
func Schedule(p Pacer, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = p.Next()
	}
	return out
}
