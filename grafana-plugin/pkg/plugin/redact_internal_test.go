package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// internalKey is the key of the internal tests.
const internalKey = "sk-internal-LEAKCHECK-31337"

// testRedactor knows internalKey, as an instance with it would.
func testRedactor() *secret.Redactor {
	return newRedactor(backend.DataSourceInstanceSettings{
		JSONData:                []byte(`{"resultsDir": "/r", "defaultTarget": "http://user:pw-` + internalKey + `@vllm/v1"}`),
		DecryptedSecureJSONData: map[string]string{SecureKeyAPIKey: internalKey},
	})
}

// TestSecretRedactLoggerScrubsEveryArgument logs the key in every shape a
// line may carry it: the message, strings, errors, bytes, Stringers,
// structs, maps, base64, With and FromContext arguments.
func TestSecretRedactLoggerScrubsEveryArgument(t *testing.T) {
	inner := plugintest.NewLogger()
	l := newRedactLogger(inner, testRedactor())
	b64 := base64.StdEncoding.EncodeToString([]byte(internalKey))
	wrapped := fmt.Errorf("calling: %w", errors.New("echo "+internalKey))
	l.With("with", internalKey).FromContext(context.Background()).Error("message "+internalKey,
		"string", "Bearer "+internalKey, "error", wrapped, "bytes", []byte(internalKey),
		"stringer", time.Duration(1), "struct", struct{ Echo string }{internalKey},
		"map", map[string]string{"k": internalKey}, "b64", b64, "url", "http://user:pw-"+internalKey+"@vllm/v1",
		"number", 42, "secret", secret.New(internalKey))
	l.Info("info", "a", internalKey)
	l.Warn("warn", "a", internalKey)
	l.Debug("debug", "a", internalKey)
	out := inner.String()
	hostile.NoLeaks(t, "log", out, internalKey, "pw-"+internalKey)
	assert.Contains(t, out, "42")
	assert.Equal(t, 4, strings.Count(out, "\n")+1, out)
	assert.GreaterOrEqual(t, strings.Count(out, secret.Redacted), 10, out)

	// An error keeps what it wraps, for errors.Is.
	var seen error
	l = newRedactLogger(errorCatcher{&seen}, testRedactor())
	l.Error("x", "error", wrapped)
	require.Error(t, seen)
	assert.NotContains(t, seen.Error(), internalKey)
	assert.ErrorIs(t, seen, wrapped)
}

// errorCatcher is a logger that keeps the last "error" argument.
type errorCatcher struct{ err *error }

func (c errorCatcher) Error(_ string, args ...any) {
	if e, ok := argValue(args, "error").(error); ok {
		*c.err = e
	}
}
func (c errorCatcher) Debug(string, ...any)                   {}
func (c errorCatcher) Info(string, ...any)                    {}
func (c errorCatcher) Warn(string, ...any)                    {}
func (c errorCatcher) With(...any) log.Logger                 { return c }
func (c errorCatcher) Level() log.Level                       { return log.Debug }
func (c errorCatcher) FromContext(context.Context) log.Logger { return c }

