package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/bencher/sim/simtest"
)

// TestBencherJobRunsAsRendered runs the rendered Jobs' commands as the pods
// would, with the real bencher binary: each shard's args with its
// $(JOB_COMPLETION_INDEX), against the simulator instead of the cluster's
// vLLM and with a temporary directory as the results volume, then the
// merge container's shell line. The merged run must hold every shard's
// requests under the run's name: the chart's flags are the bencher's.
func TestBencherJobRunsAsRendered(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the bencher and runs a sharded run")
	}
	const shards, requests = 2, 40
	vals := allOn()
	vals["bencher"] = map[string]any{"enabled": true, "shards": shards, "startAt": "2026-12-02T18:00:00Z",
		"apiKey": map[string]any{"existingSecret": "vllm-key"},
		"args":   []any{"--profile=high-parallelism", "--requests=" + strconv.Itoa(requests), "--allow-saturated"}}
	objs := decodeAll(t, render(t, vals))
	shardPod := get[*batchv1.Job](t, objs, shardsJob).Spec.Template.Spec
	mergePod := get[*batchv1.Job](t, objs, mergeJob).Spec.Template.Spec
	require.Len(t, shardPod.Containers, 1)
	require.Len(t, mergePod.Containers, 1)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "bencher"), "github.com/benchstation/benchstation/bencher/cmd/bencher")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	base := simtest.Start(t, sim.WithZeroDelay())

	volume := t.TempDir() // the pods' /results
	keyFile := filepath.Join(t.TempDir(), "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-test-0123456789\n"), 0o600))
	start := time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339)
	podArgs := func(args []string, index int) []string {
		var out []string
		for _, a := range args {
			a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(index))
			switch {
			case strings.HasPrefix(a, "--target="):
				a = "--target=" + base + "/v1"
			case strings.HasPrefix(a, "--start-at="):
				a = "--start-at=" + start
			case strings.HasPrefix(a, "--api-key-file="):
				a = "--api-key-file=" + keyFile
			}
			out = append(out, strings.ReplaceAll(a, "/results", volume))
		}
		return out
	}

	// The shards' init container empties its directory; here it is new.
	c := shardPod.Containers[0]
	procs := make([]*exec.Cmd, shards)
	logs := make([]strings.Builder, shards)
	for i := range procs {
		procs[i] = exec.Command(filepath.Join(bin, "bencher"), podArgs(c.Args, i)...)
		procs[i].Stdout, procs[i].Stderr = &logs[i], &logs[i]
		require.NoError(t, procs[i].Start())
	}
	for i, p := range procs {
		require.NoError(t, p.Wait(), "shard %d: %s", i, logs[i].String())
	}

	m := mergePod.Containers[0]
	require.Len(t, m.Command, 4, "busybox sh -c LINE: %q", m.Command)
	line := strings.ReplaceAll(m.Command[3], "/usr/local/bin/bencher", filepath.Join(bin, "bencher"))
	merge := exec.Command("sh", "-c", line)
	for _, e := range m.Env {
		merge.Env = append(merge.Env, e.Name+"="+strings.ReplaceAll(e.Value, "/results", volume))
	}
	out, err = merge.CombinedOutput()
	require.NoError(t, err, "merge: %s", out)

	doc, err := results.Read(filepath.Join(volume, "run1.json"))
	require.NoError(t, err, "merge: %s", out)
	assert.Equal(t, "run1", doc.ID, "the merged run is named as the chart names it")
	require.NotNil(t, doc.Merged, "a merged document")
	assert.Len(t, doc.Merged.Shards, shards)
	assert.Len(t, doc.Records, requests, "every shard's requests")
}
