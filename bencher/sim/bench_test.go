package sim

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// discardWriter is a streaming http.ResponseWriter that keeps nothing.
type discardWriter struct {
	h      http.Header
	n      int
	events int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(int)     {}
func (d *discardWriter) Flush()              {}
func (d *discardWriter) Write(b []byte) (int, error) {
	d.n += len(b)
	d.events += bytes.Count(b, []byte("\n\n"))
	return len(b), nil
}

// reusableBody is a request body that can be rewound without allocating.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

const benchBody = `{"model":"benchstation/sim-1b","prompt":"Benchmark prompt: tell me about continuous batching.",` +
	`"max_tokens":16,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`

// BenchmarkStreamCompletion pushes one zero-delay streamed request per
// iteration through the handler: 16 output tokens, and 256 to show that the
// allocations do not grow with the output.
func BenchmarkStreamCompletion(b *testing.B) {
	for _, tokens := range []int{16, 256} {
		b.Run("tokens="+strconv.Itoa(tokens), func(b *testing.B) {
			s := New(WithZeroDelay())
			raw := []byte(strings.Replace(benchBody, `"max_tokens":16`, `"max_tokens":`+strconv.Itoa(tokens), 1))
			body := &reusableBody{}
			req := httptest.NewRequest(http.MethodPost, PathCompletions, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(raw)
				req.Body = body
				s.ServeHTTP(w, req)
			}
			if want := b.N * (tokens + 2); w.events != want { // tokens, usage, [DONE]
				b.Fatalf("events = %d, want %d", w.events, want)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "bytes/op")
		})
	}
}

// BenchmarkStreamCompletionHTTP runs zero-delay streamed requests with 16
// output tokens over loopback HTTP from parallel clients, as the bencher
// does; client and server share the machine's cores.
func BenchmarkStreamCompletionHTTP(b *testing.B) {
	ts := httptest.NewServer(New(WithZeroDelay()))
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(ts.URL+PathCompletions, "application/json", strings.NewReader(benchBody))
			if err != nil {
				b.Error(err)
				return
			}
			n := countEvents(resp.Body)
			resp.Body.Close()
			if n != 18 {
				b.Errorf("events = %d, want 18", n)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func countEvents(r io.Reader) int {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			n++
		}
	}
	return n
}
