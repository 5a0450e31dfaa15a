package stacktest

import (
	"fmt"
	"math"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/provisioning"
)

// alertCase is one scenario of an alert rule's PromQL, run by
// `promtool test rules` on synthetic series: the samples the query must
// give (before Grafana's threshold), or none.
type alertCase struct {
	name   string
	uid    string
	series map[string]string // series → promtool values, one sample a minute
	at     string            // evaluation time
	want   map[string]float64
}

// alertPromQL returns the PromQL of the alert rule uid.
func alertPromQL(t *testing.T, uid string) string {
	t.Helper()
	queries, err := provisioning.PromQL()
	require.NoError(t, err)
	for _, q := range queries {
		if q.UID == uid {
			return q.Expr
		}
	}
	t.Fatalf("no alert rule %s", uid)
	return ""
}

// runAlertCases checks each case with promtool. Values are compared to
// four decimals: the query is evaluated as round((expr) * 10000).
func runAlertCases(t *testing.T, cases []alertCase) {
	t.Helper()
	bin := promtool(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			expr := alertPromQL(t, c.uid)
			var series []any
			for s, v := range c.series {
				series = append(series, map[string]any{"series": s, "values": v})
			}
			samples := []any{}
			for labels, v := range c.want {
				samples = append(samples, map[string]any{"labels": labels, "value": math.Round(v * 10000)})
			}
			test := func(exp []any) map[string]any {
				return map[string]any{
					"rule_files":          []any{},
					"evaluation_interval": "1m",
					"tests": []any{map[string]any{
						"interval":     "1m",
						"input_series": series,
						"promql_expr_test": []any{map[string]any{
							"expr": "round((" + expr + ") * 10000)", "eval_time": c.at, "exp_samples": exp,
						}},
					}},
				}
			}
			dir := t.TempDir()
			out, err := exec.Command(bin, "test", "rules", writeYAML(t, dir, "test.yml", test(samples))).CombinedOutput()
			if err != nil {
				// Show what the query gave: a test that expects nothing fails
				// and lists it.
				got, _ := exec.Command(bin, "test", "rules", writeYAML(t, dir, "got.yml", test([]any{}))).CombinedOutput()
				t.Fatalf("alert %s, %s: want (×10000) %v\n%s\nwhat it gave:\n%s", c.uid, c.name, samples, out, got)
			}
		})
	}
}

// ramp is a counter that grows by perMinute every minute for 20 minutes.
func ramp(perMinute float64) string { return fmt.Sprintf("0+%gx20", perMinute) }

// TestAlertsForWhatIsMissing checks the rules that fire when something
// is missing: vLLM down or not scraped at all, NVML up but no GPU, and
// Batch API polls failing.
func TestAlertsForWhatIsMissing(t *testing.T) {
	t.Parallel()
	runAlertCases(t, []alertCase{
		{name: "vLLM down on one host", uid: "benchstation-vllm-down", at: "5m",
			series: map[string]string{`up{job="vllm",instance="a:8000"}`: "0x10", `up{job="vllm",instance="b:8000"}`: "1x10"},
			want:   map[string]float64{`{instance="a:8000"}`: 0, `{instance="b:8000"}`: 1}},
		{name: "no vLLM target at all", uid: "benchstation-vllm-down", at: "5m",
			series: map[string]string{`up{job="prometheus",instance="localhost:9090"}`: "1x10"},
			want:   map[string]float64{`{job="vllm"}`: 0}},
		{name: "NVML up with and without GPUs, and down", uid: "benchstation-nvml-no-gpus", at: "5m",
			series: map[string]string{
				`nvidia_gpu_nvml_up{instance="a"}`: "1x10", `nvidia_gpu_up{instance="a",gpu="0"}`: "1x10",
				`nvidia_gpu_up{instance="a",gpu="1"}`: "0x10",
				`nvidia_gpu_nvml_up{instance="b"}`:    "1x10",
				`nvidia_gpu_nvml_up{instance="c"}`:    "0x10",
			},
			want: map[string]float64{`{instance="a"}`: 2, `{instance="b"}`: 0}},
		{name: "one Batch API endpoint failing", uid: "benchstation-batch-poll-failing", at: "5m",
			series: map[string]string{
				`benchstation_batch_poll_success{instance="e:9849",endpoint="down:8000"}`: "0x10",
				`benchstation_batch_poll_success{instance="e:9849",endpoint="up:8000"}`:   "1x10",
			},
			want: map[string]float64{`{instance="e:9849",endpoint="down:8000"}`: 0, `{instance="e:9849",endpoint="up:8000"}`: 1}},
		{name: "no Batch API configured", uid: "benchstation-batch-poll-failing", at: "5m",
			series: map[string]string{`nvidia_gpu_nvml_up{instance="e:9849"}`: "1x10"},
			want:   map[string]float64{}},
	})
}

// TestFailedRequestsAlertCountsWhatClientsSaw checks the failed-requests
// rule on the HTTP and engine counts of a vLLM server, per 10 minutes.
// In the first case 1000 requests came in: 20 answered 4xx (the client's
// fault), 20 answered 500 before reaching the engine, and 960 answered 200,
// of which the engine aborted 18 (cut mid-stream) and errored 15 (an error
// event after the 200). The clients saw 53 failures in 980 requests that
// were not their fault, 5.41 %; the engine counters alone say 33 in 960,
// 3.44 %, under the 5 % threshold.
func TestFailedRequestsAlertCountsWhatClientsSaw(t *testing.T) {
	t.Parallel()
	const uid = "benchstation-vllm-failed-requests"
	http := func(handler, method, status string) string {
		return fmt.Sprintf(`http_requests_total{job="vllm",instance="v:8000",handler=%q,method=%q,status=%q}`, handler, method, status)
	}
	engine := func(reason string) string {
		return fmt.Sprintf(`vllm:request_success_total{job="vllm",instance="v:8000",model_name="m",engine="0",finished_reason=%q}`, reason)
	}
	per10m := func(n float64) string { return ramp(n / 10) }
	runAlertCases(t, []alertCase{
		{name: "rejected before the engine, and failed after HTTP 200", uid: uid, at: "15m",
			series: map[string]string{
				http("/v1/chat/completions", "POST", "2xx"): per10m(960),
				http("/v1/chat/completions", "POST", "4xx"): per10m(20),
				http("/v1/chat/completions", "POST", "5xx"): per10m(20),
				http("/v1/models", "GET", "2xx"):            per10m(300),
				engine("stop"):                              per10m(900),
				engine("length"):                            per10m(27),
				engine("abort"):                             per10m(18),
				engine("error"):                             per10m(15),
			},
			want: map[string]float64{`{instance="v:8000"}`: 53.0 / 980}},
		{name: "a non-streamed engine error is one failure, not two", uid: uid, at: "15m",
			series: map[string]string{
				http("/v1/completions", "POST", "2xx"): per10m(90),
				http("/v1/completions", "POST", "5xx"): per10m(10),
				engine("stop"):                         per10m(90),
				engine("error"):                        per10m(10),
			},
			want: map[string]float64{`{instance="v:8000"}`: 0.1}},
		{name: "only client errors", uid: uid, at: "15m",
			series: map[string]string{
				http("/v1/chat/completions", "POST", "4xx"): per10m(50),
				engine("stop"): "0x20",
			},
			want: map[string]float64{}},
		{name: "no traffic", uid: uid, at: "15m",
			series: map[string]string{
				http("/v1/chat/completions", "POST", "2xx"): "100x20",
				engine("stop"): "100x20",
			},
			want: map[string]float64{}},
	})
}
