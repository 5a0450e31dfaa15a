package plugin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/labelstudio/labelstudiotest"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

const testLabelStudioToken = "ls-plugin-token-Vb7Nq2Xk9Rt4"

// The fixture's runs recorded with outputs.
const (
	outputsRunA = "20261120T100000Z-aaaaa1"
	outputsRunB = "20261121T110000Z-aaaaa2"
)

// labelStudioDatasource returns an instance over the fixture whose Label
// Studio is lsURL, with the given allowed hosts and token, logging to
// logger.
func labelStudioDatasource(t *testing.T, lsURL string, allowed []string, token string, logger plugintest.Logger) *plugin.Datasource {
	t.Helper()
	jd := map[string]any{"resultsDir": fixtureDir(t), "labelStudioUrl": lsURL, "defaultTarget": "http://vllm:8000/v1"}
	if allowed != nil {
		jd["allowedHosts"] = allowed
	}
	secure := map[string]string{}
	if token != "" {
		secure[plugin.SecureKeyLabelStudioToken] = token
	}
	ds := plugin.New(instanceSettings(t, jd, secure), plugin.WithLogger(logger))
	_, err := ds.Settings()
	require.NoError(t, err)
	t.Cleanup(ds.Dispose)
	return ds
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

func exportBody(t *testing.T, req plugin.ExportRequest) string {
	t.Helper()
	b, err := json.Marshal(req)
	require.NoError(t, err)
	return string(b)
}

func TestExportLabelStudioRefusesViewers(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testLabelStudioToken, "")
	ds := labelStudioDatasource(t, srv.URL, []string{"vllm", hostOf(t, srv.URL)}, testLabelStudioToken, plugintest.NewLogger())
	body := exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1})
	for _, role := range []string{"", "Viewer", "None"} {
		code, resp := call(t, ds, role, http.MethodPost, "export/labelstudio", body)
		assert.Equal(t, http.StatusForbidden, code, "role %q", role)
		assert.Equal(t, "only users with the Editor or Admin role may send runs to Label Studio", errorOf(t, resp))
	}
	assert.Empty(t, srv.Requests(), "nothing reached Label Studio")
	code, _ := call(t, ds, "Editor", http.MethodPost, "export/labelstudio", body)
	assert.Equal(t, http.StatusOK, code)
}

func TestExportLabelStudioRefusesHostsNotAllowed(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testLabelStudioToken, "")
	body := exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1})
	for name, allowed := range map[string][]string{
		"not in allowedHosts":                   {"vllm", "label-studio"},
		"another port":                          {"vllm", "127.0.0.1:1"},
		"no allowedHosts: the default target's": nil,
	} {
		ds := labelStudioDatasource(t, srv.URL, allowed, testLabelStudioToken, plugintest.NewLogger())
		code, resp := call(t, ds, "Admin", http.MethodPost, "export/labelstudio", body)
		assert.Equal(t, http.StatusForbidden, code, name)
		assert.Contains(t, errorOf(t, resp), "Label Studio's host \""+hostOf(t, srv.URL)+"\" is not an allowed host", name)
	}
	assert.Empty(t, srv.Requests(), "nothing reached Label Studio")
}

func TestExportLabelStudioSendsTheRunsShown(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testLabelStudioToken, "")
	logger := plugintest.NewLogger()
	ds := labelStudioDatasource(t, srv.URL, []string{"vllm", hostOf(t, srv.URL)}, testLabelStudioToken, logger)

	// One run into an existing project.
	code, resp := call(t, ds, "Editor", http.MethodPost, "export/labelstudio",
		exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1}))
	require.Equal(t, http.StatusOK, code, resp)
	var got plugin.ExportResponse
	require.NoError(t, json.Unmarshal([]byte(resp), &got))
	assert.Equal(t, plugin.ExportResponse{Kind: "rating", Tasks: 20, Batches: 1, ProjectID: 1,
		ProjectURL: srv.URL + "/projects/1/data"}, got)
	require.Len(t, srv.Imports(), 1)
	var first struct {
		Data map[string]string `json:"data"`
	}
	require.NoError(t, json.Unmarshal(srv.Imports()[0].Tasks[0], &first))
	assert.Equal(t, map[string]string{"request": "req-0", "prompt": "user: question 0", "answer": "answer 0 of aaaaa1"}, first.Data)

	// Two runs, a new project with the pairwise configuration.
	code, resp = call(t, ds, "Admin", http.MethodPost, "export/labelstudio",
		exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA, outputsRunB}, CreateProject: "A vs B"}))
	require.Equal(t, http.StatusOK, code, resp)
	got = plugin.ExportResponse{}
	require.NoError(t, json.Unmarshal([]byte(resp), &got))
	assert.Equal(t, plugin.ExportResponse{Kind: "pairwise", Tasks: 19, Batches: 1, ProjectID: 3, Created: true,
		ProjectURL: srv.URL + "/projects/3/data", LeftOut: plugin.ExportLeftOut{Unpaired: 1}}, got)
	created := srv.Created()
	require.Len(t, created, 1)
	assert.Equal(t, lsconfig.Pairwise, created[0].LabelConfig)
	assert.Equal(t, "A vs B", created[0].Title)

	hostile.NoLeaks(t, "the log", logger.String(), testLabelStudioToken)
}

