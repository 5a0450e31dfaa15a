package workload

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ErrInvalidDist is wrapped by every error about a length distribution.
var ErrInvalidDist = errors.New("invalid length distribution")

type distKind uint8

const (
	distNone distKind = iota
	distFixed
	distUniform
	distNormal
)

// Dist is a distribution of lengths in tokens. The zero Dist is "not set".
// Build one with [Fixed], [Uniform] or [Normal], or parse one with
// [ParseDist]; its text form, which String returns and ParseDist reads, is
//
//	N          exactly N                            "512"
//	LO:HI      uniform over LO…HI, both included    "256:1024"
//	MEAN~STD   normal, rounded, at least 1          "512~64"
//
// N, LO and HI are whole numbers from 1 to [MaxLength] (LO ≤ HI); MEAN is a
// number from 1 to MaxLength and STD one of at least 0. A normal draw below 1
// is taken as 1 (and one above MaxLength as MaxLength), which raises the mean
// when MEAN is within a few STD of 1.
//
// Dist implements flag.Value (and kingpin's Value) and
// encoding.TextUnmarshaler, so it can be a command-line flag or a config
// field directly.
type Dist struct {
	kind      distKind
	lo, hi    int     // fixed: lo; uniform: lo…hi
	mean, std float64 // normal
}

// MaxLength is the largest length a Dist may give (2²⁴ tokens, above any
// model's context window), so that a typing slip cannot ask for terabytes.
const MaxLength = 1 << 24

// Fixed is the distribution that is always n.
func Fixed(n int) Dist { return Dist{kind: distFixed, lo: n, hi: n} }

// Uniform is the uniform distribution over lo…hi, both included.
func Uniform(lo, hi int) Dist { return Dist{kind: distUniform, lo: lo, hi: hi} }

// Normal is the normal distribution of the given mean and standard
// deviation, rounded to whole numbers and clamped to 1…MaxLength.
func Normal(mean, std float64) Dist { return Dist{kind: distNormal, mean: mean, std: std} }

// ParseDist reads a distribution in the text form described at [Dist]. Its
// errors wrap [ErrInvalidDist] and quote s, for example
//
//	invalid length distribution "9:5": low 9 is above high 5
func ParseDist(s string) (Dist, error) {
	d, reason := parseDist(strings.TrimSpace(s))
	if reason != "" {
		return Dist{}, fmt.Errorf("%w %q: %s", ErrInvalidDist, s, reason)
	}
	return d, nil
}

// parseDist parses s, or says in reason why it cannot.
func parseDist(s string) (d Dist, reason string) {
	if s == "" {
		return Dist{}, "empty (want N, LO:HI or MEAN~STD)"
	}
	if lo, hi, ok := strings.Cut(s, ":"); ok {
		a, r1 := parseWhole("low", lo)
		b, r2 := parseWhole("high", hi)
		d = Uniform(a, b)
		return d, cmp.Or(r1, r2, d.check())
	}
	if mean, std, ok := strings.Cut(s, "~"); ok {
		a, r1 := parseFinite("mean", mean)
		b, r2 := parseFinite("std", std)
		d = Normal(a, b)
		return d, cmp.Or(r1, r2, d.check())
	}
	n, r := parseWhole("length", s)
	d = Fixed(n)
	return d, cmp.Or(r, d.check())
}

func parseWhole(what, s string) (int, string) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Sprintf("%s %q is not a whole number (want N, LO:HI or MEAN~STD)", what, s)
	}
	return n, ""
}

func parseFinite(what, s string) (float64, string) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, fmt.Sprintf("%s %q is not a finite number", what, s)
	}
	return x, ""
}

// check says why d is invalid, or returns "".
func (d Dist) check() string {
	switch d.kind {
	case distFixed:
		return checkRange("length", float64(d.lo))
	case distUniform:
		if d.lo > d.hi {
			return fmt.Sprintf("low %d is above high %d", d.lo, d.hi)
		}
		return cmp.Or(checkRange("low", float64(d.lo)), checkRange("high", float64(d.hi)))
	case distNormal:
		switch {
		case math.IsNaN(d.mean) || math.IsInf(d.mean, 0) || math.IsNaN(d.std) || math.IsInf(d.std, 0):
			return "mean and std must be finite"
		case d.std < 0:
			return fmt.Sprintf("std %s is negative", num(d.std))
		}
		return checkRange("mean", d.mean)
	}
	return ""
}

// checkRange says why x is not within 1…MaxLength, or returns "".
func checkRange(what string, x float64) string {
	switch {
	case x < 1:
		return fmt.Sprintf("%s %s is below 1", what, num(x))
	case x > MaxLength:
		return fmt.Sprintf("%s %s is above %d", what, num(x), MaxLength)
	}
	return ""
}

// Validate reports whether d is a usable distribution; the zero Dist is
// valid (it means "not set"). Its errors wrap [ErrInvalidDist].
func (d Dist) Validate() error {
	if reason := d.check(); reason != "" {
		return fmt.Errorf("%w %s: %s", ErrInvalidDist, d, reason)
	}
	return nil
}

// IsZero reports whether d is the zero Dist, "not set".
func (d Dist) IsZero() bool { return d.kind == distNone }

// Sample draws a length from d using r. It returns 0 for the zero Dist.
func (d Dist) Sample(r *rand.Rand) int {
	switch d.kind {
	case distFixed:
		return d.lo
	case distUniform:
		return d.lo + r.IntN(d.hi-d.lo+1)
	case distNormal:
		return int(min(max(math.Round(d.mean+d.std*r.NormFloat64()), 1), MaxLength))
	}
	return 0
}

// String returns d in the form ParseDist reads; "" for the zero Dist.
func (d Dist) String() string {
	switch d.kind {
	case distFixed:
		return strconv.Itoa(d.lo)
	case distUniform:
		return strconv.Itoa(d.lo) + ":" + strconv.Itoa(d.hi)
	case distNormal:
		return num(d.mean) + "~" + num(d.std)
	}
	return ""
}

// Set parses s into d, for flag.Value.
func (d *Dist) Set(s string) error {
	v, err := ParseDist(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText returns String's form.
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text as ParseDist does, except that empty text gives
// the zero Dist, so that MarshalText's output always reads back.
func (d *Dist) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Dist{}
		return nil
	}
	return d.Set(string(text))
}

// num formats x in the shortest decimal form that reads back, without an
// exponent.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
