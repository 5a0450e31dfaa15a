package bencher

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// skewedServer serves GET /v1/models with a Date header from a clock that
// is offset ahead of this host's; without a Date when offset is nil.
func skewedServer(t *testing.T, offset *time.Duration) *Client {
	t.Helper()
	url := serveAll(t, func(w http.ResponseWriter, r *http.Request) {
		if offset == nil {
			w.Header()["Date"] = nil // net/http leaves the Date out
		} else {
			w.Header().Set("Date", time.Now().Add(*offset).UTC().Format(http.TimeFormat))
		}
		w.Write([]byte(`{"data":[]}`))
	})
	c, err := NewClient(WithTarget(url), WithModel("m"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestClockOffsetBisectsTheDateTick(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{3257 * time.Millisecond, -42*time.Minute - 731*time.Millisecond, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			c := skewedServer(t, &skew)
			got := c.measureClockOffset(context.Background(), time.Now().Add(4*time.Second))
			require.NotNil(t, got)
			t.Logf("offset %v ± %v (true %v), %d samples, rtt %v", got.Offset, got.Uncertainty, skew, got.Samples, got.RTT)
			assert.GreaterOrEqual(t, got.Samples, 2)
			assert.LessOrEqual(t, got.Samples, clockProbes)
			// The bounds hold the true offset whatever the machine's load;
			// a late probe only narrows them less.
			assert.LessOrEqual(t, (got.Offset - skew).Abs(), got.Uncertainty, "offset %v ± %v, true %v", got.Offset, got.Uncertainty, skew)
			// From about a second, the bisection narrows them to well under
			// one: four seconds hold at least three probes.
			assert.Less(t, got.Uncertainty, 150*time.Millisecond)
		})
	}
}

func TestClockOffsetWithoutDate(t *testing.T) {
	t.Parallel()
	c := skewedServer(t, nil)
	assert.Nil(t, c.measureClockOffset(context.Background(), time.Now().Add(2*time.Second)))
}

func TestClockOffsetOfAnUnreachableTarget(t *testing.T) {
	t.Parallel()
	c, err := NewClient(WithTarget("http://127.0.0.1:1/v1"), WithModel("m"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	assert.Nil(t, c.measureClockOffset(context.Background(), time.Now().Add(2*time.Second)))
}
