package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/testkit"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		_ = os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// bencherBinary builds the real executable once per test run.
func bencherBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "bencher-test")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "bencher")
		args := []string{"build", "-o", binary.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binary.err)
	return binary.path
}

// fast returns the flags of a quick run against the embedded simulator
// (writing into dir), with more; a flag of more replaces the default one.
func fast(dir string, more ...string) []string {
	defaults := [][]string{{"--sim.zero-delay"}, {"--input-tokens", "16"}, {"--output-tokens", "4"},
		{"--requests", "20"}, {"--concurrency", "4"}, {"--results-dir", dir},
		// The tests run on a loaded machine, where the client is late and
		// runs are marked client_saturated; they check gates, not that.
		{"--allow-saturated"}}
	given := func(flag string) bool {
		for _, m := range more {
			if m == flag || strings.HasPrefix(m, flag+"=") || m == "--no-"+strings.TrimPrefix(flag, "--") {
				return true
			}
		}
		return false
	}
	args := []string{"run"}
	for _, d := range defaults {
		if !given(d[0]) {
			args = append(args, d...)
		}
	}
	return append(args, more...)
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// runInProcess runs the command line in this process.
func runInProcess(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	if t.Failed() || testing.Verbose() {
		t.Logf("bencher %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return result{code, stdout.String(), stderr.String()}
}

type syncBuffer = testkit.Buffer

// process is the real binary, running.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
	code           int
}

// start runs the binary with args; the process is killed when the test
// ends if it is still running.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bencherBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("bencher %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout, p.stderr)
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("bencher did not exit within %s", timeout)
		return -1
	}
}

// waitStderr waits until stderr matches re and returns the first submatch
// (or the whole match).
func (p *process) waitStderr(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.exited:
			t.Fatalf("bencher exited (%d) before stderr matched %s", p.code, re)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("stderr never matched %s", re)
	return ""
}

// documents returns the paths of the documents in dir.
func documents(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+results.Ext))
	require.NoError(t, err)
	return paths
}

// onlyDocument returns the one document in dir, checked against the schema.
func onlyDocument(t *testing.T, dir string) *results.Document {
	t.Helper()
	paths := documents(t, dir)
	require.Len(t, paths, 1, "one result document in %s", dir)
	return validDocument(t, paths[0])
}

// validDocument reads the document at path and validates it against the
// JSON Schema of bencher/results.
func validDocument(t *testing.T, path string) *results.Document {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(results.Schema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(results.SchemaFile, schemaDoc))
	sch, err := c.Compile(results.SchemaFile)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst), "%s does not validate", path)
	doc, err := results.Read(path)
	require.NoError(t, err)
	return doc
}
