package results

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
)

// shardResults splits a whole run's result as n shards would have measured
// it: shard k has the records of the indices k mod n, and the run's
// configuration with the shard count and start instant. Shard late
// started late by lateBy (a shard within the start's grace): its record
// times count from its own start.
func shardResults(whole *bencher.Result, n, late int, lateBy time.Duration) []*bencher.Result {
	out := make([]*bencher.Result, n)
	for k := range out {
		r := *whole
		r.Config.Shards, r.Config.StartAt = n, whole.Start.UTC()
		r.Shard = &bencher.Shard{Index: k, Count: n, Concurrency: bencher.ShareOf(whole.Config.Concurrency, k, n),
			Requests: bencher.ShareOf(whole.Config.Requests, k, n)}
		r.ClockOffset = &bencher.ClockOffset{Offset: time.Duration(k) * time.Millisecond, Uncertainty: 2 * time.Millisecond, Samples: 9}
		r.Records = nil
		shift := time.Duration(0)
		if k == late {
			shift = lateBy
			r.Start = whole.Start.Add(lateBy)
		}
		for _, rec := range whole.Records {
			if rec.Index%n == k {
				r.Records = append(r.Records, shifted(rec, -shift))
			}
		}
		out[k] = &r
	}
	return out
}

// writeShards writes the shards' documents of results into dir and
// returns their files, in the order given.
func writeShards(t *testing.T, dir string, rs []*bencher.Result, meta Meta) []string {
	t.Helper()
	var files []string
	for _, r := range rs {
		m := meta
		m.ID = "shard-" + time.Duration(r.Shard.Index).String() + "-of-" + time.Duration(r.Shard.Count).String()
		m.ID = strings.ReplaceAll(m.ID, "ns", "")
		m.RunID, m.Host = "20261202T170000Z-abcdef", "host-"+string(rune('a'+r.Shard.Index))
		path, err := Write(dir, New(r, m))
		require.NoError(t, err)
		files = append(files, path)
	}
	return files
}

// readAll reads the documents at files.
func readAll(t *testing.T, files []string) []*Document {
	t.Helper()
	docs := make([]*Document, len(files))
	for i, f := range files {
		d, err := Read(f)
		require.NoError(t, err)
		docs[i] = d
	}
	return docs
}

func TestMergeRecomputesTheSummaryOfOneRun(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	whole := fakeResult(500, start)
	whole.Config.Requests = 500
	meta := fullMeta(t)
	single := New(whole, meta)
	sch := compileSchema(t)
	for _, n := range []int{1, 2, 3, 4, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			files := writeShards(t, t.TempDir(), shardResults(whole, n, n-1, 3*time.Millisecond), meta)
			slices.Reverse(files) // the order of the files does not matter
			docs := readAll(t, files)
			for _, d := range docs {
				require.NoError(t, validateJSON(sch, encode(t, d)), "shard document")
			}
			got, err := Merge(docs, files)
			require.NoError(t, err)
			assert.Equal(t, single.Summary, got.Summary, "the summary, recomputed from the records")
			assert.Equal(t, single.Errors, got.Errors)
			assert.Equal(t, single.Gates, got.Gates)
			assert.Equal(t, single.Records, got.Records, "the records, by index, on the run's clock")
			assert.Equal(t, "20261202T170000Z-abcdef", got.ID)
			assert.Equal(t, StatusCompleted, got.Status)
			assert.Nil(t, got.Shard)
			assert.Equal(t, n, got.Config.Run.Shards)
			assert.Equal(t, 8, got.Config.Run.Concurrency)
			assert.True(t, got.Environment.StartTime.Equal(start))
			require.NotNil(t, got.Merged)
			assert.Equal(t, n, got.Merged.Count)
			require.Len(t, got.Merged.Shards, n)
			last := got.Merged.Shards[n-1]
			assert.Equal(t, 3*time.Millisecond, last.Shift, "the late shard's records were moved by its lateness")
			assert.Equal(t, bencher.ShareOf(500, n-1, n), last.RecordCount)
			assert.Equal(t, "host-"+string(rune('a'+n-1)), last.Host)
			assert.Equal(t, time.Duration(n-1)*time.Millisecond, last.ClockOffset.Offset)
			if n > 1 {
				require.NotNil(t, got.Merged.ClockSpread)
				assert.Equal(t, time.Duration(n-1)*time.Millisecond, *got.Merged.ClockSpread)
				assert.Equal(t, 4*time.Millisecond, *got.Merged.ClockSpreadUncertainty)
			}
			data := encode(t, got)
			require.NoError(t, validateJSON(sch, data), "merged document")
			path, err := Write(t.TempDir(), got)
			require.NoError(t, err)
			back, err := Read(path)
			require.NoError(t, err)
			assert.Equal(t, got.Merged, back.Merged)
			assert.Equal(t, got.Summary, back.Summary)
		})
	}
}

