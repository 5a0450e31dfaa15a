package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type readerCase struct {
	name    string
	in      string
	want    []string
	wantErr error
}

// runReaderCases reads each case in every way readAllWays knows.
func runReaderCases(t *testing.T, cases []readerCase, opts ...Option) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAllWays(t, tc.in, opts...)
			assert.Equal(t, tc.want, got)
			wantErr := tc.wantErr
			if wantErr == nil {
				wantErr = io.EOF
			}
			assert.ErrorIs(t, err, wantErr)
		})
	}
}

func TestReaderLineEndings(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "LF", in: "data: a\n\ndata: b\n\n", want: []string{"a", "b"}},
		{name: "CRLF", in: "data: a\r\n\r\ndata: b\r\n\r\n", want: []string{"a", "b"}},
		{name: "CR", in: "data: a\r\rdata: b\r\r", want: []string{"a", "b"}},
		{name: "mixed", in: "data: a\r\n\ndata: b\r\r\ndata: c\n\r", want: []string{"a", "b", "c"}},
		{name: "CR then LF is one terminator", in: "data: a\r\ndata: b\r\n\r\n", want: []string{"a\nb"}},
		{name: "LF then CR is two", in: "data: a\n\rdata: b\n\n", want: []string{"a", "b"}},
	})
}

func TestReaderComments(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "keep-alive events", in: ": keep-alive\n\ndata: a\n\n:\n\n", want: []string{"a"}},
		{name: "comment inside an event", in: "data: a\n: ping\ndata: b\n\n", want: []string{"a\nb"}},
		{name: "comments only", in: ": ping\n\n: ping\n\n", want: []string{}},
		{name: "comment line that looks like data", in: ":data: x\n\n", want: []string{}},
	})
}

func TestReaderDataLeadingSpace(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "with space", in: "data: x\n\n", want: []string{"x"}},
		{name: "without space", in: "data:x\n\n", want: []string{"x"}},
		{name: "only one space dropped", in: "data:  x\n\n", want: []string{" x"}},
		{name: "tab kept", in: "data:\tx\n\n", want: []string{"\tx"}},
		{name: "trailing space kept", in: "data: x \n\n", want: []string{"x "}},
		{name: "no colon", in: "data\n\n", want: []string{""}},
		{name: "colon only", in: "data:\n\n", want: []string{""}},
		{name: "colon and space only", in: "data: \n\n", want: []string{""}},
	})
}

func TestReaderMultiLineData(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "two lines", in: "data: a\ndata: b\n\n", want: []string{"a\nb"}},
		{name: "empty line in the middle", in: "data: a\ndata:\ndata: c\n\n", want: []string{"a\n\nc"}},
		{name: "JSON across lines", in: "data: {\"a\":\ndata: 1}\n\n", want: []string{"{\"a\":\n1}"}},
		{name: "first line empty", in: "data\ndata: b\n\n", want: []string{"\nb"}},
	})
}

func TestReaderOtherFields(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "event id retry", in: "event: message\nid: 7\nretry: 1000\ndata: a\n\n", want: []string{"a"}},
		{name: "unknown fields", in: "foo: bar\ndata: a\nbaz\n\n", want: []string{"a"}},
		{name: "event without data is skipped", in: "event: ping\n\ndata: a\n\n", want: []string{"a"}},
		{name: "field names are case-sensitive", in: "Data: x\n\n", want: []string{}},
		{name: "name with a space is not data", in: "data x\n\n", want: []string{}},
	})
}

func TestReaderBlankLines(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "extra blank lines", in: "\n\n\ndata: a\n\n\n\n", want: []string{"a"}},
		{name: "empty data is an event", in: "data:\n\n", want: []string{""}},
		{name: "empty stream", in: "", want: []string{}},
	})
}

func TestReaderBOM(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "BOM at start dropped", in: "\xEF\xBB\xBFdata: a\n\n", want: []string{"a"}},
		{name: "BOM later is part of the name", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\n", want: []string{"a"}},
		{name: "BOM then comment at EOF", in: "\xEF\xBB\xBF: x", want: []string{}},
	})
}

func TestReaderEOFWithoutDone(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "events then EOF", in: "data: a\n\ndata: b\n\n", want: []string{"a", "b"}},
		{name: "trailing comment", in: "data: a\n\n: bye\n", want: []string{"a"}},
		{name: "unterminated trailing comment", in: "data: a\n\n: by", want: []string{"a"}},
		{name: "trailing blank lines", in: "data: a\n\n\r\n\n", want: []string{"a"}},
	})
}

