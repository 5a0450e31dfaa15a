package stacktest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oldLogJobs are the job labels the Loki queries of the workstation this
// stack replaces select ({job="vllm-server"}, {job="vllm-benchmarks"}), by
// the compose service whose logs must carry them. Every other service's
// streams carry no job label.
var oldLogJobs = map[string]string{
	"vllm":     "vllm-server",
	"vllm-sim": "vllm-server",
	"bencher":  "vllm-benchmarks",
}

// checkOldLogJobs runs the relabel rules of the discovery.relabel block over
// the Docker discovery labels of each compose service's container, as Alloy
// does, and checks the job and compose_service labels they give.
func checkOldLogJobs(t *testing.T, blocks []alloyBlock) {
	t.Helper()
	var rules []alloyBlock
	for _, b := range blocks {
		if b.Name == "discovery.relabel" {
			rules = append(rules, b.Children...)
		}
	}
	require.NotEmpty(t, rules, "%s has no relabel rules", alloyConfigPath)
	p := mustLoadCompose(t, "*")
	services := slices.Sorted(func(yield func(string) bool) {
		for name := range p.Services {
			if !yield(name) {
				return
			}
		}
	})
	for name := range oldLogJobs {
		assert.Contains(t, services, name, "compose service %s (its logs carry an old job label) is gone", name)
	}
	for _, name := range services {
		meta := map[string]string{
			"__meta_docker_container_name":                             "/benchstation-" + name + "-1",
			"__meta_docker_container_label_com_docker_compose_project": "benchstation",
			"__meta_docker_container_label_com_docker_compose_service": name,
			"__meta_docker_container_log_stream":                       "stdout",
		}
		got, err := relabel(rules, meta)
		require.NoError(t, err)
		assert.Equal(t, oldLogJobs[name], got["job"], "service %s: job label of its log streams", name)
		assert.Equal(t, name, got["compose_service"], "service %s: compose_service label", name)
	}
}

// relabel applies Alloy's (Prometheus's) replace rules to labels: the
// source labels joined with ";", matched against the anchored regex
// (default "(.*)"), and on a match the target label set to the expanded
// replacement (default "$1"), or removed if that is empty. Only the replace
// action is supported; any other fails.
func relabel(rules []alloyBlock, labels map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	str := func(r alloyBlock, key, def string) (string, error) {
		src, ok := r.Attrs[key]
		if !ok {
			return def, nil
		}
		return strconv.Unquote(strings.TrimSpace(src))
	}
	for _, r := range rules {
		if action, err := str(r, "action", "replace"); err != nil || action != "replace" {
			return nil, fmt.Errorf("relabel rule action %q (%v): only replace is supported here", action, err)
		}
		var sources []string
		if err := json.Unmarshal([]byte(r.Attrs["source_labels"]), &sources); err != nil {
			return nil, fmt.Errorf("source_labels %s: %w", r.Attrs["source_labels"], err)
		}
		expr, err := str(r, "regex", "(.*)")
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			return nil, err
		}
		repl, err := str(r, "replacement", "$1")
		if err != nil {
			return nil, err
		}
		target, err := str(r, "target_label", "")
		if err != nil || target == "" {
			return nil, fmt.Errorf("relabel rule without target_label (%v)", err)
		}
		values := make([]string, len(sources))
		for i, s := range sources {
			values[i] = out[s]
		}
		joined := strings.Join(values, ";")
		m := re.FindStringSubmatchIndex(joined)
		if m == nil {
			continue
		}
		if v := string(re.ExpandString(nil, repl, joined, m)); v != "" {
			out[target] = v
		} else {
			delete(out, target)
		}
	}
	return out, nil
}
