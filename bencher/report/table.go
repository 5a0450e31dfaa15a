package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/stats"
)

// width is the width of the terminal table's rules, as in vLLM's.
const width = 50

// textBuilder builds the terminal table.
type textBuilder struct{ strings.Builder }

// rule writes s centred in a line of c, as Python's '{s:{c}^{n}}'.
func (b *textBuilder) rule(s string, c rune) {
	pad := max(width-len([]rune(s)), 0)
	b.WriteString(strings.Repeat(string(c), pad/2) + s + strings.Repeat(string(c), pad-pad/2) + "\n")
}

// kv writes a label and a value, as Python's '{:<40} {:<10}' (without the
// trailing spaces).
func (b *textBuilder) kv(label, value string) {
	b.WriteString(strings.TrimRight(fmt.Sprintf("%-40s %s", label, value), " ") + "\n")
}

// tableReport returns the terminal table of a run.
func tableReport(h *results.Header) string {
	var b textBuilder
	s := &h.Summary
	b.rule(" Serving Benchmark Result ", '=')
	for _, line := range banners(h) {
		b.WriteString(line + "\n")
	}
	b.kv("Run:", h.ID)
	if t := title(h); t != "" {
		b.kv("Name:", t)
	}
	b.kv("Target:", target(h))
	b.kv("Model:", h.Environment.Model)
	b.kv("Status:", status(h))
	b.kv("Successful requests:", strconv.Itoa(s.Succeeded))
	b.kv("Failed requests:", strconv.Itoa(s.Failed))
	if s.NotSent > 0 {
		b.kv("Not sent (outside the success rate):", strconv.Itoa(s.NotSent))
	}
	b.kv("Success rate (%):", valueOf(s, "success_rate", pct))
	b.kv("Benchmark duration (s):", measured(s, f2(s.Window.DurationS)))
	b.kv("Total input tokens:", strconv.Itoa(s.InputTokens))
	b.kv("Total generated tokens:", strconv.Itoa(s.OutputTokens))
	b.kv("Request throughput (req/s):", valueOf(s, "request_throughput", f2))
	if s.Goodput != nil {
		b.kv("Request goodput (req/s):", valueOf(s, "goodput", f2))
	}
	b.kv("Output token throughput (tok/s):", valueOf(s, "output_throughput", f2))
	b.kv("Total Token throughput (tok/s):", valueOf(s, "total_token_throughput", f2))
	for _, m := range latencySections(h) {
		b.latency(m, m.get(s))
	}
	b.load(h)
	b.batch(h)
	b.serverSide(h)
	b.goodput(s)
	b.errors(h)
	b.gates(h)
	b.WriteString(strings.Repeat("=", width) + "\n")
	return b.String()
}

// latency writes one latency section, as vLLM's process_one_metric.
func (b *textBuilder) latency(m section, d stats.Distribution) {
	b.rule(m.header, '-')
	b.kv("Mean "+m.short+" (ms):", distStat(d, d.Mean))
	b.kv("Median "+m.short+" (ms):", distStat(d, d.P50))
	b.kv("P90 "+m.short+" (ms):", distStat(d, d.P90))
	b.kv("P95 "+m.short+" (ms):", distStat(d, d.P95))
	b.kv("P99 "+m.short+" (ms):", distStat(d, d.P99))
}

// load writes the requested and achieved concurrency and rate.
func (b *textBuilder) load(h *results.Header) {
	s, cfg := &h.Summary, &h.Config.Run
	b.rule("Concurrency and Request Rate", '-')
	b.kv("Load mode:", loadMode(cfg))
	b.kv("Requested concurrency:", requestedConcurrency(cfg))
	b.kv("Achieved concurrency (mean):", valueOf(s, "concurrency", f2))
	b.kv("Achieved concurrency (max):", valueOf(s, "max_concurrency", itoa))
	b.kv("Requested rate (req/s):", requestedRate(cfg))
	// The rate requests were scheduled at (arrivals), not the throughput.
	b.kv("Arrival rate, scheduled (req/s):", valueOf(s, "request_rate", f2))
	if h.SchedulerLateness != nil {
		b.kv("Scheduler lateness p99 (ms):", f2(float64(h.SchedulerLateness.P99)/1e6))
	}
	if h.ClockSource != "" {
		b.kv("Stream clock:", h.ClockSource)
	}
	if h.Client != nil {
		b.kv("Client saturated:", strconv.FormatBool(h.Client.Saturated))
	}
	b.shards(h)
}

