package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/labelstudio"
	"github.com/benchstation/benchstation/bencher/labelstudio/labelstudiotest"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

const exportToken = "ls-cli-token-4Rt8Wq2Zp6Xs"

// exportDoc writes a run document recorded with outputs: n successful
// requests and one failure, and returns its path.
func exportDoc(t *testing.T, dir, id, model string, n int) (string, *results.Document) {
	t.Helper()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	doc := &results.Document{Header: results.Header{
		SchemaVersion: results.SchemaVersion, Kind: results.Kind, ID: id, Profile: "high-parallelism",
		Labels: map[string]string{}, Status: results.StatusCompleted,
		Config:      results.Config{Run: bencher.RunConfig{RecordOutputs: true}},
		Environment: results.Environment{Target: "http://vllm:8000/v1", Model: model, StartTime: start, EndTime: start.Add(time.Minute)},
	}}
	for i := range n {
		doc.Records = append(doc.Records, bencher.Record{Index: i, ID: strings.Repeat("r", 1) + string(rune('a'+i)),
			Scheduled: time.Duration(i) * time.Millisecond, Sent: time.Duration(i)*time.Millisecond + 1, FirstToken: 40 * time.Millisecond,
			End: 90 * time.Millisecond, OutputTokens: 5, TokenSource: bencher.TokensFromUsage, Attempts: 1, FinishReason: "stop",
			Prompt: "user: question " + string(rune('a'+i)), Output: model + " answers " + string(rune('a'+i))})
	}
	doc.Records = append(doc.Records, bencher.Record{Index: n, ID: "failed", Scheduled: 5 * time.Millisecond, Sent: 6 * time.Millisecond,
		End: 9 * time.Millisecond, Attempts: 1, HTTPStatus: 500, Error: bencher.ErrHTTPStatus, Prompt: "user: question failed"})
	doc.RecordCount = len(doc.Records)
	path, err := results.Write(dir, doc)
	require.NoError(t, err)
	return path, doc
}

func tokenFile(t *testing.T, dir, token string) string {
	t.Helper()
	p := filepath.Join(dir, "ls-token")
	require.NoError(t, os.WriteFile(p, []byte(token+"\n"), 0o600))
	return p
}

// TestExportLabelStudioWritesTasks: -o writes what the labelstudio package
// encodes (its golden files check the shape), one run and two.
func TestExportLabelStudioWritesTasks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, docA := exportDoc(t, dir, "20260301T100000Z-aaaaaa", "qwen", 3)
	b, docB := exportDoc(t, dir, "20260301T110000Z-bbbbbb", "llama", 2)

	out := filepath.Join(dir, "tasks.json")
	r := runInProcess(t, "export", "labelstudio", a, "-o", out)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "wrote 3 rating task(s) to "+out+"; 1 failed request(s) left out (--include-failed adds them)\n", r.stdout)
	want, _, err := labelstudio.Build([]*results.Document{docA}, labelstudio.Options{})
	require.NoError(t, err)
	assertTasksFile(t, out, want)

	r = runInProcess(t, "export", "labelstudio", a, b, "-o", out, "--include-failed")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "wrote 3 pairwise task(s) to "+out+"; 1 request(s) ran in only one of the two runs\n", r.stdout)
	want, _, err = labelstudio.Build([]*results.Document{docA, docB}, labelstudio.Options{IncludeFailed: true})
	require.NoError(t, err)
	assertTasksFile(t, out, want)

	r = runInProcess(t, "export", "labelstudio", a, "--output=-")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "[\n  {\n    \"data\": {"), r.stdout)
}

func assertTasksFile(t *testing.T, path string, want []labelstudio.Task) {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, labelstudio.Encode(&b, want))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, b.String(), string(got))
}

func TestExportLabelStudioUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _ := exportDoc(t, dir, "20260301T100000Z-aaaaaa", "qwen", 1)
	noOutputs := filepath.Join(dir, "plain.json")
	{
		doc, err := results.Read(a)
		require.NoError(t, err)
		doc.ID = "20260301T120000Z-cccccc"
		doc.Config.Run.RecordOutputs = false
		for i := range doc.Records {
			doc.Records[i].Output, doc.Records[i].Prompt = "", ""
		}
		p, err := results.Write(dir, doc)
		require.NoError(t, err)
		require.NoError(t, os.Rename(p, noOutputs))
	}
	tf := tokenFile(t, dir, exportToken)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{a}, "nothing to do"},
		{[]string{a, a, a, "-o", "x"}, "one or two runs"},
		{[]string{a, "-o", "x", "--project", "1"}, "need --push"},
		{[]string{a, "--push", "http://ls:8080"}, "either --project ID"},
		{[]string{a, "--push", "http://ls:8080", "--project", "1", "--create-project", "t"}, "either --project ID"},
		{[]string{a, "--push", "ftp://ls", "--project", "1"}, "http:// or https://"},
		{[]string{a, "--push", "http://u:" + exportToken + "@ls:8080", "--project", "1", "--token-file", tf}, "must not hold credentials"},
		{[]string{noOutputs, "-o", filepath.Join(dir, "t.json")}, "--record-outputs"},
		{[]string{filepath.Join(dir, "missing.json"), "-o", "x"}, "missing.json"},
		{[]string{a, "--push", "http://127.0.0.1:1", "--project", "1", "--token-file", filepath.Join(dir, "nope")}, "--token-file"},
	} {
		r := runInProcess(t, append([]string{"export", "labelstudio"}, tc.args...)...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.want, "%v", tc.args)
		hostile.NoLeaks(t, "stderr", r.stdout+r.stderr, exportToken)
	}
}

