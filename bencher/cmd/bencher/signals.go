package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// finalWrites holds off a second signal while result files are written:
// the first SIGINT or SIGTERM stops the run (its partial result is
// written); a second one ends the process at once, unless a result file
// is being written, in which case the write finishes first and then the
// process exits 130. GNU timeout, and an impatient Ctrl-C, send two; a
// process killed mid-write would leave only a hidden temporary file.
type finalWrites struct {
	mu      sync.Mutex
	writing int
	pending bool
	exit    func(int)
	stderr  io.Writer
}

// writes is the process's guard, set up by main; nil in tests that call
// run, where no signal reaches the guard.
var writes *finalWrites

// newFinalWrites returns a guard that exits through exit.
func newFinalWrites(exit func(int), stderr io.Writer) *finalWrites {
	return &finalWrites{exit: exit, stderr: stderr}
}

// watch cancels the run on the first signal and handles the next ones.
func (g *finalWrites) watch(sigs <-chan os.Signal, cancel context.CancelFunc) {
	<-sigs
	cancel()
	for range sigs {
		g.mu.Lock()
		if g.writing == 0 {
			g.mu.Unlock()
			fmt.Fprintln(g.stderr, "bencher: interrupted again: exiting now")
			g.exit(exitInterrupted)
			return
		}
		if !g.pending {
			fmt.Fprintln(g.stderr, "bencher: interrupted again: finishing the result file being written, then exiting")
		}
		g.pending = true
		g.mu.Unlock()
	}
}

// begin marks the start of a final write; its end must be called after.
func (g *finalWrites) begin() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.writing++
	g.mu.Unlock()
}

// end marks the end of a final write, and exits 130 when a second signal
// came during it.
func (g *finalWrites) end() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.writing--
	exit := g.writing == 0 && g.pending
	g.mu.Unlock()
	if exit {
		fmt.Fprintln(g.stderr, "bencher: the result file is written; exiting (interrupted)")
		g.exit(exitInterrupted)
	}
}

// guarded runs fn as a final write.
func guarded[T any](fn func() (T, error)) (T, error) {
	writes.begin()
	defer writes.end()
	return fn()
}