// TestSecretScrubFramesEveryString puts the key in every string of a
// frame a panel shows: names, labels, display names, descriptions,
// notices, custom metadata, string, nullable string and JSON values.
func TestSecretScrubFramesEveryString(t *testing.T) {
	r := testRedactor()
	k := internalKey
	f := data.NewFrame("frame "+k,
		data.NewField("s "+k, data.Labels{"model": k}, []string{"a", "x " + k}).
			SetConfig(&data.FieldConfig{DisplayName: k, DisplayNameFromDS: k, Description: k}),
		data.NewField("ns", nil, []*string{nil, new("y " + k)}),
		data.NewField("j", nil, []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{"a": "` + k + `"}`)}),
		data.NewField("n", nil, []float64{1, 2}),
	)
	f.RefID = k
	f.Meta = &data.FrameMeta{ExecutedQueryString: k, Notices: []data.Notice{{Text: k}},
		Custom: map[string]any{"runIds": []string{k}}}
	resp := &backend.QueryDataResponse{Responses: backend.Responses{"A": {Frames: data.Frames{f}, Error: errors.New(k)}}}
	scrubQueryResponse(r, resp)
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	hostile.NoLeaks(t, "frames", string(raw), k)
	hostile.NoLeaks(t, "error", resp.Responses["A"].Error.Error(), k)
	assert.Equal(t, "x "+secret.Redacted, f.Fields[0].At(1))
	assert.Equal(t, "a", f.Fields[0].At(0))
	assert.Equal(t, 1.0, f.Fields[3].At(0))
}

// TestSecretScrubDocumentEveryString puts the key in every string of a
// run document that may come from the target or the user.
func TestSecretScrubDocumentEveryString(t *testing.T) {
	k := internalKey
	res := &bencher.Result{Start: time.Now(), End: time.Now().Add(time.Second), StopReason: bencher.StopCompleted,
		Config: bencher.RunConfig{Target: "http://vllm/v1", Model: "model " + k, API: bencher.APIChat},
		Records: []bencher.Record{
			{Index: 0, ID: "r0", Output: "out " + k, Prompt: "in " + k, FinishReason: k, End: time.Second},
			{Index: 1, ID: "r1 " + k, Error: bencher.ErrHTTPStatus, HTTPStatus: 500, ErrorMessage: "echo " + k, End: time.Second},
		}}
	doc := results.NewPartial(res, results.Meta{ID: "20261120T100000Z-abcdef", Name: "name " + k,
		Labels: map[string]string{"key " + k: "value " + k}, ServerVersion: "v " + k}, errors.New("failed: "+k))
	scrubDocument(testRedactor(), doc)
	var b strings.Builder
	require.NoError(t, results.Encode(&b, doc))
	hostile.NoLeaks(t, "document", b.String(), k)
	assert.Equal(t, secret.Redacted, doc.Environment.Model, "a name is replaced whole")
	assert.Equal(t, secret.Redacted, doc.Environment.ServerVersion)
	assert.Equal(t, "out "+secret.Redacted, doc.Records[0].Output)
	assert.Equal(t, "value "+secret.Redacted, doc.Labels["key "+secret.Redacted])
}

// TestSecretRedactSenderFixesLength scrubs a resource answer and its
// Content-Length.
func TestSecretRedactSenderFixesLength(t *testing.T) {
	var got *backend.CallResourceResponse
	s := redactSender{next: backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
		got = r
		return nil
	}), r: testRedactor()}
	body := `{"error": "echo ` + internalKey + `"}`
	require.NoError(t, s.Send(&backend.CallResourceResponse{Status: http.StatusBadGateway, Body: []byte(body),
		Headers: map[string][]string{"Content-Length": {fmt.Sprint(len(body))}, "X-Echo": {internalKey}}}))
	hostile.NoLeaks(t, "body", string(got.Body), internalKey)
	hostile.NoLeaks(t, "header", fmt.Sprint(got.Headers), internalKey)
	assert.Equal(t, []string{fmt.Sprint(len(got.Body))}, got.Headers["Content-Length"])
	assert.JSONEq(t, `{"error": "echo [REDACTED]"}`, string(got.Body))
}

// TestSecretMarkerScrubbed checks the marker of a run whose user pasted
// the key into its name, labels and model.
func TestSecretMarkerScrubbed(t *testing.T) {
	dir := t.TempDir()
	m := &runManager{dir: dir, red: testRedactor()}
	r := &liveRun{id: "20261120T100000Z-abcdef", start: time.Now(), plan: &runPlan{name: internalKey,
		labels: map[string]string{internalKey: internalKey}, model: internalKey, profile: "p", target: "http://vllm/v1"}}
	require.NoError(t, m.writeMarker(r))
	raw, err := os.ReadFile(m.markerPath(r.id))
	require.NoError(t, err)
	hostile.NoLeaks(t, "marker", string(raw), internalKey)
	assert.Equal(t, internalKey, r.plan.model, "the plan, which the run uses, is left as it is")
	assert.Equal(t, map[string]string{internalKey: internalKey}, r.plan.labels)
}