func TestReaderTruncated(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "unterminated data line", in: "data: a\n\ndata: {\"b", want: []string{"a"}, wantErr: ErrTruncated},
		{name: "no blank line", in: "data: a\n\ndata: b\n", want: []string{"a"}, wantErr: ErrTruncated},
		{name: "no blank line after CR", in: "data: a\n\ndata: b\r", want: []string{"a"}, wantErr: ErrTruncated},
		{name: "partial field name", in: "data: a\n\nda", want: []string{"a"}, wantErr: ErrTruncated},
		{name: "other field only", in: "data: a\n\nevent: x\n", want: []string{"a"}, wantErr: ErrTruncated},
		{name: "comment after data", in: "data: a\n: x\n", want: []string{}, wantErr: ErrTruncated},
	})
	t.Run("message and finality", func(t *testing.T) {
		t.Parallel()
		r := NewReader(strings.NewReader("data: a"))
		_, err := r.Next()
		require.EqualError(t, err, "sse: stream ended in the middle of an event")
		_, again := r.Next()
		require.Equal(t, err, again)
	})
}

// failingReader returns its data, then err.
type failingReader struct {
	data     []byte
	err      error
	withData bool // return err with the last data, not after it
}

func (f *failingReader) Read(p []byte) (int, error) {
	n := copy(p, f.data)
	f.data = f.data[n:]
	if len(f.data) > 0 || (n > 0 && !f.withData) {
		return n, nil
	}
	return n, f.err
}

func TestReaderReadError(t *testing.T) {
	t.Parallel()
	reset := errors.New("connection reset by peer")
	cases := []struct {
		name     string
		err      error
		withData bool
		wantMsg  string
	}{
		{name: "reset", err: reset, wantMsg: "sse: read: connection reset by peer"},
		{name: "reset with the data", err: reset, withData: true, wantMsg: "sse: read: connection reset by peer"},
		{name: "unexpected EOF", err: io.ErrUnexpectedEOF, wantMsg: "sse: read: unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &failingReader{data: []byte("data: a\n\ndata: b\n"), err: tc.err, withData: tc.withData}
			r := NewReader(src)
			got, err := r.Next()
			require.NoError(t, err)
			assert.Equal(t, "a", string(got))
			_, err = r.Next()
			require.ErrorIs(t, err, tc.err)
			require.EqualError(t, err, tc.wantMsg)
			_, again := r.Next()
			require.Equal(t, err, again, "the error is final")
		})
	}
}

func TestReaderConnectionClosedMidStream(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"cho")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close() // the chunked body never ends
		}
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := readAll(resp.Body)
	assert.Equal(t, []string{`{"choices":[{"text":"a"}]}`}, got)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.EqualError(t, err, "sse: read: unexpected EOF")
}

// stuckReader returns (0, nil) forever.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// liarReader claims to have read more than it was given room for.
type liarReader struct{}

func (liarReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestReaderBadSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		src     io.Reader
		wantMsg string
		wantIs  error
	}{
		{name: "no progress", src: stuckReader{}, wantMsg: "sse: read: multiple Read calls return no data or error", wantIs: io.ErrNoProgress},
		{name: "invalid count", src: liarReader{}, wantMsg: "sse: read: invalid count 4097 from source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewReader(tc.src).Next()
			require.EqualError(t, err, tc.wantMsg)
			if tc.wantIs != nil {
				require.ErrorIs(t, err, tc.wantIs)
			}
		})
	}
}

func TestReaderMaxEventSize(t *testing.T) {
	t.Parallel()
	runReaderCases(t, []readerCase{
		{name: "line at the limit", in: "data: 1234\n\n", want: []string{"1234"}},
		{name: "line over the limit", in: "data: 12345\n\n", want: []string{}, wantErr: ErrEventTooLarge},
		{name: "lines add up", in: "data: 12\ndata: 3\n\n", want: []string{}, wantErr: ErrEventTooLarge},
		{name: "comments count", in: ": xxxxx\ndata: 1\n\n", want: []string{}, wantErr: ErrEventTooLarge},
		{name: "after a good event", in: "data: a\n\ndata: 123456789\n\n", want: []string{"a"}, wantErr: ErrEventTooLarge},
		{name: "limit is per event", in: "data: 1234\n\ndata: 1234\r\n\r\n", want: []string{"1234", "1234"}},
		{name: "unterminated over the limit", in: "data: 12345", want: []string{}, wantErr: ErrEventTooLarge},
		{name: "unterminated at the limit", in: "data: 1234", want: []string{}, wantErr: ErrTruncated},
	}, WithMaxEventSize(10))

	t.Run("message and finality", func(t *testing.T) {
		t.Parallel()
		r := NewReader(strings.NewReader("data: 12345\n\ndata: a\n\n"), WithMaxEventSize(10))
		_, err := r.Next()
		require.EqualError(t, err, "sse: event too large: limit is 10 bytes")
		_, again := r.Next()
		require.Equal(t, err, again)
	})
	t.Run("endless line stops at the limit", func(t *testing.T) {
		t.Parallel()
		const limit = 1 << 16
		src := io.MultiReader(strings.NewReader("data: "), endless('x'))
		r := NewReader(src, WithMaxEventSize(limit))
		_, err := r.Next()
		require.ErrorIs(t, err, ErrEventTooLarge)
		assert.LessOrEqual(t, len(r.buf), limit+1, "the buffer stays within the limit")
	})
}

