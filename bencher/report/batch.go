package report

import (
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher/results"
)

// batchRow is one figure of a batch-api run's job: a key (for JUnit
// properties), a label and its value.
type batchRow struct{ key, label, value string }

// batchRows returns the figures of a batch job, n/a where a poll did not
// see the moment.
func batchRows(b *results.Batch) []batchRow {
	optS := func(v *float64) string {
		if v == nil {
			return NA
		}
		return f3(*v)
	}
	timing := "no (queue time and E2EL n/a)"
	if b.PerRequestTiming {
		timing = "yes"
	}
	rows := []batchRow{
		{"id", "Batch:", b.ID},
		{"final_status", "Final status:", b.FinalStatus},
		{"upload_s", "Upload (s):", f3(b.UploadS)},
		{"to_in_progress_s", "Time to in_progress (s):", optS(b.ToInProgressS)},
		{"makespan_s", "Makespan, created to ended (s):", optS(b.MakespanS)},
		{"makespan_within_s", "Makespan resolution (s):", optS(b.MakespanWithinS)},
		{"server_span_s", "Server span, queued to done (s):", optS(b.ServerSpanS)},
		{"requests", "Completed/failed/expired/cancelled:", strings.Join([]string{strconv.Itoa(b.Completed),
			strconv.Itoa(b.Failed), strconv.Itoa(b.Expired), strconv.Itoa(b.Cancelled)}, " / ")},
		{"server_counts", "Server counts (total/completed/failed):", strings.Join([]string{
			strconv.Itoa(b.RequestCounts.Total), strconv.Itoa(b.RequestCounts.Completed),
			strconv.Itoa(b.RequestCounts.Failed)}, " / ")},
		{"per_request_timing", "Per-request timing from the server:", timing},
		{"polls", "Polls (longest interval s):", strconv.Itoa(b.Polls) + " (" + f2(b.PollIntervalS) + ")"},
	}
	if len(b.Errors) > 0 {
		rows = append(rows, batchRow{"errors", "Batch errors:", oneLine(strings.Join(b.Errors, "; "), 200)})
	}
	return rows
}

// batch writes the batch job's section of a batch-api run.
func (b *textBuilder) batch(h *results.Header) {
	if h.Batch == nil {
		return
	}
	b.rule("Batch API Job", '-')
	for _, r := range batchRows(h.Batch) {
		b.kv(r.label, r.value)
	}
}

// mdBatch returns the batch job's table of a batch-api run, or "".
func mdBatch(h *results.Header) string {
	if h.Batch == nil {
		return ""
	}
	var rows [][]string
	for _, r := range batchRows(h.Batch) {
		rows = append(rows, []string{strings.TrimSuffix(r.label, ":"), mdCell(r.value)})
	}
	return mdTable([]string{"Batch API job", "Value"}, "lr", rows)
}

// f3 formats seconds with 3 decimals: the batch's times are often below
// 10 ms against a local server.
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