// shards writes which part of a sharded run a shard's document holds, or
// which shards a merged document joined.
func (b *textBuilder) shards(h *results.Header) {
	if sh := h.Shard; sh != nil {
		load := fmt.Sprintf("concurrency %d", sh.Concurrency)
		if h.Config.Run.Mode == bencher.ModeOpenLoop {
			load = fmt.Sprintf("1/%d of the arrivals", sh.Count)
			if sh.Concurrency > 0 {
				load += fmt.Sprintf(", at most %d in flight", sh.Concurrency)
			}
		}
		b.kv("Shard:", fmt.Sprintf("%d/%d of run %s: %d requests, %s", sh.Index, sh.Count, sh.RunID, sh.Requests, load))
	}
	m := h.Merged
	if m == nil {
		return
	}
	b.kv("Shards (merged):", fmt.Sprintf("%d, on %s", m.Count, h.Environment.Host))
	if m.ClockSpread != nil {
		b.kv("Shard clock spread (ms):", f2(float64(*m.ClockSpread)/1e6)+" ± "+f2(float64(*m.ClockSpreadUncertainty)/1e6))
	}
}

// goodput writes the goodput section, when there were SLOs.
func (b *textBuilder) goodput(s *stats.Summary) {
	g := s.Goodput
	if g == nil {
		return
	}
	b.rule("Goodput", '-')
	b.kv("SLOs:", strings.Join(g.SLOs, ", "))
	b.kv("Good requests:", strconv.Itoa(g.GoodRequests))
	b.kv("SLO attainment (%):", valueOf(s, "slo_attainment", pct))
	b.kv("Request goodput (req/s):", valueOf(s, "goodput", f2))
}

// errors writes the errors by class with an example message each.
func (b *textBuilder) errors(h *results.Header) {
	if len(h.Errors) == 0 {
		return
	}
	b.rule("Errors", '-')
	for _, e := range h.Errors {
		label := string(e.Class) + ":"
		if e.Class == bencher.ErrHTTPStatus {
			label = "http_status (" + statusCounts(h.Summary.HTTPStatusCounts) + "):"
		}
		b.kv(label, strconv.Itoa(e.Count))
		for _, ex := range e.Examples {
			b.WriteString("  e.g. " + oneLine(ex, 72) + "\n")
		}
	}
}

// gates writes the gate outcomes.
func (b *textBuilder) gates(h *results.Header) {
	if len(h.Gates) == 0 {
		return
	}
	b.rule("Gates", '-')
	for _, o := range h.Gates {
		b.WriteString(o.String() + "\n")
	}
}

// measured returns text, or NA when the summary measured no request.
func measured(s *stats.Summary, text string) string {
	if !s.Measured() {
		return NA
	}
	return text
}

// section names a latency metric in the terminal table.
type section struct {
	header, short, long string
	get                 func(*stats.Summary) stats.Distribution
}

// latencySections lists the latency sections: vLLM's four, then the
// client's queueing delay, which for a batch-api run is the server's queue
// time of each request.
func latencySections(h *results.Header) []section {
	if h.BatchMode() {
		s := latencySections(&results.Header{})
		s[4] = section{"Server Queue Time (batch)", "queue time", "Server queue time (batch)",
			func(s *stats.Summary) stats.Distribution { return s.QueueDelay }}
		return s
	}
	return []section{
		{"Time to First Token", "TTFT", "TTFT", func(s *stats.Summary) stats.Distribution { return s.TTFT }},
		{"Time per Output Token (excl. 1st token)", "TPOT", "TPOT", func(s *stats.Summary) stats.Distribution { return s.TPOT }},
		{"Inter-token Latency", "ITL", "ITL", func(s *stats.Summary) stats.Distribution { return s.ITL }},
		{"End-to-end Latency", "E2EL", "E2EL", func(s *stats.Summary) stats.Distribution { return s.E2EL }},
		{"Client Queue Delay", "queue delay", "Client queue delay", func(s *stats.Summary) stats.Distribution { return s.QueueDelay }},
	}
}

