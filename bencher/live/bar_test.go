package live

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/internal/testkit"
)

func TestBarLine(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{}, nil)
	tests := []struct {
		name string
		opts BarOptions
		snap Snapshot
		want string
	}{
		{name: "requests", opts: BarOptions{Total: 200},
			snap: Snapshot{Elapsed: 2 * time.Second, OK: 98, Failed: 2, OutputTokens: 25000, Progress: bencher.Progress{InFlight: 8},
				TTFTP50: 12345 * time.Microsecond, HasTTFT: true},
			want: "[==========>         ] 100/200  50%  in flight 8  errors 2  50.0 req/s  12.5k tok/s  TTFT p50 12.3ms  0:02"},
		{name: "duration", opts: BarOptions{Duration: time.Minute, Label: "c=8"},
			snap: Snapshot{Elapsed: 15 * time.Second, OK: 30},
			want: "c=8 [=====>              ] 0:15/1:00 30 done  in flight 0  errors 0  2.0 req/s  0.0 tok/s"},
		{name: "done", opts: BarOptions{Total: 10},
			snap: Snapshot{Elapsed: time.Second, OK: 10, TTFTP50: 1500 * time.Millisecond, HasTTFT: true},
			want: "[====================] 10/10 100%  in flight 0  errors 0  10.0 req/s  0.0 tok/s  TTFT p50 1.50s  0:01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, NewBar(nil, r, tt.opts).Line(tt.snap))
		})
	}
}

func TestBarRollingRates(t *testing.T) {
	t.Parallel()
	b := NewBar(nil, NewRun(RunInfo{}, nil), BarOptions{Total: 1000, Window: 2 * time.Second})
	// 100 req/s for 5 s, then 10 req/s: the rolling rate follows within
	// the window, where the run's mean would lag.
	var line string
	done := int64(0)
	for i := 1; i <= 80; i++ {
		rate := int64(10)
		if i > 50 {
			rate = 1
		}
		done += rate
		line = b.Line(Snapshot{Elapsed: time.Duration(i) * 100 * time.Millisecond, OK: done})
		if i == 50 {
			assert.Contains(t, line, " 100.0 req/s")
		}
	}
	assert.Contains(t, line, " 10.0 req/s")
}

type syncBuffer = testkit.Buffer

func TestBarRunRedrawsAndErases(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{}, nil)
	r.Start(&fakeProgress{p: bencher.Progress{InFlight: 1}})
	var out syncBuffer
	b := NewBar(&out, r, BarOptions{Total: 5, Redraw: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\r[") >= 3 }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	s := out.String()
	assert.True(t, strings.HasSuffix(s, "\r\x1b[K"), "the line is erased at the end: %q", s[max(len(s)-40, 0):])
	assert.NotContains(t, s, "\n", "one line, redrawn in place")
}

// A line written while the bar is drawn (a warning, a log line) starts on a
// line of its own: the bar's line is erased first, and the bar is drawn
// again after it.
func TestTerminalKeepsLinesOutOfTheBar(t *testing.T) {
	t.Parallel()
	r := NewRun(RunInfo{}, nil)
	r.Start(&fakeProgress{p: bencher.Progress{InFlight: 1}})
	var out syncBuffer
	term := NewTerminal(&out)
	b := NewBar(term, r, BarOptions{Total: 5, Redraw: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	const warning = "bencher: warning: the client is saturated\n"
	for range 20 {
		n := strings.Count(out.String(), "\r[")
		require.Eventually(t, func() bool { return strings.Count(out.String(), "\r[") > n }, 5*time.Second, time.Millisecond)
		_, err := term.Write([]byte(warning))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return strings.HasSuffix(out.String(), "\x1b[K") && !strings.HasSuffix(out.String(), warning)
	}, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	s := out.String()
	assert.Equal(t, 20, strings.Count(s, "\r\x1b[K"+warning), "each warning starts on an erased line: %q", s)
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\x1b[K"), "\n") {
		if strings.Contains(line, "warning") {
			assert.Equal(t, "\r\x1b[K"+strings.TrimSuffix(warning, "\n"), line[strings.LastIndex(line, "\r\x1b[K"):], "nothing of the bar is left on a warning's line")
		}
	}
	assert.True(t, strings.HasSuffix(s, "\r\x1b[K"), "the bar is erased at the end")
}
