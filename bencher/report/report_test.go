package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
)

// interrupted returns the fixture cut short by a Ctrl-C.
func interrupted(t *testing.T) *results.Document {
	doc := fixtureDoc(t, "20261127T101500Z-0badc0", 60, 4, 1)
	doc.Status, doc.StopReason = results.StatusInterrupted, "interrupted"
	doc.Error = "the run was cancelled before its end"
	doc.Config.Run.Requests = 100
	doc.Environment.Simulated = false
	doc.Environment.Target = "http://gpu-box:8000/v1"
	return doc
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	docs := map[string]*results.Document{
		"report":             fixtureDoc(t, "20261127T101500Z-1a2b3c", 200, 8, 1),
		"report_interrupted": interrupted(t),
	}
	for name, doc := range docs {
		for _, f := range []Format{FormatTable, FormatMarkdown, FormatJSON, FormatJUnit} {
			t.Run(name+"."+string(f), func(t *testing.T) {
				t.Parallel()
				got := render(t, func(b *bytes.Buffer) error { return Report(b, doc, f) })
				golden(t, name+"."+string(f)+".golden", got)
			})
		}
	}
}

func TestReportTableMarks(t *testing.T) {
	t.Parallel()
	doc := fixtureDoc(t, "20261127T101500Z-1a2b3c", 50, 4, 1)
	table := string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
	lines := strings.Split(table, "\n")
	assert.Equal(t, "============ Serving Benchmark Result ============", lines[0])
	assert.Equal(t, "*** SIMULATED: the target was the built-in simulator, not a real server ***", lines[1])
	assert.NotContains(t, table, "INTERRUPTED")
	for _, l := range lines {
		assert.Equal(t, strings.TrimRight(l, " "), l, "no trailing spaces")
	}

	doc = interrupted(t)
	table = string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
	assert.NotContains(t, table, "SIMULATED")
	assert.Contains(t, table, "*** INTERRUPTED: partial results, 60 of 100 requests finished ***\n")

	doc.Status, doc.Error = results.StatusFailed, "stopped early: the error rate passed the limit of 0.5"
	table = string(render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatTable) }))
	assert.Contains(t, table, "*** FAILED: stopped early: the error rate passed the limit of 0.5 ***\n")
}

func TestReportJSONIsTheHeader(t *testing.T) {
	t.Parallel()
	doc := fixtureDoc(t, "20261127T101500Z-1a2b3c", 50, 4, 1)
	data := render(t, func(b *bytes.Buffer) error { return Report(b, doc, FormatJSON) })
	assert.NotContains(t, string(data), `"records"`)
	var h results.Header
	require.NoError(t, json.Unmarshal(data, &h))
	assert.Equal(t, doc.Header, h)
}

func TestJUnitParsesBack(t *testing.T) {
	t.Parallel()
	ok := fixtureDoc(t, "20261127T101500Z-1a2b3c", 200, 8, 1)
	cut := interrupted(t)
	data := render(t, func(b *bytes.Buffer) error { return JUnit(b, &ok.Header, &cut.Header) })

	// Well-formed: every token decodes.
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}
	var got JUnitSuites
	require.NoError(t, xml.Unmarshal(data, &got))
	require.Len(t, got.Suites, 2)
	assert.Equal(t, 8, got.Tests)
	s := got.Suites[0]
	assert.Equal(t, "bencher: smoke", s.Name)
	assert.Equal(t, 4, s.Tests)
	require.Len(t, s.Cases, 4)
	assert.Equal(t, CaseCompleted, s.Cases[0].Name)
	assert.Nil(t, s.Cases[0].Failure)
	assert.Equal(t, "ttft_p95<=200ms", s.Cases[1].Name)
	require.NotNil(t, s.SystemOut)
	assert.Contains(t, s.SystemOut.Text, "============ Serving Benchmark Result ============\n")

	var failed []string
	for _, c := range s.Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name+": "+c.Failure.Message)
		}
	}
	assert.Equal(t, []string{"success_rate>=99%: success_rate is 0.96, want >= 0.99"}, failed)
	assert.Equal(t, 1, s.Failures)

	c := got.Suites[1].Cases[0]
	require.NotNil(t, c.Failure)
	assert.Equal(t, "interrupted", c.Failure.Type)
	assert.Equal(t, "the run was interrupted: the run was cancelled before its end", c.Failure.Message)
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"": FormatTable, "table": FormatTable, "MD": FormatMarkdown,
		"markdown": FormatMarkdown, "json": FormatJSON, "junit": FormatJUnit} {
		got, err := ParseFormat(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseFormat("yaml")
	require.EqualError(t, err, `report: unknown format "yaml" (want table, markdown, json or junit)`)
	err = Report(io.Discard, fixtureDoc(t, "x", 10, 2, 1), "yaml")
	require.ErrorIs(t, err, ErrFormat)
}