// banners returns the warning lines of a run that was simulated or did not
// complete.
func banners(h *results.Header) []string {
	var out []string
	if h.Environment.Simulated {
		out = append(out, "*** SIMULATED: the target was the built-in simulator, not a real server ***")
	}
	switch h.Status {
	case results.StatusInterrupted:
		out = append(out, fmt.Sprintf("*** INTERRUPTED: partial results, %d of %d requests finished ***",
			finished(h), h.Config.Run.Requests))
	case results.StatusFailed:
		out = append(out, "*** FAILED: "+oneLine(h.Error, 120)+" ***")
	}
	if h.ClientSaturated() {
		out = append(out, "*** CLIENT SATURATED: "+saturation(h)+" ***")
	}
	return out
}

// saturation says why the client was saturated, with the figures.
func saturation(h *results.Header) string {
	c := h.Client
	var figs []string
	add := func(name string, v *float64, unit string) {
		switch {
		case v == nil:
		case *v > 0 && *v < 0.005:
			// Measured, but below the two decimals shown: not "0.00".
			figs = append(figs, name+" <0.01"+unit)
		default:
			figs = append(figs, name+" "+strconv.FormatFloat(*v, 'f', 2, 64)+unit)
		}
	}
	add("read lag p99", c.ReadLagP99Ms, " ms")
	add("scheduler latency p99", c.SchedLatencyP99Ms, " ms")
	add("pacer lateness p99", c.PacerLatenessP99Ms, " ms")
	add("CPU wait per run", c.CPUWaitPerRunMs, " ms")
	add("CPU wait", c.CPUWait, "")
	add("CPU use", c.CPUUtilisation, "")
	detail := strings.Join(c.Reasons, ", ")
	if len(figs) > 0 {
		// A merged run keeps its shards' figures apart: it has reasons only.
		detail += "; " + strings.Join(figs, ", ")
	}
	return "the client was the bottleneck (" + detail + "): its own delays are in these latencies"
}

// finished returns the number of measured requests that were not canceled.
func finished(h *results.Header) int {
	return h.Summary.Requests - h.Summary.ErrorsByClass[bencher.ErrCanceled]
}

// title returns the run's name and profile, or "".
func title(h *results.Header) string {
	switch {
	case h.Name != "" && h.Profile != "":
		return h.Name + " (profile " + h.Profile + ")"
	case h.Name != "":
		return h.Name
	case h.Profile != "":
		return "profile " + h.Profile
	}
	return ""
}

// target returns the target, marked when simulated.
func target(h *results.Header) string {
	if h.Environment.Simulated {
		return h.Environment.Target + " (SIMULATED)"
	}
	return h.Environment.Target
}

// status returns the status, with the stop reason when it says more.
func status(h *results.Header) string {
	st := string(h.Status)
	if r := h.StopReason; r != "" && string(r) != st && r != bencher.StopInterrupted {
		st += " (" + string(r) + ")"
	}
	if h.Status == results.StatusCompleted || h.Error == "" {
		return st
	}
	return st + ": " + oneLine(h.Error, 80)
}

// loadMode describes the load shape.
func loadMode(cfg *bencher.RunConfig) string {
	switch {
	case cfg.Mode == bencher.ModeBatchAPI:
		return "one Batch API job"
	case cfg.Mode != bencher.ModeOpenLoop:
		return "closed loop"
	case cfg.Burstiness == 0 || cfg.Burstiness == 1:
		return "open loop (Poisson)"
	}
	return "open loop (gamma, burstiness " + strconv.FormatFloat(cfg.Burstiness, 'g', -1, 64) + ")"
}

// requestedConcurrency returns the concurrency asked for.
func requestedConcurrency(cfg *bencher.RunConfig) string {
	switch {
	case cfg.Mode == bencher.ModeBatchAPI:
		return NA // the server decides
	case cfg.Concurrency == 0:
		return "unlimited"
	}
	return strconv.Itoa(cfg.Concurrency)
}

// requestedRate returns the rate asked for.
func requestedRate(cfg *bencher.RunConfig) string {
	if cfg.Mode == bencher.ModeBatchAPI {
		return NA // submitted at once
	}
	if cfg.Mode != bencher.ModeOpenLoop || cfg.Rate == 0 {
		return "inf"
	}
	return f2(cfg.Rate)
}

// statusCounts returns "503: 2, 500: 1" from HTTP status counts, by status.
func statusCounts(m map[int]int) string {
	var parts []string
	for code := 100; code < 600; code++ {
		if n, ok := m[code]; ok {
			parts = append(parts, strconv.Itoa(code)+": "+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, ", ")
}
