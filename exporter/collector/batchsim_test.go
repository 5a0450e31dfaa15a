package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/sim/simtest"
	"github.com/benchstation/benchstation/exporter/batch"
)

// startSimBatch serves the bencher's simulator, uploads an input file of n
// chat requests of tokens tokens each and creates a batch of it; it
// returns the simulator's base URL and the batch id.
func startSimBatch(t *testing.T, n, tokens int, opts ...sim.Option) (string, string) {
	t.Helper()
	base := simtest.Start(t, opts...)

	var in strings.Builder
	for i := range n {
		line, err := json.Marshal(map[string]any{"custom_id": fmt.Sprint("r", i), "method": "POST", "url": sim.PathChatCompletions,
			"body": map[string]any{"model": sim.DefaultModel, "max_tokens": tokens, "ignore_eos": true,
				"messages": []map[string]string{{"role": "user", "content": fmt.Sprint("Question ", i)}}}})
		require.NoError(t, err)
		in.Write(append(line, '\n'))
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("purpose", "batch"))
	fw, err := mw.CreateFormFile("file", "in.jsonl")
	require.NoError(t, err)
	_, err = io.WriteString(fw, in.String())
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	var file, created struct{ ID string }
	simPost(t, base+sim.PathFiles, mw.FormDataContentType(), &body, &file)
	req, _ := json.Marshal(map[string]string{"input_file_id": file.ID, "endpoint": sim.PathChatCompletions, "completion_window": "24h"})
	simPost(t, base+sim.PathBatches, "application/json", bytes.NewReader(req), &created)
	return base, created.ID
}

func simPost(t *testing.T, url, contentType string, body io.Reader, out any) {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, out))
}

// TestBatchCollectorFollowsTheSimulator points the batch collector at the
// bencher's simulator, the real Batch API of this project, and follows a
// batch as it runs: the exporter's series move with it until it completes.
func TestBatchCollectorFollowsTheSimulator(t *testing.T) {
	t.Parallel()
	const n, tokens = 6, 400
	// Two requests at a time, 2 ms a token: each round takes 0.8 s or more.
	base, id := startSimBatch(t, n, tokens, sim.WithDecodeTime(2*time.Millisecond, 0), sim.WithMaxNumSeqs(2), sim.WithBatchShare(1))
	s := newBatchSetup(t, batch.Config{}, nil, nil, "sim="+base)
	s.clock.Add(time.Since(batchT0)) // the simulator's times are real ones
	series := func(got, name string) (float64, bool) {
		m := regexp.MustCompile(regexp.QuoteMeta(name+`{batch_id="`+id+`",endpoint="sim"} `) + `(\S+)`).FindStringSubmatch(got)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v, true
	}
	var (
		progress []float64 // completed requests seen while in progress
		last     string
	)
	require.Eventually(t, func() bool {
		require.NoError(t, s.poll(t)[0])
		last = scrape(t, s.reg)
		if strings.Contains(last, `batch_id="`+id+`",endpoint="sim",model="`+sim.DefaultModel+`",status="in_progress"} 1`) {
			done, ok := series(last, "benchstation_batch_job_requests_completed")
			require.True(t, ok, last)
			progress = append(progress, done)
		}
		return strings.Contains(last, `status="completed"} 1`)
	}, time.Minute, 5*time.Millisecond, "the batch completes")

	has(t, last, `benchstation_batch_jobs{endpoint="sim",status="completed"} 1`)
	has(t, last, `benchstation_batch_jobs{endpoint="sim",status="in_progress"} 0`)
	has(t, last, `benchstation_batch_job_info{api_endpoint="/v1/chat/completions",batch_id="`+id+`",endpoint="sim",model="`+sim.DefaultModel+`",status="completed"} 1`)
	for name, want := range map[string]float64{"benchstation_batch_job_requests": n, "benchstation_batch_job_requests_completed": n,
		"benchstation_batch_job_requests_failed": 0, "benchstation_batch_job_progress_ratio": 1} {
		got, ok := series(last, name)
		if assert.True(t, ok, name) {
			assert.Equal(t, want, got, name)
		}
	}
	_, finished := series(last, "benchstation_batch_job_finished_timestamp_seconds")
	assert.True(t, finished)

	require.NotEmpty(t, progress, "polls saw the batch in progress")
	assert.IsNonDecreasing(t, progress)
	rising := 0
	for i := 1; i < len(progress); i++ {
		if progress[i] > progress[i-1] {
			rising++
		}
	}
	assert.Positive(t, rising, "completed requests rose between polls while in progress: %v", progress)
	assert.Less(t, progress[len(progress)-1], float64(n), "in progress, not all requests were done yet")
}
