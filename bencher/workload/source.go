package workload

import (
	"slices"
	"strconv"

	"github.com/benchstation/benchstation/bencher"
)

// Source draws the requests of a run by index, so that a run of any length
// (a fixed count, or a duration) sends the same i-th request every time.
// Request must be safe for concurrent use and must not be called with i < 0.
type Source interface {
	Request(i int) bencher.Request
}

// SourceFunc adapts a function to [Source].
type SourceFunc func(i int) bencher.Request

var _ Source = SourceFunc(nil)

// Request returns f(i).
func (f SourceFunc) Request(i int) bencher.Request { return f(i) }

// Take returns the requests 0…n-1 of src (none when n ≤ 0).
func Take(src Source, n int) []bencher.Request {
	reqs := make([]bencher.Request, max(n, 0))
	for i := range reqs {
		reqs[i] = src.Request(i)
	}
	return reqs
}

// Cycle returns a Source that goes through reqs in order and starts again at
// the end, for runs longer than a prompt file. The requests of the first pass
// keep their ID; on pass p (p ≥ 1) the ID gets the suffix "#p", so that IDs
// stay unique. The returned requests share their Messages and Body with
// reqs: treat them as read-only. Cycle panics if reqs is empty (the readers
// of this package never return an empty list).
func Cycle(reqs []bencher.Request) Source {
	if len(reqs) == 0 {
		panic("workload: Cycle of no requests")
	}
	reqs = slices.Clone(reqs)
	return SourceFunc(func(i int) bencher.Request {
		req := reqs[i%len(reqs)]
		if pass := i / len(reqs); pass > 0 {
			req.ID += "#" + strconv.Itoa(pass)
		}
		return req
	})
}
