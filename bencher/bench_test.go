package bencher

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/sim"
)

// BenchmarkRequestSim sends one streamed request of 16 output tokens per op,
// end to end over loopback, to the simulator in zero-delay mode (client and
// server in one process: allocs/op, ns/op and cpu-µs/op count both sides;
// BenchmarkRequestCanned isolates the client).
func BenchmarkRequestSim(b *testing.B) {
	for _, api := range []API{APICompletions, APIChat} {
		b.Run(string(api), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			base, _, err := sim.New(sim.WithZeroDelay()).Start(ctx, "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			c, err := NewClient(WithTarget(base+"/v1"), WithAPI(api), WithModel(sim.DefaultModel))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			benchDo(b, ctx, c)
		})
	}
}

// benchStreamBody is a vLLM completions stream of n tokens with usage.
func benchStreamBody(n int, chat bool) []byte {
	var sb strings.Builder
	head := `data: {"id":"cmpl-4e1f2a9c8b7d4e3f","object":"text_completion","created":1755150123,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":`
	if chat {
		head = `data: {"id":"chatcmpl-4e1f2a9c8b7d4e3f","object":"chat.completion.chunk","created":1755150123,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":`
		sb.WriteString(head + `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n")
	}
	for i := range n {
		finish := "null"
		if i == n-1 {
			finish = `"length"`
		}
		if chat {
			fmt.Fprintf(&sb, `%s[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":%s}]}`+"\n\n", head, i, finish)
		} else {
			fmt.Fprintf(&sb, `%s[{"index":0,"text":" word%d","logprobs":null,"finish_reason":%s,"stop_reason":null}]}`+"\n\n", head, i, finish)
		}
	}
	fmt.Fprintf(&sb, `%s[],"usage":{"prompt_tokens":320,"total_tokens":%d,"completion_tokens":%d}}`+"\n\n", head, 320+n, n)
	sb.WriteString("data: [DONE]\n\n")
	return []byte(sb.String())
}

// BenchmarkParseStream measures the client-side parsing path alone: reading
// and decoding a 16-token stream from a bytes.Reader into a Record, as
// readStream does for a response body. One op is one request.
func BenchmarkParseStream(b *testing.B) {
	for _, tc := range []struct {
		name    string
		chat    bool
		outputs bool
	}{{"completions", false, false}, {"chat", true, false}, {"chat+outputs", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			body := benchStreamBody(16, tc.chat)
			c, err := NewClient(WithModel("m"), WithRecordOutputs(tc.outputs))
			if err != nil {
				b.Fatal(err)
			}
			st := c.getState()
			br := bytes.NewReader(body)
			req := Request{MaxTokens: 16}
			ctx := context.Background()
			start := time.Now()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(body)
				rec := Record{}
				resetAttempt(&rec, req.MaxTokens)
				c.readStream(ctx, ctx, st, io.Reader(br), &req, &rec, start)
				if !rec.OK() || len(rec.ChunkTimes) != 16 {
					b.Fatalf("record %+v", rec)
				}
			}
		})
	}
}

// cannedServer answers every request on a keep-alive connection with the
// same pre-built chunked SSE response, allocating almost nothing, so that a
// benchmark's allocations are the client's.
func cannedServer(b *testing.B, body []byte) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	var resp []byte
	resp = append(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"...)
	for _, ev := range bytes.SplitAfter(body, []byte("\n\n")) {
		if len(ev) == 0 {
			continue
		}
		resp = fmt.Appendf(resp, "%x\r\n%s\r\n", len(ev), ev)
	}
	resp = append(resp, "0\r\n\r\n"...)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanned(conn, resp)
		}
	}()
	return "http://" + ln.Addr().String() + "/v1"
}

func serveCanned(conn net.Conn, resp []byte) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := conn.Write(resp); err != nil {
			return
		}
	}
}

// BenchmarkRequestCanned sends one streamed request of 16 output tokens per
// op over loopback to a server that answers with canned bytes: ns/op and
// allocs/op are (almost only) the client's.
func BenchmarkRequestCanned(b *testing.B) {
	base := cannedServer(b, benchStreamBody(16, false))
	c, err := NewClient(WithTarget(base), WithModel("m"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchDo(b, context.Background(), c)
}

// cpuTime is the process's CPU time (user + system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per op since from, in µs.
func reportCPU(b *testing.B, from time.Duration) {
	b.ReportMetric(float64(cpuTime()-from)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkRunCanned runs the whole load loop (closed loop, 32 workers,
// records kept) against the canned server: one op is one request.
func BenchmarkRunCanned(b *testing.B) {
	base := cannedServer(b, benchStreamBody(16, false))
	req := Requests{{ID: "bench", Prompt: strings.Repeat("word ", 64), MaxTokens: 16, IgnoreEOS: true}}
	r, err := NewRunner(WithTarget(base), WithModel("m"), WithConcurrency(32), WithRequests(b.N))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	res, err := r.Run(context.Background(), req)
	reportCPU(b, cpu)
	if err != nil || len(res.Records) != b.N || !res.Records[b.N-1].OK() {
		b.Fatalf("run: %v", err)
	}
}

// benchDo sends one 16-token request per iteration through c, reporting
// allocations and CPU time per request.
func benchDo(b *testing.B, ctx context.Context, c *Client) {
	req := Request{ID: "bench", Prompt: strings.Repeat("word ", 64), MaxTokens: 16, IgnoreEOS: true}
	start := time.Now()
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		rec := Record{}
		c.Do(ctx, &req, &rec, start)
		if !rec.OK() || rec.OutputTokens != 16 {
			b.Fatalf("record %+v", rec)
		}
	}
	reportCPU(b, cpu)
}
