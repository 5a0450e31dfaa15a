package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, omit := range []bool{false, true} {
		dir := t.TempDir()
		doc := fakeDoc(300, start)
		v := 0.5
		doc.ServerSide = &ServerSide{KVCacheUsagePeak: &v}
		if omit {
			doc.Records, doc.RecordsOmitted = nil, true
		}
		path, err := Write(dir, doc)
		require.NoError(t, err)

		got, err := Read(path)
		require.NoError(t, err)
		assert.Equal(t, doc, got)

		h, err := ReadHeader(path)
		require.NoError(t, err)
		assert.Equal(t, &doc.Header, h)
	}
}

func TestReadNewerVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "future.json", `{"schema_version": 2, "kind": "benchstation.run", "summary": {"requests": "many"}}`)
	want := "results: " + path + ": newer schema version: the document has schema_version 2, " +
		"this bencher reads up to 1; upgrade the bencher"
	_, err := Read(path)
	require.EqualError(t, err, want)
	require.ErrorIs(t, err, ErrNewerVersion)
	_, err = ReadHeader(path)
	require.EqualError(t, err, want)
}

func TestReadCorrupt(t *testing.T) {
	t.Parallel()
	whole := string(encode(t, fakeDoc(20, start)))
	records := strings.Index(whole, `"records": [`) + len(`"records": [`)
	inRecords := records + 40
	tests := []struct {
		name, content string
		want          string // for Read and ReadHeader
		wantHeader    string // for ReadHeader, when different
	}{
		{"empty", "", "not a run document: not a JSON object", ""},
		{"array", "[1, 2]", "not a run document: not a JSON object", ""},
		{"text", "hello", "not a run document: not a JSON object", ""},
		{"foreign object", `{"foo": 1, "bar": [1, 2]}`, "not a run document: no schema_version", ""},
		{"other kind", `{"schema_version": 1, "kind": "grafana.dashboard"}`,
			`not a run document: kind "grafana.dashboard", want "benchstation.run"`, ""},
		{"version zero", `{"schema_version": 0}`, "not a run document: schema_version 0", ""},
		{"version as string", `{"schema_version": "1"}`,
			`field "schema_version": json: cannot unmarshal string into Go value of type int`, ""},
		{"cut in the header", whole[:200], `field "status": truncated document: unexpected EOF`, ""},
		{"cut in the records", whole[:inRecords], `field "records": truncated document: unexpected EOF`, "truncated document"},
		{"garbage in the records", whole[:records] + "!!]}", `field "records": invalid character '!' looking for beginning of value`, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "x.json", tt.content)
			_, err := Read(path)
			require.EqualError(t, err, "results: "+path+": "+tt.want)
			h, err := ReadHeader(path)
			switch tt.wantHeader {
			case "-": // the header alone is fine
				require.NoError(t, err)
				assert.Equal(t, "fake", h.Name)
			case "":
				require.EqualError(t, err, "results: "+path+": "+tt.want)
			default:
				require.EqualError(t, err, "results: "+path+": "+tt.wantHeader)
			}
		})
	}
}

// TestReadForeignOrder reads a document whose fields were reordered (as
// jq -S does) and which has unknown fields.
func TestReadForeignOrder(t *testing.T) {
	t.Parallel()
	doc := fakeDoc(20, start)
	var m map[string]any
	require.NoError(t, json.Unmarshal(encode(t, doc), &m))
	m["added_later"] = map[string]any{"x": 1}
	data, err := json.Marshal(m) // keys sorted: records before summary
	require.NoError(t, err)
	require.Less(t, bytes.Index(data, []byte(`"records"`)), bytes.Index(data, []byte(`"summary"`)))

	got, err := Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, doc, got)
	h, err := DecodeHeader(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, &doc.Header, h)
}

// TestHeaderFieldsCoverHeader checks that decode knows every JSON field of
// Header.
func TestHeaderFieldsCoverHeader(t *testing.T) {
	t.Parallel()
	var tags []string
	ht := reflect.TypeFor[Header]()
	for i := range ht.NumField() {
		name, _, _ := strings.Cut(ht.Field(i).Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	var keys []string
	for k := range headerFields(&Header{}) {
		keys = append(keys, k)
	}
	slices.Sort(tags)
	slices.Sort(keys)
	assert.Equal(t, tags, keys)
}

func TestReadMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := Read(path)
	require.ErrorIs(t, err, os.ErrNotExist)
}