func TestExportLabelStudioBadRequests(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testLabelStudioToken, "")
	ds := labelStudioDatasource(t, srv.URL, []string{"vllm", hostOf(t, srv.URL)}, testLabelStudioToken, plugintest.NewLogger())
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{"", http.StatusBadRequest, "the request body is empty"},
		{`{"runIds": []}`, http.StatusBadRequest, "one or two runs"},
		{`{"runIds": ["` + outputsRunA + `"]}`, http.StatusBadRequest, "either projectId"},
		{`{"runIds": ["` + outputsRunA + `"], "projectId": 1, "token": "x"}`, http.StatusBadRequest, "unknown field"},
		{`{"runIds": ["../etc"], "projectId": 1}`, http.StatusBadRequest, "runIds"},
		{`{"runIds": ["20261122T120000Z-bbbbb1"], "projectId": 1}`, http.StatusBadRequest, "--record-outputs"},
		{`{"runIds": ["20991122T120000Z-zzzzzz"], "projectId": 1}`, http.StatusNotFound, "zzzzzz"},
		{`{"runIds": ["` + outputsRunA + `"], "projectId": 99}`, http.StatusBadGateway, "HTTP 404"},
	} {
		code, resp := call(t, ds, "Editor", http.MethodPost, "export/labelstudio", tc.body)
		assert.Equal(t, tc.code, code, tc.body)
		assert.Contains(t, errorOf(t, resp), tc.want, tc.body)
	}
}

// A refused token: 502 with Label Studio's reason, which echoed the token,
// scrubbed; a missing URL or token: 503.
func TestSecretExportLabelStudioToken(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testLabelStudioToken, "")
	logger := plugintest.NewLogger()
	wrong := "ls-plugin-wrong-Hq8Ty3Mz"
	ds := labelStudioDatasource(t, srv.URL, []string{"vllm", hostOf(t, srv.URL)}, wrong, logger)
	code, resp := call(t, ds, "Editor", http.MethodPost, "export/labelstudio",
		exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1}))
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, errorOf(t, resp), "Label Studio refused the token (HTTP 401")
	assert.Contains(t, resp, "[REDACTED]", "the server echoed the token")
	hostile.NoLeaks(t, "the answer and the log", resp+logger.String(), wrong)

	// Settings never show it either.
	s, err := ds.Settings()
	require.NoError(t, err)
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	hostile.NoLeaks(t, "the settings", string(raw), wrong)
	assert.Contains(t, string(raw), `"labelStudioToken":"[REDACTED]"`)

	noToken := labelStudioDatasource(t, srv.URL, []string{"vllm", hostOf(t, srv.URL)}, "", plugintest.NewLogger())
	code, resp = call(t, noToken, "Editor", http.MethodPost, "export/labelstudio",
		exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1}))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, errorOf(t, resp), "no Label Studio token")
	noURL := labelStudioDatasource(t, "", nil, testLabelStudioToken, plugintest.NewLogger())
	code, resp = call(t, noURL, "Editor", http.MethodPost, "export/labelstudio",
		exportBody(t, plugin.ExportRequest{RunIDs: []string{outputsRunA}, ProjectID: 1}))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, errorOf(t, resp), "no Label Studio URL")
	assert.Len(t, srv.Requests(), 1, "only the refused import reached Label Studio")
}

func TestLabelStudioSettings(t *testing.T) {
	t.Parallel()
	s, err := plugin.LoadSettings(instanceSettings(t, map[string]any{"resultsDir": "/r", "labelStudioUrl": "http://label-studio:8080/"},
		map[string]string{"labelStudioToken": testLabelStudioToken, "apiKey": "sk-other-key-123"}))
	require.NoError(t, err)
	assert.Equal(t, "http://label-studio:8080", s.LabelStudioURL)
	assert.Equal(t, testLabelStudioToken, s.LabelStudioToken.Value())
	assert.Equal(t, "sk-other-key-123", s.APIKey.Value())

	_, err = plugin.LoadSettings(instanceSettings(t, map[string]any{"resultsDir": "/r",
		"labelStudioUrl": "http://admin:" + testLabelStudioToken + "@label-studio:8080"}, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "labelStudioUrl: must not contain credentials")
	assert.NotContains(t, err.Error(), testLabelStudioToken)

	_, err = plugin.LoadSettings(instanceSettings(t, map[string]any{"resultsDir": "/r"},
		map[string]string{"labelStudioToken": "two words"}))
	assert.ErrorContains(t, err, "labelStudioToken: must not contain spaces")
	assert.False(t, strings.Contains(err.Error(), "two words"))
}
