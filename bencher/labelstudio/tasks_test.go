package labelstudio

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

var update = flag.Bool("update", false, "rewrite the golden tasks files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./bencher/labelstudio -update to write it")
	assert.Equal(t, string(want), string(got), "%s differs (go test ./bencher/labelstudio -update rewrites it)", path)
}

func encode(t *testing.T, tasks []Task) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Encode(&b, tasks))
	return b.Bytes()
}

func TestGoldenOneRun(t *testing.T) {
	t.Parallel()
	tasks, c, err := Build([]*results.Document{runA()}, Options{})
	require.NoError(t, err)
	assert.Equal(t, Counts{Tasks: 3, Failed: 1}, c)
	golden(t, "one-run.tasks.json", encode(t, tasks))

	tasks, c, err = Build([]*results.Document{runA()}, Options{IncludeFailed: true})
	require.NoError(t, err)
	assert.Equal(t, Counts{Tasks: 4}, c)
	golden(t, "one-run-include-failed.tasks.json", encode(t, tasks))
}

func TestGoldenTwoRuns(t *testing.T) {
	t.Parallel()
	tasks, c, err := Build([]*results.Document{runA(), runB()}, Options{})
	require.NoError(t, err)
	// 0 pairs; 1 failed in B (unpaired); 2 failed in A; 3 never sent in B (unpaired).
	assert.Equal(t, Counts{Tasks: 1, Failed: 1, Unpaired: 2}, c)
	golden(t, "two-runs.tasks.json", encode(t, tasks))

	tasks, c, err = Build([]*results.Document{runA(), runB()}, Options{IncludeFailed: true})
	require.NoError(t, err)
	assert.Equal(t, Counts{Tasks: 3, Unpaired: 1}, c)
	golden(t, "two-runs-include-failed.tasks.json", encode(t, tasks))
}

// The task shape Label Studio documents for JSON import
// (https://labelstud.io/guide/tasks#Basic-Label-Studio-JSON-format): an
// object with data, and optionally meta, annotations and predictions.
type lsTask struct {
	Data        map[string]any   `json:"data"`
	Meta        map[string]any   `json:"meta"`
	Predictions []map[string]any `json:"predictions"`
	Annotations []map[string]any `json:"annotations,omitempty"`
}

// decodeStrict decodes a tasks file into Label Studio's task shape,
// refusing unknown fields.
func decodeStrict(t *testing.T, raw []byte) []lsTask {
	t.Helper()
	var tasks []lsTask
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&tasks))
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "data after the list")
	return tasks
}

// runMetaKeys are the keys of a measured successful request's meta.
var runMetaKeys = []string{"run_id", "profile", "model", "simulated", "request_index", "request_id",
	"ttft_ms", "e2el_ms", "output_tokens", "finish_reason"}

func TestTasksDecodeIntoTheDocumentedShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		dataKeys []string
		pairwise bool
	}{
		{"one-run.tasks.json", []string{"request", "prompt", "answer"}, false},
		{"two-runs.tasks.json", []string{"request", "prompt", "answer_a", "answer_b"}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			tasks := decodeStrict(t, raw)
			require.NotEmpty(t, tasks)
			for i, task := range tasks {
				assert.ElementsMatch(t, tc.dataKeys, keys(task.Data), "task %d: data", i)
				for _, k := range tc.dataKeys {
					assert.IsType(t, "", task.Data[k], "task %d: data.%s must be a string", i, k)
				}
				assert.NotNil(t, task.Predictions, "task %d: predictions must be a list", i)
				metas := []map[string]any{task.Meta}
				if tc.pairwise {
					assert.ElementsMatch(t, []string{"a", "b"}, keys(task.Meta), "task %d: meta", i)
					metas = []map[string]any{task.Meta["a"].(map[string]any), task.Meta["b"].(map[string]any)}
				}
				for _, m := range metas {
					assert.ElementsMatch(t, runMetaKeys, keys(m), "task %d: meta of a measured successful request", i)
				}
			}
			// The typed decoder reads them back to what was encoded.
			var typed []Task
			require.NoError(t, json.Unmarshal(raw, &typed))
			assert.Equal(t, string(raw), string(encode(t, typed)))
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A statistic that was not measured is absent, never 0.
func TestUnmeasuredStatisticsAreAbsent(t *testing.T) {
	t.Parallel()
	tasks, _, err := Build([]*results.Document{runA()}, Options{IncludeFailed: true})
	require.NoError(t, err)
	raw := encode(t, tasks)
	lt := decodeStrict(t, raw)
	require.Len(t, lt, 4)
	failed := lt[2].Meta
	assert.Equal(t, "http_status", failed["error"])
	for _, k := range []string{"ttft_ms", "output_tokens", "finish_reason"} {
		assert.NotContains(t, failed, k, "a request that failed before its first token has no %s", k)
	}
	assert.InDelta(t, 30.0, failed["e2el_ms"], 1e-9, "its E2EL (to the failure) was measured")
	ok := lt[0].Meta
	assert.NotContains(t, ok, "error")
	assert.InDelta(t, 41.25, ok["ttft_ms"], 1e-9)
	assert.InDelta(t, 812.5, ok["e2el_ms"], 1e-9)
	assert.EqualValues(t, 8, ok["output_tokens"])
	assert.Equal(t, false, ok["simulated"], "simulated is written even when false")
	assert.NotContains(t, string(raw), `"ttft_ms": 0`)
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	noOutputs := runA()
	noOutputs.Config.Run.RecordOutputs = false
	for i := range noOutputs.Records {
		noOutputs.Records[i].Output, noOutputs.Records[i].Prompt = "", ""
	}
	_, _, err := Build([]*results.Document{noOutputs}, Options{})
	require.ErrorIs(t, err, ErrNoOutputs)
	assert.Contains(t, err.Error(), "--record-outputs")

	omitted := runA()
	omitted.RecordsOmitted, omitted.Records = true, nil
	_, _, err = Build([]*results.Document{omitted}, Options{})
	assert.ErrorContains(t, err, "without records")

	_, _, err = Build(nil, Options{})
	assert.ErrorContains(t, err, "one or two runs")
	_, _, err = Build([]*results.Document{runA(), runA(), runA()}, Options{})
	assert.ErrorContains(t, err, "one or two runs")

	other := runB()
	for i := range other.Records {
		other.Records[i].Prompt += " (another seed)"
	}
	_, c, err := Build([]*results.Document{runA(), other}, Options{IncludeFailed: true})
	assert.ErrorContains(t, err, "different prompts")
	assert.Equal(t, 3, c.PromptsDiffer)
}

func TestEncodeEmpty(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "[]\n", string(encode(t, nil)))
}

// The shipped labeling configurations use exactly the data keys the tasks
// have, and every control names objects that exist.
func TestLabelConfigsMatchTasks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config string
		docs         []*results.Document
	}{
		{"rating.xml", lsconfig.Rating, []*results.Document{runA()}},
		{"pairwise.xml", lsconfig.Pairwise, []*results.Document{runA(), runB()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objects, controls := parseConfig(t, tc.config)
			tasks, _, err := Build(tc.docs, Options{})
			require.NoError(t, err)
			lt := decodeStrict(t, encode(t, tasks))
			vars := regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(stripComments(tc.config), -1)
			require.NotEmpty(t, vars)
			for _, v := range vars {
				assert.Contains(t, lt[0].Data, v[1], "$%s of %s is not a data key of the tasks", v[1], tc.name)
			}
			for name, to := range controls {
				for _, o := range strings.Split(to, ",") {
					assert.Contains(t, objects, o, "control %s of %s points at %q, which is no object", name, tc.name, o)
				}
			}
			require.NotEmpty(t, controls, "%s has no control", tc.name)
		})
	}
}

var comments = regexp.MustCompile(`(?s)<!--.*?-->`)

func stripComments(s string) string { return comments.ReplaceAllString(s, "") }

// parseConfig returns the object names (Text) and the controls' toName
// of a labeling configuration, checking that it is well-formed XML whose
// root is View.
func parseConfig(t *testing.T, config string) (objects []string, controls map[string]string) {
	t.Helper()
	controls = map[string]string{}
	dec := xml.NewDecoder(strings.NewReader(config))
	first := true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if first {
			require.Equal(t, "View", se.Name.Local, "a labeling configuration's root is View")
			first = false
		}
		attr := func(n string) string {
			for _, a := range se.Attr {
				if a.Name.Local == n {
					return a.Value
				}
			}
			return ""
		}
		switch se.Name.Local {
		case "Text":
			objects = append(objects, attr("name"))
		case "Rating", "Choices", "TextArea", "Pairwise":
			require.NotEmpty(t, attr("name"))
			controls[attr("name")] = attr("toName")
		}
	}
	return objects, controls
}
