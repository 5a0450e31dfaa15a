package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/serverside"
)

// withServerSide returns the fixture with what Prometheus saw.
func withServerSide(t *testing.T) *results.Document {
	doc := fixtureDoc(t, "20261127T101500Z-5e1f5d", 200, 8, 1)
	ptr := func(v float64) *float64 { return &v }
	doc.ServerSide = &results.ServerSide{
		Source: "http://prometheus:9090", GPUMemoryPeakBytes: ptr(70.5 * (1 << 30)), EnergyJoules: ptr(123456.5),
		PowerWattsMean: ptr(2812.25), GPUUtilizationMean: ptr(0.8125), KVCacheUsagePeak: ptr(0.4375),
		PrefixCacheHitRatio: ptr(0.3), Preemptions: ptr(7),
		Extra: map[string]float64{serverside.ExtraVLLMTTFTMean: 0.0625, "zz_other": 1.5},
	}
	return doc
}

func TestReportServerSideGolden(t *testing.T) {
	t.Parallel()
	doc := withServerSide(t)
	for _, f := range []Format{FormatTable, FormatMarkdown} {
		got := render(t, func(b *bytes.Buffer) error { return Report(b, doc, f) })
		golden(t, "report_server_side."+string(f)+".golden", got)
	}
}

func TestReportServerSideSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ss       *results.ServerSide
		want     []string
		wantNone []string
	}{
		{"absent: no section", nil, nil, []string{"Server side"}},
		{"nothing found", &results.ServerSide{Source: "http://p:9090"},
			[]string{"-------------Server side (Prometheus)-------------\n",
				"Source:                                  http://p:9090\n",
				"Values:                                  none: no queried series was found\n"},
			[]string{"GPU", "TTFT, vLLM"}},
		{"GPU only", &results.ServerSide{Source: "http://p:9090", EnergyJoules: new(3000.0)},
			[]string{"GPU energy (kJ):                         3.00\n", "GPU energy per output token (J):"},
			[]string{"Values:", "KV-cache", "vLLM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := fixtureDoc(t, "20261127T101500Z-1a2b3c", 50, 4, 1)
			doc.ServerSide = tt.ss
			table := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
			for _, w := range tt.want {
				assert.Contains(t, table, w)
			}
			for _, w := range tt.wantNone {
				assert.NotContains(t, table, w)
			}
		})
	}
}
