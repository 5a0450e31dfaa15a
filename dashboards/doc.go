// Package dashboards builds Benchstation's Grafana dashboards as code with
// the Grafana Foundation SDK. The JSON that Grafana provisions is generated
// from it and committed next to this file (gpu-vllm.json, benchmarks.json,
// batch-jobs.json); `go tool mage dashboards` regenerates it, and a test
// fails when the committed JSON and the code disagree.
//
// Every PromQL expression of the dashboards is checked by the tests: it
// parses, and every metric it names exists in the exporter's golden
// output, the vLLM reference exposition, the bencher's live metrics or the
// repository's recording rules.
package dashboards
