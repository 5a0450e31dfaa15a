// Package labelstudio turns the recorded outputs of bencher runs (run
// documents written with --record-outputs) into Label Studio tasks, and
// sends them to a Label Studio server.
//
// # Tasks
//
// Tasks are in Label Studio's JSON import format: a list of objects with
// "data" (what the labeling configuration shows through its $variables),
// "meta" (kept with the task, not shown to annotators) and "predictions"
// (pre-annotations; always empty here). See "Import data into Label
// Studio", https://labelstud.io/guide/tasks#Basic-Label-Studio-JSON-format,
// and the import API, https://api.labelstud.io/api-reference/api-reference/projects/import-tasks.
//
// One run gives one task per request (Rating config, provisioning/labelstudio/rating.xml):
//
//	{"data": {"request": "7", "prompt": "…", "answer": "…"},
//	 "meta": {"run_id": "…", "profile": "…", "model": "…", "simulated": false,
//	          "request_index": 7, "request_id": "7", "ttft_ms": 41.2,
//	          "e2el_ms": 812.5, "output_tokens": 128, "finish_reason": "stop"},
//	 "predictions": []}
//
// Two runs give one task per request that both ran, joined on the request
// id as the plugin's outputs view joins them (Pairwise config,
// provisioning/labelstudio/pairwise.xml); "answer_a" is the first run's,
// "answer_b" the second's, and meta holds each run's statistics under "a"
// and "b":
//
//	{"data": {"request": "7", "prompt": "…", "answer_a": "…", "answer_b": "…"},
//	 "meta": {"a": {…}, "b": {…}}, "predictions": []}
//
// A statistic that was not measured is absent from meta, never 0: no
// ttft_ms without a first token, no output_tokens where the client counted
// none, no e2el_ms for a request that never ended. Failed requests (meta
// "error" holds the error class, such as http_status) are left out unless
// asked for (Options.IncludeFailed); requests never sent (not_sent) never
// become tasks, since nothing was answered.
package labelstudio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// Task is one Label Studio task, in the JSON import format.
type Task struct {
	Data Data `json:"data"`
	Meta Meta `json:"meta"`
	// Predictions are pre-annotations; the export writes none, but the
	// field is there so that the file has the documented task shape.
	Predictions []Prediction `json:"predictions"`
}

// Prediction is a Label Studio prediction (pre-annotation) of a task.
type Prediction struct {
	ModelVersion string            `json:"model_version,omitempty"`
	Score        *float64          `json:"score,omitempty"`
	Result       []json.RawMessage `json:"result"`
}

// Data is what the labeling configuration shows: the keys are its
// $variables. Answer is set for one run, AnswerA and AnswerB for two.
type Data struct {
	// Request is the request id (the workload's id, or "#<index>"), a
	// column of Label Studio's Data Manager.
	Request string `json:"request"`
	// Prompt is the request's prompt (chat messages as "role: content"
	// lines).
	Prompt string `json:"prompt"`
	// Answer is the generated text of the one run.
	Answer *string `json:"answer,omitempty"`
	// AnswerA and AnswerB are the generated texts of the first and the
	// second run.
	AnswerA *string `json:"answer_a,omitempty"`
	AnswerB *string `json:"answer_b,omitempty"`
}

// Meta is what a task keeps about where its answers came from: the one
// run's RunMeta, flat, or the two runs' under A and B.
type Meta struct {
	*RunMeta
	A *RunMeta `json:"a,omitempty"`
	B *RunMeta `json:"b,omitempty"`
}

// RunMeta describes one answer: its run and its request's measurements.
// The pointers are nil (absent from the JSON) where nothing was measured.
type RunMeta struct {
	RunID        string   `json:"run_id"`
	Profile      string   `json:"profile"`
	Model        string   `json:"model"`
	Simulated    bool     `json:"simulated"`
	RequestIndex int      `json:"request_index"`
	RequestID    string   `json:"request_id"`
	Warmup       bool     `json:"warmup,omitempty"`
	TTFTMs       *float64 `json:"ttft_ms,omitempty"`
	E2ELMs       *float64 `json:"e2el_ms,omitempty"`
	OutputTokens *int     `json:"output_tokens,omitempty"`
	FinishReason string   `json:"finish_reason,omitempty"`
	// Error is the request's error class (bencher.ErrorClass), absent
	// when it succeeded.
	Error string `json:"error,omitempty"`
}

// Options select the requests that become tasks.
type Options struct {
	// IncludeFailed makes failed requests tasks too (their partial output
	// as the answer, meta "error" their error class).
	IncludeFailed bool
}

// Counts says how many requests became tasks and why the others did not.
type Counts struct {
	Tasks int
	// Failed requests left out (without IncludeFailed), and requests
	// never sent.
	Failed, NotSent int
	// Unpaired requests ran in only one of two runs (or failed in the
	// other); PromptsDiffer ran in both with different prompts.
	Unpaired, PromptsDiffer int
}

// ErrNoOutputs is wrapped by the error of a run recorded without outputs.
var ErrNoOutputs = errors.New("recorded without outputs")