// TestExportLabelStudioPush: --create-project and --project against the
// fake Label Studio, in batches; the token never shows.
func TestExportLabelStudioPush(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _ := exportDoc(t, dir, "20260301T100000Z-aaaaaa", "qwen", 5)
	b, _ := exportDoc(t, dir, "20260301T110000Z-bbbbbb", "llama", 5)
	srv := labelstudiotest.New(t, exportToken, "")
	tf := tokenFile(t, dir, exportToken)

	r := runInProcess(t, "export", "labelstudio", a, "--push", srv.URL, "--create-project", "Qwen answers",
		"--token-file", tf, "--batch-size", "2")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "created Label Studio project 3 \"Qwen answers\" (rating): "+srv.URL+"/projects/3/data\n"+
		"imported 5 rating task(s) into project 3 in 3 batch(es); 1 failed request(s) left out (--include-failed adds them): "+
		srv.URL+"/projects/3/data\n", r.stdout)
	created := srv.Created()
	require.Len(t, created, 1)
	assert.Equal(t, lsconfig.Rating, created[0].LabelConfig)
	assert.Equal(t, []int{2, 2, 1}, srv.BatchSizes())

	r = runInProcess(t, "export", "labelstudio", a, b, "--push", srv.URL, "--create-project", "A vs B", "--token-file", tf)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "created Label Studio project 4 \"A vs B\" (pairwise)")
	assert.Equal(t, lsconfig.Pairwise, srv.Created()[1].LabelConfig)

	// An existing project; a 503 is retried.
	srv.FailNext(503)
	r = runInProcess(t, "export", "labelstudio", a, "--push", srv.URL, "--project", "1", "--token-file", tf, "-o", filepath.Join(dir, "t.json"))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported 5 rating task(s) into project 1 in 1 batch(es)")
	assert.Contains(t, r.stderr, "HTTP 503")
	assert.Contains(t, r.stderr, "retrying in 0s")
	assert.Contains(t, r.stderr, "[REDACTED]", "the 503 echoed the token")
	hostile.NoLeaks(t, "stdout and stderr", r.stdout+r.stderr, exportToken)

	// The pairwise tasks do not fit a rating project: the first rejected
	// task is named, and the exit code is 1.
	r = runInProcess(t, "export", "labelstudio", a, b, "--push", srv.URL, "--project", "1", "--token-file", tf)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "bencher: Label Studio rejected task 0 (request ra; tasks 0-4 of its batch were not imported) with HTTP 400: data:")
	hostile.NoLeaks(t, "stdout and stderr", r.stdout+r.stderr, exportToken)
}

// The token from $LABEL_STUDIO_API_KEY; a refused one exits 1 and is not
// shown, though the server echoes it.
func TestExportLabelStudioTokenFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	a, _ := exportDoc(t, dir, "20260301T100000Z-aaaaaa", "qwen", 2)
	srv := labelstudiotest.New(t, exportToken, "")

	t.Setenv(labelStudioKeyEnv, "")
	r := runInProcess(t, "export", "labelstudio", a, "--push", srv.URL, "--project", "1")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "needs a Label Studio token: --token-file FILE or $LABEL_STUDIO_API_KEY")

	t.Setenv(labelStudioKeyEnv, exportToken)
	r = runInProcess(t, "export", "labelstudio", a, "--push", srv.URL, "--project", "1")
	require.Equal(t, exitOK, r.code, r.stderr)

	wrong := "ls-refused-token-0Pq7Hn3B"
	t.Setenv(labelStudioKeyEnv, wrong)
	r = runInProcess(t, "export", "labelstudio", a, "--push", srv.URL, "--project", "1")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "Label Studio refused the token (HTTP 401")
	hostile.NoLeaks(t, "stdout and stderr", r.stdout+r.stderr, wrong, exportToken)
}
