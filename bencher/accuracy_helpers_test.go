package bencher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/stretchr/testify/require"
)

// tickTruth is what a tickServer did for one request.
type tickTruth struct {
	arrived time.Time
	tokens  []time.Time // when each token event's write and flush returned
	done    time.Time
}

// tickServer streams n tokens at known times: the first at +first from the
// request's arrival, then one every gap, and records when each token's
// write to the connection returned. It speaks just enough HTTP/1.1 (keep-
// alive, chunked SSE) over raw TCP to cost little CPU, so that on a small
// machine the test measures the client, not the server's scheduling.
// Requests are told apart by their prompt.
type tickServer struct {
	first, gap time.Duration
	n          int
	events     [][]byte // chunk-encoded token events
	tail       []byte   // usage, [DONE] and the last chunk
	mu         sync.Mutex
	truth      map[string]*tickTruth
}

func newTickServer(t *testing.T, first, gap time.Duration, n int) (*tickServer, string) {
	t.Helper()
	s := &tickServer{first: first, gap: gap, n: n, truth: map[string]*tickTruth{}}
	chunk := func(ev string) []byte {
		ev = "data: " + ev + "\n\n"
		return fmt.Appendf(nil, "%x\r\n%s\r\n", len(ev), ev)
	}
	for k := range n {
		if k == n-1 {
			s.events = append(s.events, chunk(finishChunk(" w", "length")))
		} else {
			s.events = append(s.events, chunk(textChunk(" w")))
		}
	}
	s.tail = append(append(chunk(usageChunk(4, n)), chunk("[DONE]")...), "0\r\n\r\n"...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serveConn(conn) })
		}
	})
	return s, "http://" + ln.Addr().String() + "/v1"
}

const tickHeader = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

func (s *tickServer) serveConn(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		prompt, ok := readTickRequest(br)
		if !ok {
			return
		}
		tt := &tickTruth{arrived: time.Now(), tokens: make([]time.Time, 0, s.n)}
		if _, err := conn.Write([]byte(tickHeader)); err != nil {
			return
		}
		// A phase in [0, gap) per request spreads the writes of concurrent
		// streams evenly over time, as independent streams would be.
		phase := time.Duration(fnv32(prompt)) % s.gap
		for k, ev := range s.events {
			time.Sleep(time.Until(tt.arrived.Add(s.first + phase + time.Duration(k)*s.gap)))
			if _, err := conn.Write(ev); err != nil {
				return
			}
			tt.tokens = append(tt.tokens, time.Now())
		}
		if _, err := conn.Write(s.tail); err != nil {
			return
		}
		tt.done = time.Now()
		s.mu.Lock()
		s.truth[prompt] = tt
		s.mu.Unlock()
	}
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// readTickRequest reads one request and returns its prompt.
func readTickRequest(br *bufio.Reader) (string, bool) {
	length := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return "", false
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return "", false
	}
	var req struct {
		Prompt string `json:"prompt"`
	}
	_ = json.Unmarshal(body, &req)
	return req.Prompt, true
}

// refStreams is the number of reference streams run beside the client.
const refStreams = 20

// refRequest is what a reference reader saw of one request.
type refRequest struct {
	prompt, id string      // the prompt sent, the response's id
	times      []time.Time // when each token line was read
}

// reference is a set of minimal readers that run beside the client under
// test, against the same server: raw TCP, one request at a time on a kept
// connection, a timestamp per line read, no HTTP or JSON parsing. Their
// errors against the server's truth are the floor that the machine sets, at
// that moment, for any client in this process.
type reference struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	reqs   []refRequest
}

// startReference starts n reference readers sending body(prompt).
func startReference(baseURL string, n int, body func(prompt string) string) *reference {
	addr := strings.TrimSuffix(strings.TrimPrefix(baseURL, "http://"), "/v1")
	ctx, cancel := context.WithCancel(context.Background())
	r := &reference{cancel: cancel}
	for k := range n {
		r.wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 64<<10)
			for i := 0; ctx.Err() == nil; i++ {
				rr := refRequest{prompt: fmt.Sprintf("ref-%d-%d", k, i)}
				if !rr.send(conn, br, body(rr.prompt)) {
					return
				}
				if i > 0 { // the first one opened the connection
					r.mu.Lock()
					r.reqs = append(r.reqs, rr)
					r.mu.Unlock()
				}
			}
		})
	}
	return r
}

