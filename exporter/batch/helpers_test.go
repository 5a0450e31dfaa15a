package batch_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit"
)

// t0 is the fake clock's start, 2026-01-01T00:00:00Z.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testKey is the API key of the fake servers; no test output may hold it.
const testKey = "sk-test-9f8e7d6c5b4a-SECRET-KEY"

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type logBuffer = testkit.Buffer

// newPoller builds a poller of url with the test key, the clock and cfg's
// other settings.
func newPoller(t *testing.T, url string, clock *fakeClock, cfg batch.Config, logger *slog.Logger) *batch.Poller {
	t.Helper()
	ep, err := batch.NewEndpoint("test", url, secret.New(testKey))
	require.NoError(t, err)
	if clock != nil {
		cfg.Clock = clock.Now
	}
	p, err := batch.NewPoller(ep, cfg, logger)
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	return p
}

// ts is t0 plus d, as a batch timestamp.
func ts(d time.Duration) int64 { return t0.Add(d).Unix() }
