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
// workstation this project replaces compared them. A value the run has no
// samples for is absent (null in JSON, n/a in tables), never 0.
type MatrixRow struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Profile   string         `json:"profile"`
	Status    results.Status `json:"status"`
	Simulated bool           `json:"simulated"`
	// Size is the run's size asked for (requests, warm-up included);
	// Requests the number of measured requests; Load the load shape.
	Size     int    `json:"size"`
	Requests int    `json:"requests"`
	Load     string `json:"load"`
	// DurationS is the measured window in seconds ("total time").
	DurationS         *float64 `json:"duration_s"`
	RequestThroughput *float64 `json:"request_throughput"`
	OutputThroughput  *float64 `json:"output_throughput"`
	// TTFTP50 and TTFTP95, E2ELP50 and E2ELP95 are latency percentiles (ms).
	TTFTP50     *float64 `json:"ttft_p50_ms"`
	TTFTP95     *float64 `json:"ttft_p95_ms"`
	E2ELP50     *float64 `json:"e2el_p50_ms"`
	E2ELP95     *float64 `json:"e2el_p95_ms"`
	SuccessRate *float64 `json:"success_rate"`
	// Failed counts the failed measured requests; Retries the attempts
	// beyond each request's first.
	Failed  int `json:"failed"`
	Retries int `json:"retries"`
	// NotSent counts the requests never sent (the run stopped first); they
	// are outside the success rate.
	NotSent int `json:"not_sent"`
	// GPUMemoryPeakBytes is the server side's GPU memory peak, when known.
	GPUMemoryPeakBytes *float64 `json:"gpu_memory_peak_bytes,omitempty"`
	// ToInProgressS and MakespanS are a batch-api run's time from the
	// batch's creation to a poll seeing it in_progress, and to a poll
	// seeing it end (its DurationS); omitted for the online modes.
	ToInProgressS *float64 `json:"to_in_progress_s,omitempty"`
	MakespanS     *float64 `json:"makespan_s,omitempty"`
	// Ratio compares the run with the first run of its size (the row it is
	// paired with), when it is not that run.
	Ratio *MatrixRatio `json:"ratio,omitempty"`
}

// MatrixRatio is a matrix run's values divided by those of the first run
// of the same size: 2 means twice as much. A ratio whose parts are absent
// (or whose base is 0) is absent.
type MatrixRatio struct {
	To                string   `json:"to"`
	DurationS         *float64 `json:"duration_s"`
	RequestThroughput *float64 `json:"request_throughput"`
	OutputThroughput  *float64 `json:"output_throughput"`
	TTFTP50           *float64 `json:"ttft_p50_ms"`
	TTFTP95           *float64 `json:"ttft_p95_ms"`
	E2ELP50           *float64 `json:"e2el_p50_ms"`
	E2ELP95           *float64 `json:"e2el_p95_ms"`
}

// MatrixRows returns the matrix rows of runs, paired by size: the runs of
// the smallest size first, each size's runs in the order given (profiles
// in the order they ran), each after the first of its size with its ratio
// to that one.
func MatrixRows(runs []*results.Header) []MatrixRow {
	out := make([]MatrixRow, 0, len(runs))
	for _, h := range runs {
		s := &h.Summary
		r := MatrixRow{
			ID: h.ID, Title: h.Title(), Profile: h.Profile, Status: h.Status, Simulated: h.Environment.Simulated,
			Size: h.Config.Run.Requests, Requests: s.Requests, Load: loadShort(&h.Config.Run),
			RequestThroughput: optValue(s, "request_throughput"), OutputThroughput: optValue(s, "output_throughput"),
			TTFTP50: optValue(s, "ttft_p50"), TTFTP95: optValue(s, "ttft_p95"),
			E2ELP50: optValue(s, "e2el_p50"), E2ELP95: optValue(s, "e2el_p95"),
			SuccessRate: optValue(s, "success_rate"), Failed: s.Failed, Retries: s.Retries, NotSent: s.NotSent,
		}
		if s.Measured() {
			d := s.Window.DurationS
			r.DurationS = &d
		}
		if h.ServerSide != nil {
			r.GPUMemoryPeakBytes = h.ServerSide.GPUMemoryPeakBytes
		}
		if b := h.Batch; b != nil {
			r.ToInProgressS, r.MakespanS = b.ToInProgressS, b.MakespanS
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b MatrixRow) int { return cmp.Compare(a.Size, b.Size) })
	for i := range out {
		if i > 0 && out[i].Size == out[i-1].Size {
			first := i - 1
			for first > 0 && out[first-1].Size == out[i].Size {
				first--
			}
			out[i].Ratio = matrixRatio(&out[first], &out[i])
		}
	}
	return out
}

