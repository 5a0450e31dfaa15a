package batch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummaryBoundsTheTrackedBatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) Timestamp { return Timestamp(at.Add(-d).Unix()) }
	running := func(id string, created time.Duration) Batch {
		return Batch{ID: id, Status: StatusInProgress, CreatedAt: ago(created)}
	}
	done := func(id string, st Status, finished time.Duration) Batch {
		b := Batch{ID: id, Status: st, CreatedAt: ago(finished + time.Hour)}
		switch st {
		case StatusCompleted:
			b.CompletedAt = ago(finished)
		case StatusFailed:
			b.FailedAt = ago(finished)
		case StatusExpired:
			b.ExpiredAt = ago(finished)
		case StatusCancelled:
			b.CancelledAt = ago(finished)
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		max       int
		batches   []Batch
		want      []string
		untracked int
	}{
		{name: "unfinished first, newest created first; then finished, newest finished first", max: 10,
			batches: []Batch{done("c1", StatusCompleted, time.Hour), running("r1", 3*time.Hour),
				done("c2", StatusFailed, time.Minute), running("r2", time.Hour), done("c3", StatusExpired, 30*time.Hour)},
			want: []string{"r2", "r1", "c2", "c1"}},
		{name: "the cap keeps unfinished batches before finished ones", max: 2,
			batches:   []Batch{done("c1", StatusCompleted, time.Minute), running("r1", 3*time.Hour), running("r2", time.Hour), running("r3", 2*time.Hour)},
			want:      []string{"r2", "r3"},
			untracked: 2},
		{name: "the window is inclusive", max: 10,
			batches: []Batch{done("edge", StatusCancelled, 24*time.Hour), done("out", StatusCancelled, 24*time.Hour+time.Second)},
			want:    []string{"edge"}},
		{name: "a batch listed twice counts once", max: 10,
			batches: []Batch{running("r1", time.Hour), running("r1", time.Hour)},
			want:    []string{"r1"}},
		{name: "a batch without id is counted, not tracked", max: 10,
			batches: []Batch{{Status: StatusInProgress}, running("r1", time.Hour)},
			want:    []string{"r1"}},
		{name: "a finished batch without its own timestamp uses the latest one", max: 10,
			batches: []Batch{{ID: "x", Status: StatusCompleted, CreatedAt: ago(time.Hour), FinalizingAt: ago(time.Minute)},
				{ID: "y", Status: StatusFailed, CreatedAt: ago(48 * time.Hour)}},
			want: []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReducer(at, 24*time.Hour, tc.max, nil)
			for i := range tc.batches {
				r.add(&tc.batches[i])
			}
			s := r.summary()
			var got []string
			for _, tr := range s.Tracked {
				got = append(got, tr.ID)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.untracked, s.Untracked)
			total := 0
			for _, st := range Statuses() {
				total += s.Count(st)
			}
			assert.Equal(t, s.Listed, total)
		})
	}
}

func TestModelName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "gpt-x", (&Batch{Model: "gpt-x", Metadata: Metadata{"model": "meta"}}).ModelName())
	assert.Equal(t, "meta", (&Batch{Metadata: Metadata{"model": "meta"}}).ModelName())
	assert.Empty(t, (&Batch{}).ModelName())
}

func TestDecodeIsLenient(t *testing.T) {
	t.Parallel()
	p, err := (&client{}).decodePage([]byte(`{"data":[{"id":"a","status":"completed","created_at":1.7e9,"completed_at":null,
		"request_counts":null,"metadata":{"model":"m","n":3,"tags":["x"]},"usage":{"total_tokens":5}}],"has_more":false}`))
	require.NoError(t, err)
	require.Len(t, p.Data, 1)
	b := p.Data[0]
	assert.Equal(t, Timestamp(1.7e9), b.CreatedAt)
	assert.Equal(t, Metadata{"model": "m"}, b.Metadata, "non-string metadata is skipped")
	assert.Equal(t, "m", b.ModelName())
}

func TestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	got := label(long)
	assert.LessOrEqual(t, len(got), maxLabelBytes)
	assert.True(t, utf8.ValidString(got))
	assert.Equal(t, "a\uFFFDb", label("a\xffb"))
	assert.Equal(t, "short", label("short"))
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-5":                            0,
		"soon":                          0,
		"99999999999999999":             15 * time.Minute,
		"Thu, 01 Jan 2026 00:02:00 GMT": 2 * time.Minute,
		"Wed, 31 Dec 2025 00:00:00 GMT": 0,
	} {
		assert.Equal(t, want, retryAfter(v, now, 15*time.Minute), "Retry-After: %q", v)
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"object":"list","data":[{"id":"a","status":"in_progress","created_at":1,"request_counts":{"total":3}}],"has_more":true,"last_id":"a"}`))
	f.Add([]byte(`{"data":[{"metadata":{"model":1},"created_at":1e300}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := (&client{}).decodePage(body)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		r := newReducer(time.Unix(2e9, 0), 24*time.Hour, 5, nil)
		for i := range p.Data {
			r.add(&p.Data[i])
		}
		s := r.summary()
		require.LessOrEqual(t, len(s.Tracked), 5)
		for _, tr := range s.Tracked {
			require.True(t, utf8.ValidString(tr.ID+tr.Model+tr.Endpoint))
		}
		_, err = json.Marshal(p)
		require.NoError(t, err)
	})
}
