package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// MatrixRow is one run of a matrix: a profile at a size, as the
// workstation this project replaces compared them.
type MatrixRow struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Profile   string         `json:"profile"`
	Status    results.Status `json:"status"`
	Simulated bool           `json:"simulated"`
	// Requests is the number of measured requests; Load the load shape.
	Requests int    `json:"requests"`
	Load     string `json:"load"`
	// DurationS is the measured window in seconds ("total time").
	DurationS         float64 `json:"duration_s"`
	RequestThroughput float64 `json:"request_throughput"`
	OutputThroughput  float64 `json:"output_throughput"`
	// E2ELP50 and E2ELP95 are the end-to-end latency percentiles (ms).
	E2ELP50     float64 `json:"e2el_p50_ms"`
	E2ELP95     float64 `json:"e2el_p95_ms"`
	SuccessRate float64 `json:"success_rate"`
	// GPUMemoryPeakBytes is the server side's GPU memory peak, when known.
	GPUMemoryPeakBytes *float64 `json:"gpu_memory_peak_bytes,omitempty"`
}

// MatrixRows returns the matrix rows of runs, in the order given.
func MatrixRows(runs []*results.Header) []MatrixRow {
	out := make([]MatrixRow, 0, len(runs))
	for _, h := range runs {
		s := &h.Summary
		r := MatrixRow{
			ID: h.ID, Title: h.Title(), Profile: h.Profile, Status: h.Status, Simulated: h.Environment.Simulated,
			Requests: s.Requests, Load: loadShort(&h.Config.Run), DurationS: s.Window.DurationS,
			RequestThroughput: s.RequestThroughput, OutputThroughput: s.OutputThroughput,
			E2ELP50: s.E2EL.P50, E2ELP95: s.E2EL.P95, SuccessRate: s.SuccessRate,
		}
		if h.ServerSide != nil {
			r.GPUMemoryPeakBytes = h.ServerSide.GPUMemoryPeakBytes
		}
		out = append(out, r)
	}
	return out
}

// Matrix writes a comparison table across runs (profiles × sizes): total
// time, throughput, end-to-end latency p50 and p95, success rate, and the
// GPU memory peak when a run's server side has it.
func Matrix(w io.Writer, runs []*results.Header, f Format) error {
	rows := MatrixRows(runs)
	if f == FormatJSON {
		return writeJSON(w, rows)
	}
	gpu := slices.ContainsFunc(rows, func(r MatrixRow) bool { return r.GPUMemoryPeakBytes != nil })
	header := []string{"Run", "Load", "Requests", "Total time (s)", "Req/s", "Output tok/s",
		"E2EL p50 (ms)", "E2EL p95 (ms)", "Success"}
	if gpu {
		header = append(header, "GPU mem peak (GiB)")
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{runLabel(r.Title, r.Status, r.Simulated), r.Load, strconv.Itoa(r.Requests),
			f2(r.DurationS), f2(r.RequestThroughput), f2(r.OutputThroughput),
			f2(r.E2ELP50), f2(r.E2ELP95), pct(r.SuccessRate) + "%"}
		if gpu {
			cells[i] = append(cells[i], gib(r.GPUMemoryPeakBytes))
		}
	}
	return writeGrid(w, f, "Benchmark Matrix", header, cells, 2)
}

// SweepRow is one load level of a sweep.
type SweepRow struct {
	ID string `json:"id"`
	// Mode is the load mode; Level the concurrency (closed loop) or the
	// rate in req/s (open loop) asked for.
	Mode                string   `json:"mode"`
	Level               float64  `json:"level"`
	Status              string   `json:"status"`
	AchievedConcurrency float64  `json:"achieved_concurrency"`
	AchievedRate        float64  `json:"achieved_rate"`
	RequestThroughput   float64  `json:"request_throughput"`
	OutputThroughput    float64  `json:"output_throughput"`
	TTFTP50             float64  `json:"ttft_p50_ms"`
	TTFTP95             float64  `json:"ttft_p95_ms"`
	TPOTP50             float64  `json:"tpot_p50_ms"`
	ITLP95              float64  `json:"itl_p95_ms"`
	E2ELP50             float64  `json:"e2el_p50_ms"`
	E2ELP95             float64  `json:"e2el_p95_ms"`
	SuccessRate         float64  `json:"success_rate"`
	Goodput             *float64 `json:"goodput,omitempty"`
}