func TestMergeRefusesOtherRuns(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	whole := fakeResult(40, start)
	meta := fullMeta(t)
	shards := func(edit func(k int, r *bencher.Result, m *Meta)) []*Document {
		var docs []*Document
		for k, r := range shardResults(whole, 4, -1, 0) {
			m := meta
			m.RunID, m.ID = "run-1", "shard-"+string(rune('0'+k))
			if edit != nil {
				edit(k, r, &m)
			}
			docs = append(docs, New(r, m))
		}
		return docs
	}
	files := []string{"s0.json", "s1.json", "s2.json", "s3.json"}
	cases := []struct {
		name  string
		docs  []*Document
		files []string
		want  string
	}{
		{"another seed", shards(func(k int, r *bencher.Result, m *Meta) {
			if k == 2 {
				r.Config.Seed = 9
			}
		}), files, "s0.json and s2.json are not shards of one run: config.run.seed differs: 1 against 9"},
		{"another configuration", shards(func(k int, r *bencher.Result, m *Meta) {
			if k == 1 {
				r.Config.Mode, r.Config.Rate = bencher.ModeOpenLoop, 40
			}
		}), files, "s0.json and s1.json are not shards of one run: config.run.mode differs: \"closed_loop\" against \"open_loop\""},
		{"another workload", shards(func(k int, r *bencher.Result, m *Meta) {
			if k == 3 {
				m.Workload.InputTokens = "1024"
			}
		}), files, "s0.json and s3.json are not shards of one run: config.workload.input_tokens differs: \"512\" against \"1024\""},
		{"another run id", shards(func(k int, r *bencher.Result, m *Meta) {
			if k == 3 {
				m.RunID = "run-2"
			}
		}), files, "s0.json and s3.json are not shards of one run: shard.run_id differs: \"run-1\" against \"run-2\""},
		{"another shard count", shards(func(k int, r *bencher.Result, m *Meta) {
			if k == 1 {
				r.Shard.Count = 5
			}
		}), files, "s0.json and s1.json are not shards of one run: shard.count differs: 4 against 5"},
		{"a shard twice", slices.Concat(shards(nil)[:3], shards(nil)[1:2]), files,
			"shard 1/4 twice: s1.json and s3.json"},
		{"a shard missing", shards(nil)[:3], files[:3],
			"run run-1 has 4 shards, and shard 3 is missing (given: s0.json, s1.json, s2.json)"},
		{"two shards missing", slices.Concat(shards(nil)[:1], shards(nil)[3:]), []string{"s0.json", "s3.json"},
			"run run-1 has 4 shards, and shards 1, 2 are missing (given: s0.json, s3.json)"},
		{"a whole run", []*Document{fakeDoc(10, start)}, []string{"whole.json"},
			"whole.json is not a shard's document (it has no shard section): merge joins the documents that bencher run --shard wrote"},
		{"records omitted", shards(func(k int, r *bencher.Result, m *Meta) { m.OmitRecords = k == 2 }), files,
			"s2.json was written without its records (--omit-records): a merge computes the run's summary from every shard's records"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Merge(c.docs, c.files)
			require.ErrorIs(t, err, ErrMerge)
			assert.EqualError(t, err, "results: merge: "+c.want)
		})
	}
}

func TestMergeKeepsTheWorstEnding(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC)
	rs := shardResults(fakeResult(40, start), 2, -1, 0)
	rs[1].StopReason = bencher.StopInterrupted
	rs[1].Client = &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonCPUWait}}
	files := writeShards(t, t.TempDir(), rs, Meta{ID: "x"})
	got, err := Merge(readAll(t, files), files)
	require.NoError(t, err)
	assert.Equal(t, StatusInterrupted, got.Status)
	assert.Equal(t, bencher.StopInterrupted, got.StopReason)
	assert.Equal(t, &bencher.ClientLoad{Saturated: true, Reasons: []string{bencher.ReasonCPUWait}}, got.Client,
		"saturated when a shard was; the shards' own figures stay in theirs")
	assert.Equal(t, filepath.Base(files[1]), filepath.Base(got.Merged.Shards[1].File))
	assert.Nil(t, got.SchedulerLateness, "a percentile of each process: not joined")
}
