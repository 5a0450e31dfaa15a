package live

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the progress bar.
const (
	// DefaultRedraw is the time between two redraws (ten a second).
	DefaultRedraw = 100 * time.Millisecond
	// DefaultRateWindow is the window of the rolling rates.
	DefaultRateWindow = 5 * time.Second
	// barWidth is the width of the bar itself, in characters.
	barWidth = 20
)

// BarOptions configures a progress Bar.
type BarOptions struct {
	// Total is the number of requests of the run (0: bounded by Duration).
	Total int
	// Duration is the run's time limit (0: none).
	Duration time.Duration
	// Label is written before the bar (such as "c=8" in a sweep).
	Label string
	// Redraw is the time between redraws (default DefaultRedraw); Window the
	// window of the rolling rates (default DefaultRateWindow).
	Redraw, Window time.Duration
}

// Bar draws one progress line of a run on a terminal, redrawn in place from
// a ticker; it never draws per request.
type Bar struct {
	w    io.Writer
	run  *Run
	opts BarOptions
	ring []sample // the snapshots of the rate window, oldest first
}

// sample is a point of the rolling rates.
type sample struct {
	at             time.Duration
	done, outputTk int64
}

// NewBar returns a bar that draws run's progress on w.
func NewBar(w io.Writer, run *Run, opts BarOptions) *Bar {
	if opts.Redraw <= 0 {
		opts.Redraw = DefaultRedraw
	}
	if opts.Window <= 0 {
		opts.Window = DefaultRateWindow
	}
	return &Bar{w: w, run: run, opts: opts}
}

// Run redraws the line until ctx is cancelled, then erases it, so that what
// is printed next starts on a clean line. When the bar's writer is a
// Terminal, lines written to that Terminal meanwhile erase the bar first.
func (b *Bar) Run(ctx context.Context) {
	t := time.NewTicker(b.opts.Redraw)
	defer t.Stop()
	term, ok := b.w.(*Terminal)
	if !ok {
		term = NewTerminal(b.w)
	}
	for {
		select {
		case <-ctx.Done():
			term.clear()
			return
		case <-t.C:
			term.draw(b.Line(b.run.Snapshot()))
		}
	}
}

// Line returns the progress line of a snapshot and records it for the
// rolling rates (so successive calls should pass successive snapshots).
func (b *Bar) Line(s Snapshot) string {
	reqRate, tokRate := b.rates(s)
	var sb strings.Builder
	if b.opts.Label != "" {
		sb.WriteString(b.opts.Label + " ")
	}
	if s.Batch != nil || (b.run != nil && b.run.IsBatch()) {
		b.batchLine(&sb, s, reqRate)
		return sb.String()
	}
	done := s.OK + s.Failed
	switch {
	case b.opts.Total > 0:
		frac := float64(done) / float64(b.opts.Total)
		fmt.Fprintf(&sb, "%s %d/%d %3d%%", bar(frac), done, b.opts.Total, int(100*min(frac, 1)))
	case b.opts.Duration > 0:
		frac := float64(s.Elapsed) / float64(b.opts.Duration)
		fmt.Fprintf(&sb, "%s %s/%s %d done", bar(frac), clock(s.Elapsed), clock(b.opts.Duration), done)
	default:
		fmt.Fprintf(&sb, "%d done", done)
	}
	fmt.Fprintf(&sb, "  in flight %d  errors %d  %s req/s  %s tok/s", s.Progress.InFlight, s.Failed, human(reqRate), human(tokRate))
	if s.HasTTFT {
		sb.WriteString("  TTFT p50 " + latency(s.TTFTP50))
	}
	if b.opts.Total > 0 {
		sb.WriteString("  " + clock(s.Elapsed))
	}
	return sb.String()
}

// batchLine writes the line of a batch run: the server's counts at the
// latest poll, against the batch's total (or, until the server counted
// them, the requests submitted), and the batch's status. A batch reports
// no tokens, nothing in flight and no TTFT until it ends: they are left
// out.
func (b *Bar) batchLine(sb *strings.Builder, s Snapshot, reqRate float64) {
	if s.Batch == nil {
		fmt.Fprintf(sb, "batch submitting  %s", clock(s.Elapsed))
		return
	}
	done, total := s.Batch.Done(), s.Batch.Total
	if total <= 0 {
		total = int64(b.opts.Total)
	}
	if total > 0 {
		frac := float64(done) / float64(total)
		fmt.Fprintf(sb, "%s %d/%d %3d%%  ", bar(frac), done, total, int(100*min(frac, 1)))
	} else {
		fmt.Fprintf(sb, "%d done  ", done)
	}
	fmt.Fprintf(sb, "batch %s  failed %d  %s req/s  %s", batchStatusText(s.Batch.Status), s.Batch.Failed, human(reqRate),
		clock(s.Elapsed))
}

// batchStatusText returns a batch status for a terminal: a known one as
// it is, any other quoted (so that no control character reaches the
// terminal) and cut to a readable length.
func batchStatusText(status string) string {
	if slices.Contains(batchStatuses, status) {
		return status
	}
	const max = 32
	if r := []rune(status); len(r) > max {
		status = string(r[:max]) + "…"
	}
	return strconv.Quote(status)
}

// rates adds s to the window and returns the requests and output tokens
// per second over it.
func (b *Bar) rates(s Snapshot) (float64, float64) {
	cur := sample{at: s.Elapsed, done: s.OK + s.Failed, outputTk: s.OutputTokens}
	b.ring = append(b.ring, cur)
	cut := 0
	for cut < len(b.ring)-1 && cur.at-b.ring[cut].at > b.opts.Window {
		cut++
	}
	b.ring = b.ring[cut:]
	first := b.ring[0]
	if len(b.ring) == 1 {
		first = sample{} // the run's start
	}
	dt := (cur.at - first.at).Seconds()
	if dt <= 0 {
		return 0, 0
	}
	return float64(cur.done-first.done) / dt, float64(cur.outputTk-first.outputTk) / dt
}

// bar draws a fraction (0–1) as "[=====>    ]".
func bar(frac float64) string {
	n := int(min(max(frac, 0), 1) * barWidth)
	if n >= barWidth {
		return "[" + strings.Repeat("=", barWidth) + "]"
	}
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", barWidth-n-1) + "]"
}

// clock formats a duration as m:ss (or h:mm:ss).
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// human formats a rate with one decimal and a k or M suffix.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.1f", v)
}

// latency formats a latency with three significant digits or so.
func latency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
