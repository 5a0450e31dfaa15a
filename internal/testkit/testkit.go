// Package testkit holds small helpers shared by the project's tests.
package testkit

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers: the
// output of a process or the log of a handler under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a debug-level text logger writing to the buffer.
func (l *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Retry runs a timing-sensitive check up to three times. A loaded machine
// (go test runs packages in parallel, with -race, on two cores) can only
// make things later, never earlier: lower bounds hold on every try; an upper
// bound may miss once or twice. The last try reports to t.
func Retry(t *testing.T, check func(c assert.TestingT)) {
	t.Helper()
	for try := 1; try < 3; try++ {
		var c recorder
		check(&c)
		if !c.failed {
			return
		}
		t.Logf("timing check missed on try %d, retrying: %s", try, c.msg)
	}
	check(t)
}

// recorder is an assert.TestingT that only remembers failures.
type recorder struct {
	failed bool
	msg    string
}

func (c *recorder) Errorf(format string, args ...any) {
	c.failed = true
	c.msg = strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
}