// matrixRatio returns r's values over base's.
func matrixRatio(base, r *MatrixRow) *MatrixRatio {
	div := func(n, d *float64) *float64 {
		if n == nil || d == nil || *d == 0 {
			return nil
		}
		v := *n / *d
		return &v
	}
	return &MatrixRatio{
		To: base.ID, DurationS: div(r.DurationS, base.DurationS),
		RequestThroughput: div(r.RequestThroughput, base.RequestThroughput),
		OutputThroughput:  div(r.OutputThroughput, base.OutputThroughput),
		TTFTP50:           div(r.TTFTP50, base.TTFTP50), TTFTP95: div(r.TTFTP95, base.TTFTP95),
		E2ELP50: div(r.E2ELP50, base.E2ELP50), E2ELP95: div(r.E2ELP95, base.E2ELP95),
	}
}

// Matrix writes a comparison table across runs (profiles × sizes), paired
// by size: total time, throughput, TTFT and end-to-end latency p50 and
// p95, success rate, failed requests and retries, and the GPU memory peak
// when a run's server side has it; under each run after the first of its
// size, its ratio to that first run (×).
func Matrix(w io.Writer, runs []*results.Header, f Format) error {
	rows := MatrixRows(runs)
	if f == FormatJSON {
		return writeJSON(w, rows)
	}
	gpu := slices.ContainsFunc(rows, func(r MatrixRow) bool { return r.GPUMemoryPeakBytes != nil })
	header := []string{"Run", "Load", "Requests", "Total time (s)", "Req/s", "Output tok/s",
		"TTFT p50 (ms)", "TTFT p95 (ms)", "E2EL p50 (ms)", "E2EL p95 (ms)", "Success", "Failed", "Retries"}
	if gpu {
		header = append(header, "GPU mem peak (GiB)")
	}
	var cells [][]string
	for _, r := range rows {
		requests := strconv.Itoa(r.Requests)
		if r.NotSent > 0 {
			requests += " (" + strconv.Itoa(r.NotSent) + " not sent)"
		}
		row := []string{runLabel(r.Title, r.Status, r.Simulated), r.Load, requests,
			opt(r.DurationS), opt(r.RequestThroughput), opt(r.OutputThroughput),
			opt(r.TTFTP50), opt(r.TTFTP95), opt(r.E2ELP50), opt(r.E2ELP95), optPct(r.SuccessRate),
			strconv.Itoa(r.Failed), strconv.Itoa(r.Retries)}
		if gpu {
			row = append(row, gib(r.GPUMemoryPeakBytes))
		}
		cells = append(cells, row)
		if q := r.Ratio; q != nil {
			ratio := []string{"  ratio to " + firstOfSize(rows, r.Size), "", "",
				times(q.DurationS), times(q.RequestThroughput), times(q.OutputThroughput),
				times(q.TTFTP50), times(q.TTFTP95), times(q.E2ELP50), times(q.E2ELP95), "", "", ""}
			if gpu {
				ratio = append(ratio, "")
			}
			cells = append(cells, ratio)
		}
	}
	return writeGrid(w, f, "Benchmark Matrix", header, cells, 2)
}