// stop ends the readers and returns what they saw.
func (r *reference) stop() []refRequest {
	r.cancel()
	r.wg.Wait()
	return r.reqs
}

// send sends one streamed request and reads its answer.
func (rr *refRequest) send(conn net.Conn, br *bufio.Reader, body string) bool {
	req := fmt.Sprintf("POST /v1/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := conn.Write([]byte(req)); err != nil {
		return false
	}
	done := false
	for {
		line, err := br.ReadSlice('\n')
		now := time.Now()
		switch {
		case err != nil:
			return false
		case bytes.HasPrefix(line, []byte("data: {")) && bytes.Contains(line, []byte(`"text"`)):
			rr.times = append(rr.times, now)
			if rr.id == "" {
				_, after, _ := bytes.Cut(line, []byte(`"id":"`))
				id, _, _ := bytes.Cut(after, []byte(`"`))
				rr.id = string(id)
			}
		case bytes.HasPrefix(line, []byte("data: [DONE]")):
			done = true
		case done && string(line) == "0\r\n":
			_, err := br.ReadSlice('\n')
			return err == nil
		}
	}
}

// simChildEnv makes the test binary serve the simulator (see TestMain).
const simChildEnv = "BENCHER_TEST_SIM_CHILD"

// TestMain lets the test binary run as the simulator in a child process.
func TestMain(m *testing.M) {
	if os.Getenv(simChildEnv) != "" {
		os.Exit(runSimChild())
	}
	os.Exit(m.Run())
}

// simTruth is the simulator's record of one request, in wall-clock
// nanoseconds.
type simTruth struct {
	ID                            string
	PromptTokens                  int
	Arrived, FirstTokenSent, Done int64
}

// runSimChild serves the simulator, prints its base URL, and when its
// standard input closes prints the observer's records as JSON.
func runSimChild() int {
	var mu sync.Mutex
	var recs []simTruth
	srv := sim.New(sim.WithObserver(sim.ObserverFunc(func(r sim.Record) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, simTruth{r.ID, r.PromptTokens, r.Arrived.UnixNano(), r.FirstTokenSent.UnixNano(), r.Done.UnixNano()})
	})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, wait, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(base + "/v1")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	_ = wait()
	mu.Lock()
	defer mu.Unlock()
	if err := json.NewEncoder(os.Stdout).Encode(recs); err != nil {
		return 1
	}
	return 0
}

// simChild is a simulator in a child process.
type simChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	base  string
}

func startSimChild(t *testing.T) *simChild {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), simChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &simChild{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	require.NoError(t, err)
	c.base = strings.TrimSpace(line)
	return c
}

// stop ends the child and returns its records.
func (c *simChild) stop(t *testing.T) []simTruth {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	var recs []simTruth
	require.NoError(t, json.NewDecoder(c.out).Decode(&recs))
	return recs
}

// errStats are the p50, p99 and max of absolute errors.
type errStats struct{ p50, p99, max time.Duration }

func absErrStats(errs []time.Duration) errStats {
	if len(errs) == 0 {
		return errStats{}
	}
	s := make([]time.Duration, len(errs))
	for i, e := range errs {
		s[i] = max(e, -e)
	}
	slices.Sort(s)
	return errStats{s[(len(s)-1)/2], s[(len(s)-1)*99/100], s[len(s)-1]}
}

func (e errStats) String() string { return fmt.Sprintf("p50 %v, p99 %v, max %v", e.p50, e.p99, e.max) }

// windows are the measured windows of a run, from the server's timestamps
// (arrival to end of response) and from the client's records (send to end).
type windows struct {
	n                            int
	sFirst, sLast, cFirst, cLast time.Time
}

func (w *windows) add(res *Result, rec *Record, arrived, done time.Time) {
	w.n++
	w.sFirst, w.sLast = earliest(w.sFirst, arrived), latest(w.sLast, done)
	w.cFirst, w.cLast = earliest(w.cFirst, res.Start.Add(rec.Sent)), latest(w.cLast, res.Start.Add(rec.End))
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// wait waits until the server has stored the truth of the requests with
// the given prompts (it stores one after its last write, which the client
// may have read already) and returns all it has.
func (s *tickServer) wait(t *testing.T, prompts []string) map[string]*tickTruth {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range prompts {
			if s.truth[p] == nil {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.truth)
}
