package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"

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
// failed, and one test case per gate that fails with the actual value when
// the gate was breached. The suite's system-out holds the terminal table.
func JUnit(w io.Writer, runs ...*results.Header) error {
	root := BuildJUnit(runs...)
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
	done := JUnitCase{Name: CaseCompleted, ClassName: class, Time: dur}
	if !h.Completed() {
		done.Failure = &JUnitFailure{
			Type:    string(h.Status),
			Message: "the run " + ended(h.Status) + ": " + oneLine(h.Error, 200),
			Text:    fmt.Sprintf("%d of %d requests finished; %d failed", finished(h), h.Config.Run.Requests, h.Summary.Failed),
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

// gateCase returns the test case of a gate.
func gateCase(o gate.Outcome, class string) JUnitCase {
	c := JUnitCase{Name: o.Text, ClassName: class, Time: "0"}
	switch {
	case !o.Found:
		c.Failure = &JUnitFailure{Type: "gate", Message: "the run has no value " + strconv.Quote(o.Name),
			Text: o.String()}
	case !o.Pass:
		c.Failure = &JUnitFailure{Type: "gate",
			Message: fmt.Sprintf("%s is %s, want %s %s", o.Name, num(o.Actual), o.Op, num(o.Threshold)),
			Text:    o.String()}
	}
	return c
}

// seconds formats seconds for JUnit's time attributes.
func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
