package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/sim/simtest"
	"github.com/benchstation/benchstation/internal/promtest"
)

// The stack's batch: stackBatchOK chat requests of stackBatchTokens
// tokens, answered one at a time at stackBatchTokenTime a token (3 s
// each, so every count of completed requests lasts several exporter polls
// and Prometheus scrapes), and one request the simulator refuses
// (max_tokens past the context window), which fails.
const (
	stackBatchOK        = 5
	stackBatchTokens    = 150
	stackBatchTokenTime = 20 * time.Millisecond
	stackBatchTimeout   = 2 * time.Minute // for the batch to complete, and for Prometheus to show it
)

// stackBatch is a batch running on a simulator of its own, whose Batch API
// the first exporter polls.
type stackBatch struct {
	base string // the simulator's base URL
	id   string
}

// startBatchSim serves the simulator of the stack's batch, beside the
// stack's (the batch does not load the engine the stack benchmarks).
func startBatchSim(t *testing.T) *stackBatch {
	t.Helper()
	return &stackBatch{base: simtest.Start(t, sim.WithDecodeTime(stackBatchTokenTime, 0), sim.WithMaxNumSeqs(1),
		sim.WithBatchShare(1))}
}

// create creates the stack's batch through the simulator's HTTP API:
// upload of the input file, then the batch.
func (b *stackBatch) create(t *testing.T) {
	t.Helper()
	var in bytes.Buffer
	line := func(customID string, maxTokens int) {
		b, err := json.Marshal(map[string]any{"custom_id": customID, "method": "POST", "url": sim.PathChatCompletions,
			"body": map[string]any{"model": sim.DefaultModel, "max_tokens": maxTokens, "ignore_eos": true,
				"messages": []map[string]string{{"role": "user", "content": "Summarise request " + customID + "."}}}})
		require.NoError(t, err)
		in.Write(append(b, '\n'))
	}
	for i := range stackBatchOK {
		line(fmt.Sprint("ok-", i), stackBatchTokens)
	}
	line("too-long", 100_000_000)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("purpose", "batch"))
	fw, err := mw.CreateFormFile("file", "stack-batch.jsonl")
	require.NoError(t, err)
	_, err = fw.Write(in.Bytes())
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	var file, created struct{ ID string }
	batchAPICall(t, http.MethodPost, b.base+sim.PathFiles, mw.FormDataContentType(), &body, &file)
	req, err := json.Marshal(map[string]string{"input_file_id": file.ID, "endpoint": sim.PathChatCompletions,
		"completion_window": "24h"})
	require.NoError(t, err)
	batchAPICall(t, http.MethodPost, b.base+sim.PathBatches, "application/json", bytes.NewReader(req), &created)
	require.NotEmpty(t, created.ID)
	b.id = created.ID
}

// batchAPICall calls the simulator's Batch API and decodes its 200 answer
// into out.
func batchAPICall(t *testing.T, method, url, contentType string, body io.Reader, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, url, b)
	require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, url, b)
}

// simBatch is what the check reads of the simulator's Batch object.
type simBatch struct {
	Status        string  `json:"status"`
	Model         *string `json:"model"`
	RequestCounts struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	} `json:"request_counts"`
}

// checkStackBatch waits for the stack's batch to complete on the
// simulator, then checks that the exporter's series, as Prometheus holds
// them, followed it: its final status, model and counts equal the
// simulator's, and Prometheus saw it in progress with its count of
// completed requests rising.
func checkStackBatch(t *testing.T, prom *promtest.Server, b *stackBatch) {
	t.Helper()
	var final simBatch
	require.Eventually(t, func() bool {
		batchAPICall(t, http.MethodGet, b.base+sim.PathBatches+"/"+b.id, "", nil, &final)
		return final.Status == "completed"
	}, stackBatchTimeout, 250*time.Millisecond, "the simulator's batch %s did not complete (last status %q)", b.id, final.Status)
	require.Equal(t, stackBatchOK+1, final.RequestCounts.Total)
	require.Equal(t, stackBatchOK, final.RequestCounts.Completed)
	require.Equal(t, 1, final.RequestCounts.Failed)
	require.NotNil(t, final.Model)

	ctx, cancel := context.WithTimeout(context.Background(), stackBatchTimeout+30*time.Second)
	defer cancel()
	sel := `{batch_id="` + b.id + `"}`
	// Each query must return one series of the value wanted (and, for
	// benchstation_batch_job_info, those labels).
	want := []struct {
		query  string
		value  float64
		labels map[string]string
	}{
		{"benchstation_batch_job_info" + sel, 1, map[string]string{"status": final.Status, "model": *final.Model,
			"api_endpoint": sim.PathChatCompletions}},
		{"benchstation_batch_job_requests" + sel, float64(final.RequestCounts.Total), nil},
		{"benchstation_batch_job_requests_completed" + sel, float64(final.RequestCounts.Completed), nil},
		{"benchstation_batch_job_requests_failed" + sel, float64(final.RequestCounts.Failed), nil},
		{"benchstation_batch_job_progress_ratio" + sel, 1, nil},
		// The simulator holds this one batch only.
		{`sum(benchstation_batch_jobs{status="completed"})`, 1, nil},
		{`sum(benchstation_batch_jobs{status="in_progress"})`, 0, nil},
		// The exporter's view while the batch ran, kept by Prometheus.
		{`max_over_time(benchstation_batch_job_info{batch_id="` + b.id + `",status="in_progress"}[15m])`, 1, nil},
	}
	check := func() []string {
		var miss []string
		for _, w := range want {
			got, err := prom.Query(ctx, w.query)
			if err != nil {
				miss = append(miss, err.Error())
				continue
			}
			if len(got) != 1 || got[0].Value != strconv.FormatFloat(w.value, 'f', -1, 64) || !hasLabels(got[0].Metric, w.labels) {
				miss = append(miss, fmt.Sprintf("%s: %v, want one series of %v with %v", w.query, got, w.value, w.labels))
			}
		}
		return miss
	}
	var miss []string
	deadline := time.Now().Add(stackBatchTimeout)
	for miss = check(); len(miss) > 0 && time.Now().Before(deadline); miss = check() {
		time.Sleep(500 * time.Millisecond)
	}
	assert.Empty(t, miss, "Prometheus does not show the simulator's batch %s as the simulator does", b.id)

	// Rising while in progress: at least two changes of the count
	// (0 → 1 → …) were scraped, not only its start and end. The batch was
	// created with Prometheus ready, so only a scrape or poll held up for
	// more than one request's 3 s loses a change.
	got, err := prom.Query(ctx, `changes(benchstation_batch_job_requests_completed`+sel+`[15m])`)
	require.NoError(t, err)
	if assert.Len(t, got, 1) {
		changes, err := strconv.ParseFloat(got[0].Value, 64)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, changes, 2.0, "Prometheus saw the completed requests of batch %s rise", b.id)
	}
}

// hasLabels reports whether metric has every label of want.
func hasLabels(metric, want map[string]string) bool {
	for k, v := range want {
		if metric[k] != v {
			return false
		}
	}
	return true
}
