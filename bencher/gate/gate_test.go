package gate

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type values map[string]float64

func (v values) Value(name string) (float64, bool) {
	x, ok := v[name]
	return x, ok
}

func known(name string) bool {
	switch name {
	case "ttft_p95", "success_rate", "output_throughput", "e2el_p99", "goodput":
		return true
	}
	return false
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []Gate
	}{
		{"ttft_p95<=500ms", []Gate{{"ttft_p95", LE, 500, "ttft_p95<=500ms"}}},
		{"ttft_p95 < 1.5s", []Gate{{"ttft_p95", LT, 1500, "ttft_p95 < 1.5s"}}},
		{"e2el_p99<=250us", []Gate{{"e2el_p99", LE, 0.25, "e2el_p99<=250us"}}},
		{"success_rate>=0.99", []Gate{{"success_rate", GE, 0.99, "success_rate>=0.99"}}},
		{"success_rate>=99.5%", []Gate{{"success_rate", GE, 0.995, "success_rate>=99.5%"}}},
		{"output_throughput>1200, ttft_p95<=800", []Gate{
			{"output_throughput", GT, 1200, "output_throughput>1200"}, {"ttft_p95", LE, 800, "ttft_p95<=800"}}},
		{"ttft_p95<=500ms,", []Gate{{"ttft_p95", LE, 500, "ttft_p95<=500ms"}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.in, known)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "invalid gate: empty, want e.g. 'ttft_p95<=500ms,success_rate>=0.99'"},
		{"ttft_p95", `invalid gate "ttft_p95": want NAME<=VALUE, NAME>=VALUE, NAME<VALUE or NAME>VALUE`},
		{"<=5", `invalid gate "<=5": want NAME<=VALUE, NAME>=VALUE, NAME<VALUE or NAME>VALUE`},
		{"ttft_p95<=", `invalid gate "ttft_p95<=": missing value`},
		{"ttft_p95<=fast", `invalid gate "ttft_p95<=fast": bad value "fast": want a number, a percentage (99%) or a duration (500ms)`},
		{"success_rate>=x%", `invalid gate "success_rate>=x%": bad percentage "x%"`},
		{"success_rate>=NaN", `invalid gate "success_rate>=NaN": bad value "NaN": want a finite number`},
		{"ttft_p95<=inf", `invalid gate "ttft_p95<=inf": bad value "inf": want a finite number`},
		{"success_rate>=inf%", `invalid gate "success_rate>=inf%": bad percentage "inf%"`},
		{"ttft_p59<=5ms", `invalid gate "ttft_p59<=5ms": unknown value "ttft_p59"`},
		{"ttft p95<=5ms", `invalid gate "ttft p95<=5ms": bad name "ttft p95"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.in, known)
			require.EqualError(t, err, tc.want)
			assert.True(t, errors.Is(err, ErrSyntax))
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	gates, err := Parse("ttft_p95<=500ms,success_rate>=0.99,output_throughput>1000,goodput>=1", known)
	require.NoError(t, err)
	got := Check(gates, values{"ttft_p95": 500, "success_rate": 0.985, "output_throughput": 1000})
	require.Len(t, got, 4)
	assert.True(t, got[0].Pass, "<= is inclusive")
	assert.False(t, got[1].Pass)
	assert.False(t, got[2].Pass, "> is strict")
	assert.False(t, got[3].Pass, "a missing value fails")
	assert.False(t, got[3].Found)
	assert.False(t, Passed(got))
	assert.Equal(t, "ok   ttft_p95<=500ms: 500", got[0].String())
	assert.Equal(t, "FAIL success_rate>=0.99: 0.985", got[1].String())
	assert.Equal(t, `FAIL goodput>=1: no samples (the run measured no goodput)`, got[3].String())
	assert.True(t, Passed(Check(gates[:1], values{"ttft_p95": 12})))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ttft_p95<=500ms", "a>=1%,b<2", "x<", ",,", "<>="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gates, err := Parse(s, nil)
		if err != nil {
			return
		}
		for _, g := range gates {
			if g.Name == "" || (g.Op != LE && g.Op != LT && g.Op != GE && g.Op != GT) {
				t.Fatalf("bad gate %+v from %q", g, s)
			}
		}
	})
}

// TestNoSamplesFailsAndHasNoActual: a gate on a value without samples fails
// with "no samples", and its JSON outcome has no actual value (not 0).
func TestNoSamplesFailsAndHasNoActual(t *testing.T) {
	t.Parallel()
	gates, err := Parse("ttft_p95<=1ms,success_rate>=0", known)
	require.NoError(t, err)
	got := Check(gates, values{}) // a run that measured nothing
	require.Len(t, got, 2)
	for _, o := range got {
		assert.False(t, o.Pass, "%s passes on nothing", o.Text)
		assert.Contains(t, o.String(), NoSamples)
		assert.Contains(t, o.Reason(), NoSamples)
		b, err := json.Marshal(o)
		require.NoError(t, err)
		assert.NotContains(t, string(b), `"actual"`, "an absent value is left out, not written as 0")
		var back Outcome
		require.NoError(t, json.Unmarshal(b, &back))
		assert.False(t, back.Found)
	}
	b, err := json.Marshal(Check(gates[:1], values{"ttft_p95": 0.5})[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"actual":0.5`)
}
