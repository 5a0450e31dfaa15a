package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
)

// Run ids that queries accept in place of a real one, so that dashboards
// can follow the newest runs without knowing their ids. Only runs that
// completed with measured requests (see measured) count: an interrupted,
// failed or empty run is never "latest" or "previous". A "live" query's
// RunLatest also counts the runs of this instance that are running now.
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

// errUnresolved matches (errors.Is) the errors of RunLatest and
// RunPrevious when there is no such run yet: not a failure, queries answer
// it with empty frames and the notice of unresolvedError.
var errUnresolved = errors.New("no such run yet")

// unresolvedError says that RunLatest or RunPrevious stands for no run.
type unresolvedError struct {
	name  string // RunLatest or RunPrevious
	found int    // the runs that could stand for one
	dir   string // the results directory
}

// Error says which id has no run and how to make one.
func (e *unresolvedError) Error() string {
	return fmt.Sprintf("run %q: %s", e.name, e.text())
}

// Is matches errUnresolved.
func (e *unresolvedError) Is(target error) bool { return target == errUnresolved }

// text says why there is no run and what to do.
func (e *unresolvedError) text() string {
	if e.found > 0 {
		return "there is no earlier completed run to compare with (only one so far): start another with the query editor's Run benchmark"
	}
	return noRunText(e.dir)
}

// notice is the notice of a query that asked for the run.
func (e *unresolvedError) notice() data.Notice {
	text := e.text()
	if e.found > 0 {
		text = fmt.Sprintf("No run before the latest to compare with (%q needs two completed runs with measurements): start another with the query editor's Run benchmark", e.name)
	}
	return data.Notice{Severity: data.NoticeSeverityInfo, Text: text}
}

// noRunText says that there is no run yet and how to start one.
func noRunText(dir string) string {
	return "No benchmark run yet: start one with the query editor's Run benchmark, or run `bencher run --results-dir " +
		dir + "` (this data source's results directory); interrupted, failed and empty runs do not count"
}

// notices returns the notices of a query answered from the listing: about
// skipped files, and that there is no run yet when the results directory
// holds none.
func (l *listing) notices() []data.Notice {
	var out []data.Notice
	if l.notice != nil {
		out = append(out, *l.notice)
	}
	if len(l.runs) == 0 {
		out = append(out, data.Notice{Severity: data.NoticeSeverityInfo, Text: noRunText(l.dir)})
	}
	return out
}

// started is a run id with its start time.
type started struct {
	id    string
	start time.Time
}

// newest returns the id at position i of runs sorted newest first (ties
// by id, later first), or an *unresolvedError.
func newest(runs []started, i int, name, dir string) (string, error) {
	slices.SortFunc(runs, func(a, b started) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	if i >= len(runs) {
		return "", &unresolvedError{name: name, found: len(runs), dir: dir}
	}
	return runs[i].id, nil
}

// resolve returns the id that id stands for in the listing: RunLatest and
// RunPrevious become the ids of the measured runs that started last and
// before it; other ids are returned as they are.
func (l *listing) resolve(id string) (string, error) {
	i := recentIndex(id)
	if i < 0 {
		return id, nil
	}
	return newest(measuredOf(l.entries), i, id, l.dir)
}

// measuredOf lists the ids and start times of the entries that completed
// with measurements.
func measuredOf(entries []results.Entry) []started {
	out := make([]started, 0, len(entries))
	for _, e := range entries {
		if measured(e.Header) {
			out = append(out, started{e.Header.ID, e.Header.Environment.StartTime})
		}
	}
	return out
}

// resolveLive resolves RunLatest and RunPrevious among the runs of this
// instance that are running now and the measured runs of the results
// directory.
func (d *Datasource) resolveLive(id string) (string, error) {
	i := recentIndex(id)
	if i < 0 {
		return id, nil
	}
	var runs []started
	seen := map[string]bool{}
	for _, r := range d.runs.list() {
		if !r.ended() { // an ended run counts by its document
			runs = append(runs, started{r.id, r.start})
			seen[r.id] = true
		}
	}
	if d.configErr == nil {
		if l, err := d.index.List(); err == nil {
			for _, s := range measuredOf(l.Runs) {
				if !seen[s.id] {
					runs = append(runs, s)
				}
			}
		}
	}
	return newest(runs, i, id, d.settings.ResultsDir)
}
