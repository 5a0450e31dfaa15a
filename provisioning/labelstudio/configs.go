// Package labelstudio holds the Label Studio labeling configurations that
// `bencher export labelstudio --create-project` (and the Grafana plugin's
// POST /export/labelstudio) give the projects they create:
//
//	rating.xml    one run: rate one answer on a rubric (correctness,
//	              completeness, clarity, problems, keep or discard, comment)
//	pairwise.xml  two runs: choose the better of answers A and B (Label
//	              Studio's Pairwise tag) and say why
//
// Their variables ($prompt, $answer, $answer_a, $answer_b) are
// data keys of the tasks that package bencher/labelstudio writes; a test
// checks that the two agree. Edit the files to change the rubric: the
// binaries embed them when they are built.
package labelstudio

import _ "embed"

// Rating is the labeling configuration for the answers of one run.
//
//go:embed rating.xml
var Rating string

// Pairwise is the labeling configuration for the answers of two runs.
//
//go:embed pairwise.xml
var Pairwise string
