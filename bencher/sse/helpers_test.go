package sse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// readAll reads every event of src and returns their data and the final
// error.
func readAll(src io.Reader, opts ...Option) ([]string, error) {
	r := NewReader(src, opts...)
	events := []string{}
	for {
		data, err := r.Next()
		if err != nil {
			return events, err
		}
		events = append(events, string(data))
	}
}

// splitReader returns its input in pieces of the given sizes (the last size
// repeats).
type splitReader struct {
	data  []byte
	sizes []int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := s.sizes[0]
	if len(s.sizes) > 1 {
		s.sizes = s.sizes[1:]
	}
	n = min(n, len(p), len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// randomSizes returns piece sizes for splitReader that cover n bytes, mostly
// small ones.
func randomSizes(rng *rand.Rand, n int) []int {
	var sizes []int
	for total := 0; total <= n; {
		size := 1 + rng.IntN(8)
		if rng.IntN(4) == 0 {
			size = 1 + rng.IntN(n+1)
		}
		sizes = append(sizes, size)
		total += size
	}
	return sizes
}

// sameErr reports whether two final errors are the same kind of end.
func sameErr(a, b error) bool {
	for _, target := range []error{io.EOF, ErrTruncated, ErrEventTooLarge} {
		if errors.Is(a, target) || errors.Is(b, target) {
			return errors.Is(a, target) && errors.Is(b, target)
		}
	}
	return (a == nil) == (b == nil)
}

// readAllWays reads in whole and split in many ways (one byte at a time,
// halves, data with the EOF, random pieces, small buffers), requires every
// way to give the same events and end, and returns them.
func readAllWays(t *testing.T, in string, opts ...Option) ([]string, error) {
	t.Helper()
	want, wantErr := readAll(bytes.NewReader([]byte(in)), opts...)
	ways := map[string]func() io.Reader{
		"one byte":     func() io.Reader { return iotest.OneByteReader(bytes.NewReader([]byte(in))) },
		"half":         func() io.Reader { return iotest.HalfReader(bytes.NewReader([]byte(in))) },
		"data and EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader([]byte(in))) },
	}
	for name, src := range ways {
		got, err := readAll(src(), opts...)
		require.Equal(t, want, got, name)
		require.True(t, sameErr(wantErr, err), "%s: got %v, want %v", name, err, wantErr)
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(in))))
	for i := range 20 {
		src := &splitReader{data: []byte(in), sizes: randomSizes(rng, len(in))}
		small := append([]Option{WithBufferSize(1 + rng.IntN(16))}, opts...)
		got, err := readAll(src, small...)
		require.Equal(t, want, got, "random split %d", i)
		require.True(t, sameErr(wantErr, err), "random split %d: got %v, want %v", i, err, wantErr)
	}
	return want, wantErr
}
