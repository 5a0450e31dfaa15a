package plugin

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
)

// Run ids that queries accept in place of a real one, so that dashboards
// can follow the newest runs without knowing their ids.
const (
	// RunLatest names the run that started last.
	RunLatest = "latest"
	// RunPrevious names the run that started before the latest.
	RunPrevious = "previous"
)

// recentIndex is the position of a RunLatest or RunPrevious id among runs
// sorted newest first, or -1 for any other id.
func recentIndex(id string) int {
	switch id {
	case RunLatest:
		return 0
	case RunPrevious:
		return 1
	}
	return -1
}

// started is a run id with its start time.
type started struct {
	id    string
	start time.Time
}

// newest returns the id at position i of runs sorted newest first (ties
// by id, later first).
func newest(runs []started, i int, name string) (string, error) {
	slices.SortFunc(runs, func(a, b started) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	switch {
	case len(runs) == 0:
		return "", fmt.Errorf("run %q: there is no run yet (start one with the query editor's Run benchmark, or import one)", name)
	case i >= len(runs):
		return "", fmt.Errorf("run %q: there is only one run so far", name)
	}
	return runs[i].id, nil
}

// resolve returns the id that id stands for in the listing: RunLatest and
// RunPrevious become the ids of the runs that started last and before it;
// other ids are returned as they are.
func (l *listing) resolve(id string) (string, error) {
	i := recentIndex(id)
	if i < 0 {
		return id, nil
	}
	return newest(startedOf(l.entries), i, id)
}

// startedOf lists the entries' ids and start times.
func startedOf(entries []results.Entry) []started {
	out := make([]started, 0, len(entries))
	for _, e := range entries {
		out = append(out, started{e.Header.ID, e.Header.Environment.StartTime})
	}
	return out
}

// resolveLive resolves RunLatest and RunPrevious among the runs of this
// instance (running ones included) and the results directory.
func (d *Datasource) resolveLive(id string) (string, error) {
	i := recentIndex(id)
	if i < 0 {
		return id, nil
	}
	var runs []started
	seen := map[string]bool{}
	for _, r := range d.runs.list() {
		runs = append(runs, started{r.id, r.start})
		seen[r.id] = true
	}
	if d.configErr == nil {
		if l, err := d.index.List(); err == nil {
			for _, s := range startedOf(l.Runs) {
				if !seen[s.id] {
					runs = append(runs, s)
				}
			}
		}
	}
	return newest(runs, i, id)
}
