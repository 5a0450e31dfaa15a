package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/benchstation/benchstation/bencher/gate"
	"github.com/benchstation/benchstation/bencher/results"
)

// JUnit test case names.
const (
	// CaseCompleted is the test case that fails when a run was interrupted
	// or failed.
	CaseCompleted = "run completed"
)

// JUnitSuites is the root of a JUnit XML report.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is the test suite of one run.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	ID         string          `xml:"id,attr"`
	Properties []JUnitProperty `xml:"properties>property"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  *JUnitText      `xml:"system-out"`
}

// JUnitText is text kept as it is (a CDATA section).
type JUnitText struct {
	Text string `xml:",cdata"`
}

// JUnitProperty is a name and value of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one test case: a gate, or the run's completion.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure"`
}

// JUnitFailure says why a test case failed.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes a JUnit XML report of runs: one testsuite per run, holding a
// "run completed" test case that fails when the run was interrupted or
// failed, measured no request or had no request succeed (see RunFailure),
// and one test case per gate that fails with the reason (the actual value
// against the threshold, or "no samples") when the gate was breached. The suite's system-out holds the terminal table.
func JUnit(w io.Writer, runs ...*results.Header) error {
	return encodeJUnit(w, BuildJUnit(runs...))
}

// encodeJUnit writes a JUnit report.
func encodeJUnit(w io.Writer, root *JUnitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("report: junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// BuildJUnit returns the JUnit report of runs (see JUnit).
func BuildJUnit(runs ...*results.Header) *JUnitSuites {
	root := &JUnitSuites{Name: "bencher"}
	total := 0.0
	for _, h := range runs {
		s := junitSuite(h)
		root.Suites = append(root.Suites, s)
		root.Tests += s.Tests
		root.Failures += s.Failures
		total += h.Environment.Duration().Seconds()
	}
	root.Time = seconds(total)
	return root
}

// junitSuite returns the suite of one run.
func junitSuite(h *results.Header) JUnitSuite {
	class := "bencher." + h.Title()
	dur := seconds(h.Environment.Duration().Seconds())
	s := JUnitSuite{
		Name: "bencher: " + h.Title(), Time: dur, ID: h.ID, Hostname: h.Environment.Host,
		Timestamp: h.Environment.StartTime.UTC().Format("2006-01-02T15:04:05"),
		Properties: []JUnitProperty{
			{"id", h.ID}, {"profile", h.Profile}, {"target", h.Environment.Target},
			{"model", h.Environment.Model}, {"simulated", strconv.FormatBool(h.Environment.Simulated)},
			{"status", string(h.Status)},
		},
		SystemOut: &JUnitText{Text: tableReport(h)},
	}
	if b := h.Batch; b != nil {
		for _, r := range batchRows(b) {
			s.Properties = append(s.Properties, JUnitProperty{"batch." + r.key, r.value})
		}
	}
	done := JUnitCase{Name: CaseCompleted, ClassName: class, Time: dur}
	if typ, msg := RunFailure(h); msg != "" {
		done.Failure = &JUnitFailure{
			Type: typ, Message: msg,
			Text: fmt.Sprintf("%d of %d requests finished; %d succeeded, %d failed",
				finished(h), h.Config.Run.Requests, h.Summary.Succeeded, h.Summary.Failed),
		}
	}
	s.Cases = append(s.Cases, done)
	for _, o := range h.Gates {
		s.Cases = append(s.Cases, gateCase(o, class))
	}
	s.Tests = len(s.Cases)
	for _, c := range s.Cases {
		if c.Failure != nil {
			s.Failures++
		}
	}
	return s
}

// RunFailure says why a run failed as a whole, or "" when it did not:
// it was interrupted or failed, it measured no request, or none of its
// requests succeeded. typ is the JUnit failure type.
func RunFailure(h *results.Header) (typ, msg string) {
	s := &h.Summary
	switch {
	case !h.Completed():
		return string(h.Status), "the run " + ended(h.Status) + ": " + oneLine(h.Error, 200)
	case s.Requests == 0:
		return "no_requests", "the run measured no request"
	case s.Succeeded == 0:
		return "no_success", fmt.Sprintf("no request succeeded: all %d failed (%s)", s.Failed, errorClasses(h))
	}
	return "", ""
}

// errorClasses lists a run's errors by class: "http_status 5, timeout 1".
func errorClasses(h *results.Header) string {
	var parts []string
	for _, e := range h.Errors {
		parts = append(parts, string(e.Class)+" "+strconv.Itoa(e.Count))
	}
	if len(parts) == 0 {
		return "no error recorded"
	}
	return strings.Join(parts, ", ")
}

// gateCase returns the test case of a gate.
func gateCase(o gate.Outcome, class string) JUnitCase {
	c := JUnitCase{Name: o.Text, ClassName: class, Time: "0"}
	if !o.Pass {
		c.Failure = &JUnitFailure{Type: "gate", Message: o.Reason(), Text: o.String()}
	}
	return c
}

// JUnitComparison writes a JUnit XML report of a comparison: one test case
// per thresholded value, failing with the regression as its message, and
// one for the new run's completion.
func JUnitComparison(w io.Writer, c *Comparison) error {
	class := "bencher.compare"
	s := JUnitSuite{
		Name: "bencher compare: " + c.Base.ID + " vs " + c.New.ID, Time: "0", ID: c.New.ID,
		Timestamp:  c.New.Start.UTC().Format("2006-01-02T15:04:05"),
		Properties: []JUnitProperty{{"base", c.Base.ID}, {"new", c.New.ID}},
		SystemOut:  &JUnitText{Text: c.table()},
	}
	done := JUnitCase{Name: "new run " + CaseCompleted, ClassName: class, Time: "0"}
	if c.New.Status != results.StatusCompleted {
		done.Failure = &JUnitFailure{Type: string(c.New.Status), Message: "the new run " + ended(c.New.Status)}
	}
	s.Cases = append(s.Cases, done)
	for i := range c.Rows {
		r := &c.Rows[i]
		if r.Threshold == nil {
			continue
		}
		tc := JUnitCase{Name: r.Name + " " + r.Threshold.limitText(), ClassName: class, Time: "0"}
		if reason := r.reason(); reason != "" {
			tc.Failure = &JUnitFailure{Type: "regression", Message: reason, Text: reason}
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	for _, tc := range s.Cases {
		if tc.Failure != nil {
			s.Failures++
		}
	}
	root := &JUnitSuites{Name: "bencher", Tests: s.Tests, Failures: s.Failures, Time: "0", Suites: []JUnitSuite{s}}
	return encodeJUnit(w, root)
}

// seconds formats seconds for JUnit's time attributes.
func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
