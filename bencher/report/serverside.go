package report

import (
	"slices"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
)

// serverSideTitle heads the section of what Prometheus saw during the run.
const serverSideTitle = "Server side (Prometheus)"

// serverSideRows returns the label and value of each known value of the
// run's server side, from its source on; nil when the run has none.
func serverSideRows(h *results.Header) [][2]string {
	ss := h.ServerSide
	if ss == nil {
		return nil
	}
	rows := [][2]string{{"Source", ss.Source}}
	add := func(label string, v *float64, format func(float64) string) {
		if v != nil {
			rows = append(rows, [2]string{label, format(*v)})
		}
	}
	add("GPU memory peak (GiB)", ss.GPUMemoryPeakBytes, func(v float64) string { return gib(&v) })
	add("GPU energy (kJ)", ss.EnergyJoules, func(v float64) string { return f2(v / 1000) })
	if out := h.Summary.OutputTokens; out > 0 {
		add("GPU energy per output token (J)", ss.EnergyJoules, func(v float64) string { return num(v / float64(out)) })
	}
	add("GPU power mean (W)", ss.PowerWattsMean, f2)
	add("GPU utilization mean (%)", ss.GPUUtilizationMean, pct)
	add("KV-cache usage peak (%)", ss.KVCacheUsagePeak, pct)
	add("Prefix-cache hit rate (%)", ss.PrefixCacheHitRatio, pct)
	add("Preemptions", ss.Preemptions, num)
	if v, ok := ss.Extra[serverside.ExtraVLLMTTFTMean]; ok {
		rows = append(rows, [2]string{"Mean TTFT, vLLM's own (ms)", f2(v * 1000)},
			[2]string{"Mean TTFT, client from send (ms)", f2(h.Summary.ServerTTFT.Mean)})
	}
	keys := make([]string, 0, len(ss.Extra))
	for k := range ss.Extra {
		if k != serverside.ExtraVLLMTTFTMean {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		rows = append(rows, [2]string{k, num(ss.Extra[k])})
	}
	if len(rows) == 1 {
		rows = append(rows, [2]string{"Values", "none: no queried series was found"})
	}
	return rows
}

// serverSide writes the server-side section, when the run has one.
func (b *textBuilder) serverSide(h *results.Header) {
	rows := serverSideRows(h)
	if rows == nil {
		return
	}
	b.rule(serverSideTitle, '-')
	for _, r := range rows {
		b.kv(r[0]+":", r[1])
	}
}

// mdServerSide returns the server-side table, or "".
func mdServerSide(h *results.Header) string {
	rows := serverSideRows(h)
	if rows == nil {
		return ""
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r[0], r[1]}
	}
	cells[0][1] = code(cells[0][1])
	return mdTable([]string{serverSideTitle, "Value"}, "lr", cells)
}