// SweepRows returns the rows of a sweep: closed loops by concurrency, then
// open loops by rate.
func SweepRows(runs []*results.Header) []SweepRow {
	out := make([]SweepRow, 0, len(runs))
	for _, h := range runs {
		s, cfg := &h.Summary, &h.Config.Run
		r := SweepRow{
			ID: h.ID, Mode: cfg.Mode, Level: float64(cfg.Concurrency), Status: string(h.Status),
			AchievedConcurrency: s.Concurrency.ClientMean, AchievedRate: s.RequestRate.Achieved,
			RequestThroughput: s.RequestThroughput, OutputThroughput: s.OutputThroughput,
			TTFTP50: s.TTFT.P50, TTFTP95: s.TTFT.P95, TPOTP50: s.TPOT.P50, ITLP95: s.ITL.P95,
			E2ELP50: s.E2EL.P50, E2ELP95: s.E2EL.P95, SuccessRate: s.SuccessRate,
		}
		if cfg.Mode == bencher.ModeOpenLoop {
			r.Level = cfg.Rate
		}
		if s.Goodput != nil {
			r.Goodput = &s.Goodput.RequestGoodput
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b SweepRow) int {
		return cmp.Or(cmp.Compare(a.Mode, b.Mode), cmp.Compare(a.Level, b.Level))
	})
	return out
}

// Sweep writes a throughput-versus-latency table of runs at several load
// levels (concurrency or rate), one row per level.
func Sweep(w io.Writer, runs []*results.Header, f Format) error {
	rows := SweepRows(runs)
	if f == FormatJSON {
		return writeJSON(w, rows)
	}
	goodput := slices.ContainsFunc(rows, func(r SweepRow) bool { return r.Goodput != nil })
	header := []string{"Load", "Achieved conc.", "Achieved req/s", "Req/s", "Output tok/s", "TTFT p50", "TTFT p95",
		"TPOT p50", "ITL p95", "E2EL p50", "E2EL p95", "Success"}
	if goodput {
		header = append(header, "Goodput")
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{sweepLevel(r), f2(r.AchievedConcurrency), f2(r.AchievedRate), f2(r.RequestThroughput),
			f2(r.OutputThroughput), f2(r.TTFTP50), f2(r.TTFTP95), f2(r.TPOTP50), f2(r.ITLP95),
			f2(r.E2ELP50), f2(r.E2ELP95), pct(r.SuccessRate) + "%"}
		if goodput {
			cells[i] = append(cells[i], optional(r.Goodput))
		}
	}
	return writeGrid(w, f, "Throughput vs Latency (ms)", header, cells, 1)
}

// sweepLevel names a sweep row's load level.
func sweepLevel(r SweepRow) string {
	l := ""
	if r.Mode == bencher.ModeOpenLoop {
		l = "rate " + num(r.Level) + "/s"
		if r.Level == 0 {
			l = "rate inf"
		}
	} else {
		l = "concurrency " + num(r.Level)
	}
	if r.Status != string(results.StatusCompleted) {
		l += " (" + strings.ToUpper(r.Status) + ")"
	}
	return l
}

// writeGrid writes a table with a title as a terminal table or Markdown,
// whose first left columns are text (left-aligned in Markdown).
func writeGrid(w io.Writer, f Format, title string, header []string, rows [][]string, left int) error {
	switch f {
	case FormatTable, "":
		var b textBuilder
		b.rule(" "+title+" ", '=')
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
		}
		_ = tw.Flush()
		return writeString(w, trimLines(b.String()))
	case FormatMarkdown:
		align := strings.Repeat("l", left) + strings.Repeat("r", len(header)-left)
		return writeString(w, "### "+title+"\n\n"+mdTable(header, align, rows))
	}
	return fmt.Errorf("%w %q for a table (want table, markdown or json)", ErrFormat, f)
}

// runLabel names a run in a matrix, with its marks.
func runLabel(title string, st results.Status, simulated bool) string {
	if simulated {
		title += " [SIM]"
	}
	if st != results.StatusCompleted {
		title += " [" + strings.ToUpper(string(st)) + "]"
	}
	return title
}

// loadShort describes a load shape in a few characters.
func loadShort(cfg *bencher.RunConfig) string {
	if cfg.Mode == bencher.ModeOpenLoop {
		return "rate " + requestedRate(cfg) + "/s"
	}
	return "concurrency " + requestedConcurrency(cfg)
}

// gib formats bytes in GiB, "-" when unknown.
func gib(b *float64) string {
	if b == nil {
		return "-"
	}
	return f2(*b / (1 << 30))
}

// optional formats an optional value, "-" when absent.
func optional(v *float64) string {
	if v == nil {
		return "-"
	}
	return f2(*v)
}
