package live

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/internal/promtest"
)

// record returns a successful record of n output tokens, one chunk per
// token gap ms apart, the first at ttft.
func record(i int, ttft, gap time.Duration, n int) bencher.Record {
	rec := bencher.Record{Index: i, Scheduled: time.Millisecond, Sent: time.Millisecond, InputTokens: 10,
		OutputTokens: n, Attempts: 1, TokenSource: bencher.TokensFromUsage}
	at := rec.Scheduled + ttft
	rec.FirstToken = at
	for range n {
		rec.ChunkTimes = append(rec.ChunkTimes, at)
		at += gap
	}
	rec.End = at
	return rec
}

// failed returns a failed record of an error class.
func failed(i int, class bencher.ErrorClass) bencher.Record {
	return bencher.Record{Index: i, Scheduled: time.Millisecond, End: 2 * time.Millisecond, Attempts: 2, Error: class}
}

// scrape returns the exposition of m.
func scrape(t *testing.T, m *Metrics) []byte {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// promtoolCheck lints an exposition with `promtool check metrics`; it must
// find nothing.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	path := promtest.Binary(t, "promtool")
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, string(out))
}

// fakeProgress is a ProgressSource.
type fakeProgress struct{ p bencher.Progress }

func (f *fakeProgress) Progress() bencher.Progress { return f.p }

var _ ProgressSource = (*fakeProgress)(nil)

// devNull opens /dev/null.
func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}