// firstOfSize names the first run of a size, which the others are
// compared with.
func firstOfSize(rows []MatrixRow, size int) string {
	for _, r := range rows {
		if r.Size == size {
			if r.Profile != "" {
				return r.Profile
			}
			return r.Title
		}
	}
	return ""
}

// opt formats an optional value, NA when absent.
func opt(v *float64) string {
	if v == nil {
		return NA
	}
	return f2(*v)
}

// optPct formats an optional ratio as a percentage, NA when absent.
func optPct(v *float64) string {
	if v == nil {
		return NA
	}
	return pct(*v) + "%"
}

// times formats a ratio as "2.31x", NA when absent.
func times(v *float64) string {
	if v == nil {
		return NA
	}
	return f2(*v) + "x"
}

// SweepRow is one load level of a sweep.
type SweepRow struct {
	ID string `json:"id"`
	// Mode is the load mode; Level the concurrency (closed loop) or the
	// rate in req/s (open loop) asked for.
	Mode   string  `json:"mode"`
	Level  float64 `json:"level"`
	Status string  `json:"status"`
	// A value without samples is absent (null), never 0. AchievedRate is
	// the arrival rate: the rate requests were scheduled at, not the
	// throughput.
	AchievedConcurrency *float64 `json:"achieved_concurrency"`
	AchievedRate        *float64 `json:"achieved_rate"`
	RequestThroughput   *float64 `json:"request_throughput"`
	OutputThroughput    *float64 `json:"output_throughput"`
	TTFTP50             *float64 `json:"ttft_p50_ms"`
	TTFTP95             *float64 `json:"ttft_p95_ms"`
	TPOTP50             *float64 `json:"tpot_p50_ms"`
	ITLP95              *float64 `json:"itl_p95_ms"`
	E2ELP50             *float64 `json:"e2el_p50_ms"`
	E2ELP95             *float64 `json:"e2el_p95_ms"`
	SuccessRate         *float64 `json:"success_rate"`
	Failed              int      `json:"failed"`
	Retries             int      `json:"retries"`
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
			AchievedConcurrency: optValue(s, "concurrency"), AchievedRate: optValue(s, "request_rate"),
			RequestThroughput: optValue(s, "request_throughput"), OutputThroughput: optValue(s, "output_throughput"),
			TTFTP50: optValue(s, "ttft_p50"), TTFTP95: optValue(s, "ttft_p95"), TPOTP50: optValue(s, "tpot_p50"),
			ITLP95: optValue(s, "itl_p95"), E2ELP50: optValue(s, "e2el_p50"), E2ELP95: optValue(s, "e2el_p95"),
			SuccessRate: optValue(s, "success_rate"), Failed: s.Failed, Retries: s.Retries,
		}
		if cfg.Mode == bencher.ModeOpenLoop {
			r.Level = cfg.Rate
		}
		if s.Goodput != nil {
			r.Goodput = optValue(s, "goodput")
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
	header := []string{"Load", "Achieved conc.", "Arrival req/s", "Req/s", "Output tok/s", "TTFT p50", "TTFT p95",
		"TPOT p50", "ITL p95", "E2EL p50", "E2EL p95", "Success", "Failed", "Retries"}
	if goodput {
		header = append(header, "Goodput")
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{sweepLevel(r), opt(r.AchievedConcurrency), opt(r.AchievedRate), opt(r.RequestThroughput),
			opt(r.OutputThroughput), opt(r.TTFTP50), opt(r.TTFTP95), opt(r.TPOTP50), opt(r.ITLP95),
			opt(r.E2ELP50), opt(r.E2ELP95), optPct(r.SuccessRate), strconv.Itoa(r.Failed), strconv.Itoa(r.Retries)}
		if goodput {
			cells[i] = append(cells[i], opt(r.Goodput))
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
	switch cfg.Mode {
	case bencher.ModeBatchAPI:
		return "batch job"
	case bencher.ModeOpenLoop:
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
