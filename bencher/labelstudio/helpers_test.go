package labelstudio

import (
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/results"
)

// Fixtures: two runs of the same three-prompt workload (plus one request
// the second run never sent, and one failure in each run).

const ms1 = time.Millisecond

// okRecord is a successful request with known times.
func okRecord(index int, id, prompt, output string, tokens int) bencher.Record {
	sched := time.Duration(index) * 100 * ms1
	return bencher.Record{
		Index: index, ID: id, Scheduled: sched, Sent: sched + ms1, FirstToken: sched + 41*ms1 + 250*time.Microsecond,
		End: sched + 812*ms1 + 500*time.Microsecond, ChunkTimes: []time.Duration{sched + 41*ms1},
		InputTokens: 12, OutputTokens: tokens, TokenSource: bencher.TokensFromUsage, Attempts: 1,
		FinishReason: "stop", Prompt: prompt, Output: output,
	}
}

// failedRecord failed with HTTP 500 before its first token: TTFT and
// output tokens were never measured.
func failedRecord(index int, id, prompt string) bencher.Record {
	sched := time.Duration(index) * 100 * ms1
	return bencher.Record{
		Index: index, ID: id, Scheduled: sched, Sent: sched + ms1, End: sched + 30*ms1, Attempts: 1,
		HTTPStatus: 500, Error: bencher.ErrHTTPStatus, ErrorMessage: "internal error", Prompt: prompt,
	}
}

// notSentRecord was scheduled and never sent.
func notSentRecord(index int, id, prompt string) bencher.Record {
	return bencher.Record{Index: index, ID: id, Scheduled: time.Duration(index) * 100 * ms1, Error: bencher.ErrNotSent, Prompt: prompt}
}

func testDoc(id, profile, model string, simulated bool, records ...bencher.Record) *results.Document {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &results.Document{
		Header: results.Header{
			SchemaVersion: results.SchemaVersion, Kind: results.Kind, ID: id, Profile: profile,
			Labels: map[string]string{}, Status: results.StatusCompleted,
			Config:      results.Config{Run: bencher.RunConfig{RecordOutputs: true}},
			Environment: results.Environment{Target: "http://vllm:8000/v1", Model: model, Simulated: simulated, StartTime: start, EndTime: start.Add(time.Minute)},
			RecordCount: len(records),
		},
		Records: records,
	}
}

// runA is the first run: Qwen, three successes and one failure.
func runA() *results.Document {
	return testDoc("20260301T100000Z-aaaaaa", "high-parallelism", "Qwen/Qwen2.5-1.5B-Instruct", false,
		okRecord(0, "0", "user: What is the capital of France?", "The capital of France is Paris.", 8),
		okRecord(1, "1", "user: Write a haiku about GPUs.", "Silicon rivers\n<hot> cores hum in the dark—\n\"tokens\" flow like rain", 19),
		failedRecord(2, "2", "user: Explain KV caching in one sentence."),
		okRecord(3, "3", "user: 2+2?", "4", 1),
	)
}

// runB is the second run: Llama; request 1 failed, request 3 was never sent.
func runB() *results.Document {
	return testDoc("20260301T110000Z-bbbbbb", "high-parallelism", "meta-llama/Llama-3.1-8B-Instruct", true,
		okRecord(0, "0", "user: What is the capital of France?", "Paris.", 3),
		failedRecord(1, "1", "user: Write a haiku about GPUs."),
		okRecord(2, "2", "user: Explain KV caching in one sentence.", "It keeps past keys and values so they are not recomputed.", 14),
		notSentRecord(3, "3", "user: 2+2?"),
	)
}
