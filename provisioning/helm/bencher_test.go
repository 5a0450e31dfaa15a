package helm

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	shardsJob = "Job/bs-benchstation-bencher-run1"
	mergeJob  = "Job/bs-benchstation-bencher-run1-merge"
)

// flagValue returns the value of --name=value in args, and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestBencherIsOffByDefault: no Job, no claim without bencher.enabled.
func TestBencherIsOffByDefault(t *testing.T) {
	t.Parallel()
	for _, o := range render(t, nil) {
		assert.NotContains(t, []string{"Job", "PersistentVolumeClaim"}, o.Kind, o.Name)
	}
}

// TestBencherShardsJob checks the Indexed Job: one completion per shard,
// all at once, each pod running its shard from the common start instant
// and writing its document to its own directory of the results volume.
func TestBencherShardsJob(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, allOn()))
	job := get[*batchv1.Job](t, objs, shardsJob)
	require.NotNil(t, job.Spec.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *job.Spec.CompletionMode)
	assert.EqualValues(t, 4, *job.Spec.Completions)
	assert.EqualValues(t, 4, *job.Spec.Parallelism)
	assert.EqualValues(t, 0, *job.Spec.BackoffLimitPerIndex, "a failed shard is not retried by default")
	pod := job.Spec.Template.Spec
	assert.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy, "backoffLimitPerIndex needs Never")

	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, "benchstation/bencher:"+loadChart(t).Metadata.AppVersion, c.Image)
	require.NotEmpty(t, c.Args)
	assert.Equal(t, "run", c.Args[0])
	shard, ok := flagValue(c.Args, "--shard")
	require.True(t, ok, "args name --shard: %q", c.Args)
	assert.Equal(t, "$(JOB_COMPLETION_INDEX)/4", shard)
	start, ok := flagValue(c.Args, "--start-at")
	require.True(t, ok, "args name --start-at: %q", c.Args)
	assert.Equal(t, "2026-12-02T18:00:00Z", start)
	target, _ := flagValue(c.Args, "--target")
	assert.Equal(t, "http://vllm.serving:8000/v1", target)
	seed, _ := flagValue(c.Args, "--seed")
	assert.Equal(t, "1", seed)
	dir, _ := flagValue(c.Args, "--results-dir")
	assert.Equal(t, "/results/run1/shard-$(JOB_COMPLETION_INDEX)", dir)
	keyFile, _ := flagValue(c.Args, "--api-key-file")
	assert.Equal(t, "/etc/benchstation/target-key/api-key", keyFile)
	assert.Contains(t, c.Args, "--profile=high-parallelism")

	// $(JOB_COMPLETION_INDEX) expands from the container's own variable:
	// the index annotation the Job controller sets.
	var index *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "JOB_COMPLETION_INDEX" {
			index = &c.Env[i]
		}
	}
	require.NotNil(t, index)
	require.NotNil(t, index.ValueFrom)
	assert.Equal(t, "metadata.annotations['batch.kubernetes.io/job-completion-index']", index.ValueFrom.FieldRef.FieldPath)

	claims := map[string]string{}
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	assert.Equal(t, map[string]string{"results": "bs-benchstation-bencher-results"}, claims)
	assert.Contains(t, objs, "PersistentVolumeClaim/bs-benchstation-bencher-results")
}

// TestBencherMergeJob: the merge waits for every shard's document, then
// runs bencher merge over them into the run's document.
func TestBencherMergeJob(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, allOn()))
	job := get[*batchv1.Job](t, objs, mergeJob)
	assert.Nil(t, job.Spec.CompletionMode)
	pod := job.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 1)
	wait := pod.InitContainers[0]
	env := map[string]string{}
	for _, e := range wait.Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, map[string]string{"RUN_DIR": "/results/run1", "SHARDS": "4"}, env)
	require.Len(t, pod.Containers, 1)
	cmd := strings.Join(pod.Containers[0].Command, " ")
	assert.Contains(t, cmd, `bencher merge "$RUN_DIR"/shard-*/*.json -o "$RUN_DIR.json"`)
	shards := get[*batchv1.Job](t, objs, shardsJob)
	assert.Greater(t, *job.Spec.ActiveDeadlineSeconds, *shards.Spec.ActiveDeadlineSeconds, "the merge outlives the shards it waits for")

	_, err := renderErr(t, map[string]any{"bencher": map[string]any{"enabled": true, "mergeDeadlineSeconds": 60, "activeDeadlineSeconds": 600}})
	assert.ErrorContains(t, err, "bencher.mergeDeadlineSeconds (60) must be longer than bencher.activeDeadlineSeconds (600)")
}

// TestBencherStartDerivedAtInstall: without startAt, the start is
// startDelay after rendering, in UTC, the same instant for every shard
// (one pod template). Rendering reads the clock, so the test brackets it.
func TestBencherStartDerivedAtInstall(t *testing.T) {
	t.Parallel()
	before := time.Now().Truncate(time.Second)
	objs := decodeAll(t, render(t, map[string]any{"bencher": map[string]any{"enabled": true, "startDelay": "2m"}}))
	after := time.Now()
	c := get[*batchv1.Job](t, objs, shardsJob).Spec.Template.Spec.Containers[0]
	v, ok := flagValue(c.Args, "--start-at")
	require.True(t, ok)
	start, err := time.Parse(time.RFC3339, v)
	require.NoError(t, err, "--start-at=%s is RFC 3339", v)
	assert.True(t, strings.HasSuffix(v, "Z"), "UTC: %s", v)
	assert.False(t, start.Before(before.Add(2*time.Minute)), "%s is before %s + 2m", start, before)
	assert.False(t, start.After(after.Add(2*time.Minute)), "%s is after %s + 2m", start, after)
}

// TestBencherExistingClaim: no claim is made, the given one is mounted.
func TestBencherExistingClaim(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, render(t, map[string]any{"bencher": map[string]any{"enabled": true,
		"results": map[string]any{"existingClaim": "bench-results"}}}))
	for k := range objs {
		assert.False(t, strings.HasPrefix(k, "PersistentVolumeClaim/"), k)
	}
	for _, name := range []string{shardsJob, mergeJob} {
		var claims []string
		for _, v := range get[*batchv1.Job](t, objs, name).Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claims = append(claims, v.PersistentVolumeClaim.ClaimName)
			}
		}
		assert.Equal(t, []string{"bench-results"}, claims, name)
	}
	c := get[*batchv1.Job](t, objs, shardsJob).Spec.Template.Spec.Containers[0]
	assert.False(t, slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--api-key-file") }),
		"no key file without a Secret")
}
