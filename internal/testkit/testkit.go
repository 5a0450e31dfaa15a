// Package testkit holds small helpers shared by the project's tests.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Get returns the body of a GET of url, failing the test on an error, a
// status other than 200 (the body is in the message) or no answer within
// 10 seconds.
func Get(t testing.TB, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return b
}

// RefusingAddr returns a loopback address ("127.0.0.1:port") that refuses
// connections for the whole test: a socket bound to the port that never
// listens, so no parallel test's server can take the port, as one could
// take the port of a closed listener.
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
