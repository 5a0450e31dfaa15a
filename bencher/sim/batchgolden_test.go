package sim

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenExchange is one request and its answer in a golden file.
type goldenExchange struct {
	Step   string `json:"step"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   any    `json:"body"`
}

// normalizer replaces what changes from run to run: ids, by the order in
// which they first appear, and times.
type normalizer struct {
	ids map[string]string
	n   map[string]int
}

var idPattern = regexp.MustCompile(`(file-|batch_req_|batch_|req_|chatcmpl-|cmpl-)[0-9a-f]{16}`)

// timeKeys are the fields that hold Unix times.
var timeKeys = map[string]bool{"created": true, "created_at": true, "in_progress_at": true, "expires_at": true,
	"finalizing_at": true, "completed_at": true, "failed_at": true, "expired_at": true, "cancelling_at": true,
	"cancelled_at": true, "enqueued_at": true, "started_at": true, "finished_at": true}

func (n *normalizer) id(s string) string {
	return idPattern.ReplaceAllStringFunc(s, func(id string) string {
		if v, ok := n.ids[id]; ok {
			return v
		}
		prefix := idPattern.FindStringSubmatch(id)[1]
		n.n[prefix]++
		n.ids[id] = fmt.Sprintf("%s<%d>", prefix, n.n[prefix])
		return n.ids[id]
	})
}

func (n *normalizer) value(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) { // ids are numbered in the order they are written
			v[k] = n.value(k, v[k])
		}
		if v["purpose"] == purposeBatchOutput {
			v["bytes"] = "<size>" // the timing extension's numbers vary in length
		}
	case []any:
		for i, e := range v {
			v[i] = n.value("", e)
		}
	case string:
		return n.id(v)
	case json.Number:
		if timeKeys[key] {
			return "<unix time>"
		}
	}
	return v
}

// body decodes a JSON answer, or a JSON lines file (as an array of its
// lines, sorted by custom_id), and normalises it.
func (n *normalizer) body(t *testing.T, b []byte, lines bool) any {
	t.Helper()
	decode := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		require.NoError(t, d.Decode(&v), string(b))
		return v
	}
	if !lines {
		return n.value("", decode(b))
	}
	var out []any
	for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
		out = append(out, decode([]byte(l)))
	}
	slices.SortFunc(out, func(a, b any) int {
		return strings.Compare(fmt.Sprint(a.(map[string]any)["custom_id"]), fmt.Sprint(b.(map[string]any)["custom_id"]))
	})
	return n.value("", out)
}

// TestBatchAPIGolden records a session with every Batch API endpoint, and
// their error answers, in testdata/batch_api.golden.json (go test -update
// rewrites it).
func TestBatchAPIGolden(t *testing.T) {
	g := newGate(t, phaseValidating)
	_, ts := startBatchServer(t, WithZeroDelay(), WithMaxModelLen(64), WithKVCacheTokens(1024), g.option())
	norm := &normalizer{ids: map[string]string{}, n: map[string]int{}}
	var session []goldenExchange
	record := func(step, method, path string, status int, body []byte, lines bool) {
		session = append(session, goldenExchange{step, method, norm.id(path), status, norm.body(t, body, lines)})
	}
	call := func(step, method, path string, body any) []byte {
		t.Helper()
		code, b := apiCall(t, method, ts.URL+path, body, nil)
		record(step, method, path, code, b, false)
		return b
	}
	idOf := func(b []byte) string {
		var v struct{ ID string }
		require.NoError(t, json.Unmarshal(b, &v))
		return v.ID
	}

	in := chatLine("greeting", "Hello!", 4) + "\n" + chatLine("too-long", "Tell me everything.", 100) + "\n"
	code, b := uploadRaw(t, ts.URL, [2]string{"purpose", "batch"}, [2]string{"file", in})
	record("upload", http.MethodPost, PathFiles, code, b, false)
	file := idOf(b)
	code, b = uploadRaw(t, ts.URL, [2]string{"purpose", "fine-tune"}, [2]string{"file", in})
	record("upload with another purpose", http.MethodPost, PathFiles, code, b, false)
	call("file", http.MethodGet, PathFiles+"/"+file, nil)
	call("files", http.MethodGet, PathFiles+"?purpose=batch", nil)
	code, b = apiCall(t, http.MethodGet, ts.URL+PathFiles+"/"+file+"/content", nil, nil)
	record("file content", http.MethodGet, PathFiles+"/"+file+"/content", code, b, true)

	create := map[string]any{"input_file_id": file, "endpoint": PathChatCompletions, "completion_window": "24h",
		"metadata": map[string]string{"run": "golden"}}
	first := idOf(call("create", http.MethodPost, PathBatches, create))
	g.wait(t, phaseValidating)
	call("cancel while validating", http.MethodPost, PathBatches+"/"+first+"/cancel", nil)
	g.release(phaseValidating)
	waitStatus(t, ts.URL, first, BatchCancelled)
	call("cancelled", http.MethodGet, PathBatches+"/"+first, nil)

	second := idOf(call("create again", http.MethodPost, PathBatches, create))
	v := waitStatus(t, ts.URL, second, BatchCompleted)
	call("completed", http.MethodGet, PathBatches+"/"+second, nil)
	code, b = apiCall(t, http.MethodGet, ts.URL+PathFiles+"/"+*v.OutputFileID+"/content", nil, nil)
	record("output file content", http.MethodGet, PathFiles+"/"+*v.OutputFileID+"/content", code, b, true)
	code, b = apiCall(t, http.MethodGet, ts.URL+PathFiles+"/"+*v.ErrorFileID+"/content", nil, nil)
	record("error file content", http.MethodGet, PathFiles+"/"+*v.ErrorFileID+"/content", code, b, true)
	call("output file", http.MethodGet, PathFiles+"/"+*v.OutputFileID, nil)
	call("cancel completed", http.MethodPost, PathBatches+"/"+second+"/cancel", nil)

	code, b = uploadRaw(t, ts.URL, [2]string{"purpose", "batch"}, [2]string{"file", "{\n" + chatLine("x", "Hi", 1) + "\n"})
	record("upload a bad file", http.MethodPost, PathFiles, code, b, false)
	create["input_file_id"] = idOf(b)
	third := idOf(call("create from the bad file", http.MethodPost, PathBatches, create))
	waitStatus(t, ts.URL, third, BatchFailed)
	call("failed", http.MethodGet, PathBatches+"/"+third, nil)

	call("batches", http.MethodGet, PathBatches+"?limit=2", nil)
	call("unknown batch", http.MethodGet, PathBatches+"/batch_nosuch", nil)
	call("bad limit", http.MethodGet, PathBatches+"?limit=101", nil)
	call("bad endpoint", http.MethodPost, PathBatches, map[string]any{"input_file_id": file,
		"endpoint": "/v1/embeddings", "completion_window": "24h"})
	call("delete file", http.MethodDelete, PathFiles+"/"+file, nil)
	call("deleted file", http.MethodGet, PathFiles+"/"+file, nil)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(session))
	got := buf.Bytes()
	path := filepath.Join("testdata", "batch_api.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write the golden file")
	assert.Equal(t, string(want), string(got))
}
