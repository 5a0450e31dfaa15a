package bencher

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promptServer answers every completion with a two-token stream and
// records the prompts it was sent.
type promptServer struct {
	mu      sync.Mutex
	prompts []string
}

func (p *promptServer) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prompt, _ := bodyOf(t, r)["prompt"].(string)
		p.mu.Lock()
		p.prompts = append(p.prompts, prompt)
		p.mu.Unlock()
		fullStream(w, 2)
	}
}

func (p *promptServer) sorted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(slices.Values(p.prompts))
}

// scheduled is what the schedule says of one request.
type scheduled struct {
	index int
	id    string
	at    time.Duration // open loop only
}

func TestShardsSendTheScheduleOfOneRun(t *testing.T) {
	t.Parallel()
	wl := WorkloadFunc(func(i int) Request {
		return Request{ID: fmt.Sprintf("r%d", i), Prompt: fmt.Sprintf("prompt %d", i), MaxTokens: 2}
	})
	const requests = 61
	limit := WithRequests(requests)
	loads := map[string][]Option{
		"poisson":      {limit, WithRate(4000)},
		"gamma-bursty": {limit, WithRate(4000), WithBurstiness(0.5)},
		"capped":       {limit, WithRate(4000), WithConcurrency(7)},
		"closed":       {limit, WithConcurrency(7)},
		// Until the duration is over: the arrivals before 15 ms.
		"duration": {WithRate(4000), WithDuration(15 * time.Millisecond)},
	}
	for name, load := range loads {
		open := name != "closed"
		run := func(t *testing.T, extra ...Option) ([]scheduled, []string) {
			ps := &promptServer{}
			url := serve(t, ps.handler(t))
			opts := append([]Option{WithTarget(url), WithModel("m"), WithSeed(42)}, load...)
			res, err := Run(context.Background(), wl, append(opts, extra...)...)
			require.NoError(t, err)
			var out []scheduled
			for _, r := range res.Records {
				require.True(t, r.OK(), "record %d: %s", r.Index, r.ErrorMessage)
				s := scheduled{index: r.Index, id: r.ID}
				if open {
					s.at = r.Scheduled
				}
				out = append(out, s)
			}
			return out, ps.sorted()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, wantPrompts := run(t)
			if name != "duration" {
				require.Len(t, want, requests)
			}
			require.NotEmpty(t, want)
			for _, n := range []int{1, 2, 3, 4, 7} {
				t.Run(fmt.Sprint(n), func(t *testing.T) {
					var got []scheduled
					var gotPrompts []string
					for i := range n {
						part, prompts := run(t, WithShard(i, n))
						assert.Len(t, part, ShareOf(len(want), i, n), "shard %d/%d", i, n)
						for _, s := range part {
							assert.Equal(t, i, s.index%n, "shard %d/%d sent request %d", i, n, s.index)
						}
						got = append(got, part...)
						gotPrompts = append(gotPrompts, prompts...)
					}
					slices.SortFunc(got, func(a, b scheduled) int { return a.index - b.index })
					slices.Sort(gotPrompts)
					assert.Equal(t, want, got, "the shards' schedule")
					assert.Equal(t, wantPrompts, gotPrompts, "the prompts the server got")
				})
			}
		})
	}
}

func TestShareOf(t *testing.T) {
	t.Parallel()
	got := []int{ShareOf(50, 0, 4), ShareOf(50, 1, 4), ShareOf(50, 2, 4), ShareOf(50, 3, 4)}
	assert.Equal(t, []int{13, 13, 12, 12}, got)
	for _, c := range []struct{ n, count int }{{0, 3}, {1, 1}, {7, 7}, {100, 7}, {5, 2}} {
		sum := 0
		for i := range c.count {
			sum += ShareOf(c.n, i, c.count)
		}
		assert.Equal(t, c.n, sum, "%d over %d", c.n, c.count)
	}
}

func TestShardInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"index past the count", []Option{WithShard(4, 4)}, "shard 4/4: the index must be from 0 to 3"},
		{"negative index", []Option{WithShard(-1, 4)}, "shard -1/4: the index must be from 0 to 3"},
		{"no shards", []Option{WithShard(1, 0)}, "shard count 0 must be >= 1"},
		{"fewer workers than shards", []Option{WithShard(0, 4), WithConcurrency(3)},
			"concurrency 3 over 4 shards leaves a shard without a worker: want a concurrency of at least 4"},
		{"a cap under the shards", []Option{WithShard(0, 4), WithRate(10), WithConcurrency(2)},
			"a cap of 2 requests in flight over 4 shards leaves a shard without a slot: want 0 (no cap) or at least 4"},
		{"fewer requests than shards", []Option{WithShard(0, 4), WithConcurrency(4), WithRequests(3)},
			"3 requests over 4 shards leaves a shard without a request: want at least 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewRunner(c.opts...)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestStartAtStartsTheClockAtTheInstant(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })
	at := time.Now().Add(1500 * time.Millisecond).Round(0).Truncate(time.Millisecond)
	res, err := Run(context.Background(), Requests{{Prompt: "x", MaxTokens: 2}},
		WithTarget(url), WithModel("m"), WithRate(100), WithRequests(3), WithStartAt(at), WithShard(1, 2))
	require.NoError(t, err)
	assert.True(t, res.Start.Equal(at), "start %v, want %v", res.Start, at)
	assert.Equal(t, at.UTC(), res.Config.StartAt)
	assert.Equal(t, 2, res.Config.Shards)
	assert.Equal(t, &Shard{Index: 1, Count: 2, Concurrency: 0, Requests: 1}, res.Shard)
	require.Len(t, res.Records, 1)
	assert.Equal(t, 1, res.Records[0].Index)
	assert.False(t, at.Add(res.Records[0].Sent).After(time.Now()), "sent before it returned")
	assert.True(t, time.Now().After(at), "returned after the start")
	// The Go test server stamps every answer with a Date.
	require.NotNil(t, res.ClockOffset)
	assert.Less(t, res.ClockOffset.Offset.Abs(), time.Second+res.ClockOffset.Uncertainty)
}

func TestStartAtWaitHonoursCancel(t *testing.T) {
	t.Parallel()
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { fullStream(w, 2) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	begin := time.Now()
	res, err := Run(ctx, Requests{{Prompt: "x"}}, WithTarget(url), WithModel("m"), WithRequests(2),
		WithStartAt(time.Now().Add(time.Hour)), WithPrewarm(false), WithShard(1, 2), WithConcurrency(2))
	require.NoError(t, err, "an interruption is a result, as during the run")
	assert.Less(t, time.Since(begin), 30*time.Minute, "it did not wait for the start")
	// Nothing was sent; the result still says what the run was.
	assert.Equal(t, StopInterrupted, res.StopReason)
	assert.Empty(t, res.Records)
	assert.Equal(t, 2, res.Config.Requests)
	assert.Equal(t, &Shard{Index: 1, Count: 2, Concurrency: 1, Requests: 1}, res.Shard)
}
