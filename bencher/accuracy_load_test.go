package bencher

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// accuracyEnv turns on TestAccuracyUnderLoad, which takes about a minute
// and loads every core: it is a measurement for the README, not a check.
const accuracyEnv = "BENCHSTATION_ACCURACY"

// hogEnv makes TestHogChild a CPU hog until the deadline it holds (Unix ns).
const hogEnv = "BENCHSTATION_HOG_UNTIL"

// TestHogChild is a busy loop (bounded by its deadline) run as a child
// process, at the test's own priority, by TestAccuracyUnderLoad.
func TestHogChild(t *testing.T) {
	until, err := strconv.ParseInt(os.Getenv(hogEnv), 10, 64)
	if err != nil {
		t.Skip("a child of TestAccuracyUnderLoad")
	}
	runtime.GOMAXPROCS(1)
	for x := 0; time.Now().UnixNano() < until; x++ {
		for range 1 << 16 {
			x ^= x << 1
		}
	}
}

// startHogs starts n CPU hogs for at most d; they are killed at cleanup.
func startHogs(t *testing.T, n int, d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHogChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", hogEnv, until))
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}

// TestAccuracyUnderLoad measures the TTFT and ITL errors against a tick
// server's truth (when it wrote each token) with the user-space clock and
// with kernel receive timestamps, while a busy loop per core at the
// client's priority loads the machine, and logs them as a Markdown table
// for the README:
//
//	BENCHSTATION_ACCURACY=1 go test -count=1 -run '^TestAccuracyUnderLoad$' -v ./bencher/
//
// BENCHSTATION_ACCURACY_STREAMS (default 200) and BENCHSTATION_ACCURACY_HOGS
// (default: one per CPU) change the load.
//
// Runs alternate between the clocks so both see the same load.
func TestAccuracyUnderLoad(t *testing.T) {
	if os.Getenv(accuracyEnv) == "" {
		t.Skipf("a measurement for the README: %s=1 go test -count=1 -run '^TestAccuracyUnderLoad$' -v ./bencher/", accuracyEnv)
	}
	skipUnderRace(t)
	const (
		tokens     = 16
		first, gap = 50 * time.Millisecond, 10 * time.Millisecond
		rounds     = 3
	)
	conc := 200 // streams; BENCHSTATION_ACCURACY_STREAMS sets another number
	if s := os.Getenv(accuracyEnv + "_STREAMS"); s != "" {
		conc, _ = strconv.Atoi(s)
	}
	warmup, reqs := conc, 6*conc
	hogs := runtime.NumCPU()
	if s := os.Getenv(accuracyEnv + "_HOGS"); s != "" {
		hogs, _ = strconv.Atoi(s)
	}
	startHogs(t, hogs, 3*time.Minute) // a bound should the test be killed
	srv, url := newTickServer(t, first, gap, tokens)
	type errs struct {
		ttft, itl []time.Duration
		loads     []*ClientLoad
	}
	by := map[string]*errs{ClockUser: {}, ClockKernel: {}}
	run := 0
	for range rounds {
		for _, clock := range []string{ClockUser, ClockKernel} {
			run++
			prefix := fmt.Sprintf("r%d-", run)
			res, err := Run(context.Background(), WorkloadFunc(func(i int) Request {
				return Request{ID: fmt.Sprint(i), Prompt: fmt.Sprint(prefix, i), MaxTokens: tokens}
			}), WithTarget(url), WithModel("m"), WithConcurrency(conc), WithRequests(reqs), WithWarmup(warmup),
				WithKernelTimestamps(clock == ClockKernel))
			require.NoError(t, err)
			require.Equal(t, clock, res.ClockSource)
			prompts := make([]string, reqs)
			for i := range prompts {
				prompts[i] = fmt.Sprint(prefix, i)
			}
			truth := srv.wait(t, prompts)
			e := by[clock]
			e.loads = append(e.loads, res.Client)
			for _, rec := range res.Records {
				require.True(t, rec.OK(), rec.ErrorMessage)
				require.Len(t, rec.ChunkTimes, tokens)
				if rec.Warmup {
					continue
				}
				tt := truth[prefix+rec.ID]
				e.ttft = append(e.ttft, rec.FirstToken-tt.tokens[0].Sub(res.Start))
				for k := 1; k < tokens; k++ {
					e.itl = append(e.itl, (rec.ChunkTimes[k]-rec.ChunkTimes[k-1])-tt.tokens[k].Sub(tt.tokens[k-1]))
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d streams × %d requests (after %d of warm-up), %d tokens: first at +%v, then every %v; %d busy loops on %d CPUs; %d runs each\n\n",
		conc, reqs-warmup, warmup, tokens, first, gap, hogs, runtime.NumCPU(), rounds)
	b.WriteString("| clock | TTFT error p50 | TTFT error p99 | ITL \\|error\\| p50 | ITL \\|error\\| p99 | client_saturated (read lag p99, sched p99, CPU wait per run) |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, clock := range []string{ClockUser, ClockKernel} {
		e := by[clock]
		tp50, tp99 := signedQuantiles(e.ttft)
		ia := absErrStats(e.itl)
		var sat []string
		for _, l := range e.loads {
			sat = append(sat, fmt.Sprintf("%v (%s, %s, %s)", l.Saturated, fmtMs(l.ReadLagP99Ms), fmtMs(l.SchedLatencyP99Ms), fmtMs(l.CPUWaitPerRunMs)))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", clock, fmtDur(tp50), fmtDur(tp99), fmtDur(ia.p50), fmtDur(ia.p99), strings.Join(sat, "; "))
	}
	t.Log(b.String())
}

// signedQuantiles returns the p50 and p99 of errs (measured − true).
func signedQuantiles(errs []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(errs)
	slices.Sort(s)
	return s[(len(s)-1)/2], s[(len(s)-1)*99/100]
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%+.3f ms", float64(d)/1e6) }

func fmtMs(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", *v)
}