// endless is a reader of one byte repeated forever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func TestReaderOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                  string
		opts                  []Option
		wantMax, wantBufBytes int
	}{
		{name: "defaults", wantMax: DefaultMaxEventSize, wantBufBytes: DefaultBufferSize},
		{name: "zero means default", opts: []Option{WithMaxEventSize(0), WithBufferSize(0)}, wantMax: DefaultMaxEventSize, wantBufBytes: DefaultBufferSize},
		{name: "set", opts: []Option{WithMaxEventSize(100), WithBufferSize(64)}, wantMax: 100, wantBufBytes: 64},
		{name: "buffer no larger than the limit", opts: []Option{WithMaxEventSize(100)}, wantMax: 100, wantBufBytes: 101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(strings.NewReader(""), tc.opts...)
			assert.Equal(t, tc.wantMax, r.maxEvent)
			assert.Len(t, r.buf, tc.wantBufBytes)
		})
	}
}

func TestReaderReset(t *testing.T) {
	t.Parallel()
	r := NewReader(strings.NewReader("data: a\n\ndata: trunc"))
	got, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "a", string(got))
	_, err = r.Next()
	require.ErrorIs(t, err, ErrTruncated)

	r.Reset(strings.NewReader("\xEF\xBB\xBFdata: b\n\n"))
	got, err = r.Next()
	require.NoError(t, err, "Reset clears the final error")
	require.Equal(t, "b", string(got), "Reset re-arms the BOM check")
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF)
}

func TestReaderReturnedSlice(t *testing.T) {
	t.Parallel()
	r := NewReader(strings.NewReader("data: a\n\ndata: b\n\n"))
	got, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, len(got), cap(got), "capacity is capped")
	_ = append(got, 'X') // must not write into the reader's buffer
	got, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, "b", string(got))
}

func TestReaderDataSurvivesRefill(t *testing.T) {
	t.Parallel()
	// The data line is read, then many more reads (comments) arrive before
	// the blank line; the small buffer is compacted and grown meanwhile.
	in := "data: abcdefgh\n" + strings.Repeat(": ping ping\n", 20) + "data: ij\n\n"
	for _, size := range []int{1, 7, 16} {
		src := bufio.NewReaderSize(&splitReader{data: []byte(in), sizes: []int{size}}, 16)
		got, err := readAll(src, WithBufferSize(16))
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, []string{"abcdefgh\nij"}, got, "pieces of %d", size)
	}
}

func TestReaderSplitAtEveryByte(t *testing.T) {
	t.Parallel()
	in := ": hi\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\nid: 1\r\n\r\ndata: x\rdata: y\r\rdata: [DONE]\n\n"
	want, wantErr := readAll(strings.NewReader(in))
	require.ErrorIs(t, wantErr, io.EOF)
	require.Len(t, want, 3)
	for i := range len(in) + 1 {
		for _, j := range []int{i, min(i+1, len(in)), min(i+2, len(in))} {
			src := io.MultiReader(strings.NewReader(in[:i]), strings.NewReader(in[i:j]), strings.NewReader(in[j:]))
			got, err := readAll(src, WithBufferSize(8))
			require.Equal(t, want, got, "split at %d and %d", i, j)
			require.ErrorIs(t, err, io.EOF)
		}
	}
}

func TestReaderLongEventsGrowBuffer(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("y", 100_000)
	in := "data: " + long + "\n\ndata: short\n\n"
	got, err := readAll(bytes.NewReader([]byte(in)), WithBufferSize(16))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, []string{long, "short"}, got)
}
