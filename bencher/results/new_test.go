package results

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/stats"
)

var start = time.Date(2026, 11, 27, 10, 15, 0, 123456789, time.UTC)

func TestNewStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason bencher.StopReason
		cause  error
		want   Status
		msg    string
	}{
		{bencher.StopCompleted, nil, StatusCompleted, ""},
		{bencher.StopDuration, nil, StatusCompleted, ""},
		{bencher.StopInterrupted, nil, StatusInterrupted, "the run was cancelled before its end"},
		{bencher.StopMaxErrorRate, nil, StatusFailed, "stopped early: the error rate passed the limit of 0.25"},
		{bencher.StopCompleted, errors.New("boom"), StatusFailed, "boom"},
		{"completed, with canceled records", nil, StatusInterrupted,
			"the run was cancelled before its end (some requests were canceled)"},
	}
	for _, tt := range tests {
		t.Run(string(tt.reason), func(t *testing.T) {
			t.Parallel()
			res := fakeResult(10, start)
			res.StopReason, res.Config.MaxErrorRate = tt.reason, 0.25
			if tt.reason == "completed, with canceled records" {
				res.StopReason = bencher.StopCompleted
				res.Records[9].Error = bencher.ErrCanceled
			}
			doc := NewPartial(res, Meta{}, tt.cause)
			assert.Equal(t, tt.want, doc.Status)
			assert.Equal(t, tt.msg, doc.Error)
			assert.Equal(t, res.StopReason, doc.StopReason)
		})
	}
}

func TestNewSections(t *testing.T) {
	t.Parallel()
	res := fakeResult(200, start)
	res.Config.Target = "https://bob:hunter2@gpu-box:8000/v1?token=abc#frag"
	gates, err := gate.Parse("ttft_p99.9<=1s,e2el_p75<10s,success_rate>=0.9", stats.IsValueName)
	require.NoError(t, err)
	doc := New(res, Meta{Gates: gates, Percentiles: []float64{99.9, 50, 101}, MaxErrorExamples: 1})

	assert.Regexp(t, regexp.MustCompile(`^20261127T101500Z-[0-9a-f]{6}$`), doc.ID)
	assert.Equal(t, SchemaVersion, doc.SchemaVersion)
	assert.Equal(t, Kind, doc.Kind)
	assert.NotNil(t, doc.Labels)
	assert.Equal(t, "https://gpu-box:8000/v1", doc.Environment.Target)
	assert.Equal(t, "https://gpu-box:8000/v1", doc.Config.Run.Target)
	assert.Equal(t, start, doc.Environment.StartTime)
	assert.Equal(t, []float64{75, 99.9}, doc.Config.Percentiles)
	assert.Contains(t, doc.Summary.TTFT.ExtraPercentiles, "p99.9")
	require.Len(t, doc.Gates, 3)
	for _, o := range doc.Gates {
		assert.True(t, o.Found, o.Text)
	}
	assert.Equal(t, []ErrorClassInfo{
		{Class: bencher.ErrHTTPStatus, Count: 2, Examples: []string{"Service Unavailable: the engine is overloaded"}},
		{Class: bencher.ErrTimeout, Count: 2, Examples: []string{"the request timed out after 10m0s"}},
	}, doc.Errors)
	assert.Equal(t, 200, doc.RecordCount)
	assert.Len(t, doc.Records, 200)
}

func TestErrorExamples(t *testing.T) {
	t.Parallel()
	recs := []bencher.Record{
		{Index: 0, Error: bencher.ErrHTTPStatus, HTTPStatus: 500},
		{Index: 1, Error: bencher.ErrHTTPStatus, ErrorMessage: "a"},
		{Index: 2, Error: bencher.ErrHTTPStatus, ErrorMessage: "a"},
		{Index: 3, Error: bencher.ErrHTTPStatus, ErrorMessage: "b"},
		{Index: 4, Error: bencher.ErrHTTPStatus, ErrorMessage: "c"},
		{Index: 5, Error: bencher.ErrHTTPStatus, ErrorMessage: "d"},
		{Index: 6, Error: bencher.ErrConnection},
		{Index: 7, Warmup: true, Error: bencher.ErrTimeout, ErrorMessage: "warm-up only"},
	}
	tests := []struct {
		limit int
		want  []ErrorClassInfo
	}{
		{0, []ErrorClassInfo{
			{Class: bencher.ErrHTTPStatus, Count: 6, Examples: []string{"HTTP 500", "a", "b"}},
			{Class: bencher.ErrConnection, Count: 1, Examples: []string{"connection"}},
		}},
		{-1, []ErrorClassInfo{
			{Class: bencher.ErrHTTPStatus, Count: 6, Examples: []string{}},
			{Class: bencher.ErrConnection, Count: 1, Examples: []string{}},
		}},
	}
	for _, tt := range tests {
		s := stats.Summarize(recs)
		assert.Equal(t, tt.want, errorInfo(recs, s, tt.limit))
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	a, b := NewID(start), NewID(start.Add(time.Second))
	assert.NotEqual(t, a, NewID(start))
	assert.Less(t, a, b)
	assert.True(t, validID(a))
	for _, bad := range []string{"", ".hidden", "a/b", `a\b`, "a b", "../x"} {
		assert.False(t, validID(bad), bad)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"http://u:p@host:8000/v1?k=v#f": "http://host:8000/v1",
		"http://host:8000/v1":           "http://host:8000/v1",
		"http://host/v1?":               "http://host/v1",
		"":                              "",
		"http://a b@c%zz":               "",
	}
	for in, want := range tests {
		assert.Equal(t, want, RedactURL(in), in)
	}
}

func TestNewWithoutResult(t *testing.T) {
	t.Parallel()
	doc := NewPartial(nil, Meta{}, nil)
	assert.Equal(t, StatusFailed, doc.Status)
	assert.Equal(t, "the run produced no result", doc.Error)
	assert.Empty(t, doc.Records)
	assert.False(t, doc.Environment.StartTime.IsZero())
}
