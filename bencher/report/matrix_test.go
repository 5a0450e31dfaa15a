package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
)

func TestMatrixGolden(t *testing.T) {
	t.Parallel()
	var runs []*results.Header
	for _, p := range []struct {
		profile string
		conc    int
	}{{"high-parallelism", 50}, {"inngest", 10}} {
		for i, size := range []int{10, 100} {
			doc := fixtureDoc(t, fmt.Sprintf("20261127T1015%02dZ-%06d", i, size), size, p.conc, 1+float64(p.conc)/100)
			doc.Name, doc.Profile = "", p.profile
			if p.profile == "inngest" {
				doc.Config.Run.Retries = 3
			}
			if size == 100 {
				gpu := 70.5 * (1 << 30)
				doc.ServerSide = &results.ServerSide{GPUMemoryPeakBytes: &gpu}
			}
			runs = append(runs, &doc.Header)
		}
	}
	runs[1].Status = results.StatusInterrupted
	for _, f := range []Format{FormatTable, FormatMarkdown, FormatJSON} {
		got := render(t, func(b *bytes.Buffer) error { return Matrix(b, runs, f) })
		golden(t, "matrix."+string(f)+".golden", got)
	}
	var rows []MatrixRow
	require.NoError(t, json.Unmarshal(render(t, func(b *bytes.Buffer) error { return Matrix(b, runs, FormatJSON) }), &rows))
	require.Len(t, rows, 4)
	// Paired by size: each size's high-parallelism run, then its
	// inngest run with the ratio to it.
	var order []string
	for _, r := range rows {
		order = append(order, fmt.Sprintf("%s/%d", r.Profile, r.Size))
	}
	assert.Equal(t, []string{"high-parallelism/10", "inngest/10", "high-parallelism/100", "inngest/100"}, order)
	assert.Nil(t, rows[0].Ratio)
	require.NotNil(t, rows[1].Ratio)
	assert.Equal(t, rows[0].ID, rows[1].Ratio.To)
	assert.InDelta(t, *rows[1].DurationS / *rows[0].DurationS, *rows[1].Ratio.DurationS, 1e-9)
	require.NotNil(t, rows[1].TTFTP95, "the matrix shows TTFT")
	assert.Equal(t, 3, runs[2].Config.Run.Retries)
	assert.Nil(t, rows[0].GPUMemoryPeakBytes)
	assert.InDelta(t, 70.5*(1<<30), *rows[2].GPUMemoryPeakBytes, 1)
	require.ErrorIs(t, Matrix(&bytes.Buffer{}, runs, FormatJUnit), ErrFormat)
}

func TestSweepGolden(t *testing.T) {
	t.Parallel()
	var runs []*results.Header
	for _, conc := range []int{16, 1, 4, 8, 2} { // out of order: sorted by level
		doc := fixtureDoc(t, fmt.Sprintf("20261127T101500Z-c%05d", conc), 100, conc, 1+float64(conc*conc)/64)
		runs = append(runs, &doc.Header)
	}
	for _, f := range []Format{FormatTable, FormatMarkdown, FormatJSON} {
		got := render(t, func(b *bytes.Buffer) error { return Sweep(b, runs, f) })
		golden(t, "sweep."+string(f)+".golden", got)
	}
	rows := SweepRows(runs)
	var levels []float64
	for _, r := range rows {
		levels = append(levels, r.Level)
	}
	assert.Equal(t, []float64{1, 2, 4, 8, 16}, levels)
}