// Build returns the tasks of one run (rating) or two runs (pairwise), in
// the first run's request order, and what was left out.
func Build(docs []*results.Document, o Options) ([]Task, Counts, error) {
	var c Counts
	if n := len(docs); n < 1 || n > 2 {
		return nil, c, fmt.Errorf("one or two runs, got %d", n)
	}
	for _, d := range docs {
		if err := checkDocument(d); err != nil {
			return nil, c, err
		}
	}
	if len(docs) == 1 {
		tasks := buildOne(docs[0], o, &c)
		c.Tasks = len(tasks)
		return tasks, c, nil
	}
	tasks := buildPairs(docs[0], docs[1], o, &c)
	c.Tasks = len(tasks)
	if len(tasks) == 0 && c.PromptsDiffer > 0 {
		return nil, c, fmt.Errorf("runs %s and %s sent different prompts for every request they share "+
			"(another workload or seed): their answers cannot be compared", docs[0].ID, docs[1].ID)
	}
	return tasks, c, nil
}

// checkDocument refuses documents that cannot give tasks.
func checkDocument(d *results.Document) error {
	switch {
	case d == nil:
		return errors.New("no document")
	case d.RecordsOmitted:
		return fmt.Errorf("run %s: its document was written without records (--omit-records), so it has no answers", d.ID)
	case !HasOutputs(d):
		return fmt.Errorf("run %s was %w: run it again with --record-outputs (bencher CLI) or Record outputs (Grafana)", d.ID, ErrNoOutputs)
	}
	return nil
}

// HasOutputs reports whether a run recorded its prompts and generated texts.
func HasOutputs(d *results.Document) bool {
	if d.Config.Run.RecordOutputs {
		return true
	}
	for i := range d.Records {
		if d.Records[i].Output != "" || d.Records[i].Prompt != "" {
			return true
		}
	}
	return false
}

// wanted reports whether a record may become a task, counting the others.
func wanted(r *bencher.Record, o Options, c *Counts) bool {
	switch {
	case r.NotSent():
		c.NotSent++
		return false
	case r.Failed() && !o.IncludeFailed:
		c.Failed++
		return false
	}
	return true
}

func buildOne(d *results.Document, o Options, c *Counts) []Task {
	tasks := make([]Task, 0, len(d.Records))
	for i := range d.Records {
		r := &d.Records[i]
		if !wanted(r, o, c) {
			continue
		}
		answer := r.Output
		tasks = append(tasks, Task{
			Data:        Data{Request: RequestID(r), Prompt: r.Prompt, Answer: &answer},
			Meta:        Meta{RunMeta: runMeta(d, r)},
			Predictions: []Prediction{},
		})
	}
	return tasks
}

func buildPairs(a, b *results.Document, o Options, c *Counts) []Task {
	byID := make(map[string]*bencher.Record, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		if _, seen := byID[RequestID(r)]; !seen {
			byID[RequestID(r)] = r
		}
	}
	var ignored Counts // the second run's own exclusions are counted as unpaired
	seen := make(map[string]bool, len(a.Records))
	tasks := make([]Task, 0, len(a.Records))
	for i := range a.Records {
		ra := &a.Records[i]
		id := RequestID(ra)
		if seen[id] {
			continue
		}
		seen[id] = true
		if !wanted(ra, o, c) {
			continue
		}
		rb := byID[id]
		if rb == nil || !wanted(rb, o, &ignored) {
			c.Unpaired++
			continue
		}
		prompt := ra.Prompt
		switch {
		case prompt == "":
			prompt = rb.Prompt
		case rb.Prompt != "" && rb.Prompt != prompt:
			c.PromptsDiffer++
			continue
		}
		oa, ob := ra.Output, rb.Output
		tasks = append(tasks, Task{
			Data:        Data{Request: id, Prompt: prompt, AnswerA: &oa, AnswerB: &ob},
			Meta:        Meta{A: runMeta(a, ra), B: runMeta(b, rb)},
			Predictions: []Prediction{},
		})
	}
	return tasks
}

// RequestID returns a record's request id, or "#<index>" when it has none
// (as the plugin's outputs view names it).
func RequestID(r *bencher.Record) string {
	if r.ID != "" {
		return r.ID
	}
	return fmt.Sprintf("#%d", r.Index)
}

// runMeta returns the meta of record r of run d.
func runMeta(d *results.Document, r *bencher.Record) *RunMeta {
	m := &RunMeta{
		RunID: d.ID, Profile: d.Profile, Model: d.Environment.Model, Simulated: d.Environment.Simulated,
		RequestIndex: r.Index, RequestID: RequestID(r), Warmup: r.Warmup,
		FinishReason: r.FinishReason, Error: string(r.Error),
	}
	if t, ok := r.TTFT(); ok {
		m.TTFTMs = ms(t)
	}
	if r.End > 0 && r.End >= r.Scheduled {
		m.E2ELMs = ms(r.E2E())
	}
	if r.TokenSource != "" {
		n := r.OutputTokens
		m.OutputTokens = &n
	}
	return m
}

// ms returns d in milliseconds.
func ms(d time.Duration) *float64 {
	v := float64(d) / float64(time.Millisecond)
	return &v
}

// Encode writes tasks as Label Studio's JSON import file: a JSON list,
// indented, ending with a newline. No tasks give [].
func Encode(w io.Writer, tasks []Task) error {
	if tasks == nil {
		tasks = []Task{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(tasks)
}
