package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// The credentials of the secret tests (issue #11).
const (
	secretKey  = "sk-hostile-8Qm2ZrX7vT4pL9wK"
	secretUser = "benchuser"
	secretPass = "p4ss-Hostile-7Yq3"
	promUser   = "promuser"
	promPass   = "prom-Pass-5Kx8Wq"
)

// allSecrets are what no output may hold, in any of the forms hostile.Leaks
// looks for (as given, base64, URL-escaped): the key, the URL passwords and
// the user:password pairs whose base64 Basic authentication sends.
var allSecrets = []string{secretKey, secretPass, secretUser + ":" + secretPass, promPass, promUser + ":" + promPass}

// withUserInfo returns base (http://127.0.0.1:PORT) with user:pass@ in it.
func withUserInfo(base, user, pass string) string {
	return "http://" + user + ":" + pass + "@" + strings.TrimPrefix(base, "http://")
}

// runBinary runs the real binary with args, $OPENAI_API_KEY set to key
// (unset when empty), and returns what it did.
func runBinary(t *testing.T, key string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bencherBinary(t), args...)
	cmd.Env = envWithKey(key)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("bencher %s: %v", strings.Join(args, " "), err)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("bencher %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return result{code, stdout.String(), stderr.String()}
}

// envWithKey returns the environment with $OPENAI_API_KEY set to key, or
// unset when key is empty.
func envWithKey(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, apiKeyEnv+"=") {
			env = append(env, kv)
		}
	}
	if key != "" {
		env = append(env, apiKeyEnv+"="+key)
	}
	return env
}

// startWithKey starts the real binary as start does, with $OPENAI_API_KEY
// set to key.
func startWithKey(t *testing.T, key string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bencherBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = envWithKey(key)
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

// quick returns the flags of a short run against target.
func quick(target, dir string, more ...string) []string {
	return append([]string{"run", "--target", target, "--requests", "3", "--concurrency", "1", "--input-tokens", "8",
		"--output-tokens", "4", "--timeout", "20s", "--results-dir", dir, "--progress", "never"}, more...)
}

// receivedCredential fails the test unless the hostile server received a
// credential: a leak check proves something only then.
func receivedCredential(t *testing.T, srv *hostile.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		if len(hostile.Leaks(hostile.Echo(r.Header), allSecrets...)) > 0 {
			return
		}
	}
	t.Fatal("the hostile server never received a credential: the test proves nothing")
}

// filesOf returns the contents of every file under dir, by path.
func filesOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	}))
	return out
}

// TestSecretTargetCheck401DoesNotEchoKey (issue #11, case 1): the target
// check of a server that answers 401 with the request's headers in its body
// prints the server's message with the credential scrubbed: the key from
// $OPENAI_API_KEY, or the URL's user:password, whose base64 the Basic
// authentication sent.
func TestSecretTargetCheck401DoesNotEchoKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		key      string
		userInfo bool
	}{{"api key", secretKey, false}, {"url credentials", "", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(hostile.Unauthorized)
			target := srv.URL + "/v1"
			if tc.userInfo {
				target = withUserInfo(srv.URL, secretUser, secretPass) + "/v1"
			}
			r := runBinary(t, tc.key, quick(target, t.TempDir())...)
			assert.Equal(t, exitError, r.code)
			receivedCredential(t, srv)
			assert.Contains(t, r.stderr, "answered 401 Unauthorized")
			assert.Contains(t, r.stderr, secret.Redacted, "the server's message is shown, scrubbed")
			hostile.NoLeaks(t, "stderr", r.stderr, allSecrets...)
			hostile.NoLeaks(t, "stdout", r.stdout, allSecrets...)
		})
	}
}

// TestSecretRedirectToOtherOriginGetsNoKey (issue #11, case 2): a target
// that redirects to another port, host name or scheme gets no request
// there from the target check, the /version query or the run itself, and
// the error says that the redirect leaves the origin.
func TestSecretRedirectToOtherOriginGetsNoKey(t *testing.T) {
	t.Parallel()
	for _, mode := range []hostile.Mode{hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme} {
		for _, check := range []bool{true, false} {
			name := mode.String() + "/target check"
			if !check {
				name = mode.String() + "/no target check"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				dir := t.TempDir()
				args := quick(srv.URL+"/v1", dir, "--log-level", "debug")
				if !check {
					args = append(args, "--model", "m", "--no-check-target")
				}
				r := runBinary(t, secretKey, args...)
				assert.Equal(t, exitError, r.code)
				receivedCredential(t, srv)
				if check {
					assert.Regexp(t, `GET http://127\.0\.0\.1:\d+/v1/models: refused a redirect from \S+ to another origin`, r.stderr)
				} else {
					doc := onlyDocument(t, dir)
					require.NotEmpty(t, doc.Errors)
					assert.Contains(t, doc.Errors[0].Examples[0], "a redirect to another origin")
					assert.Contains(t, r.stdout, "another origin")
				}
				for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
					assert.Empty(t, sink.Carrying(allSecrets...), "requests carrying the key at %s", sink.URL)
					assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
					assert.Zero(t, sink.Conns(), "connections to %s", sink.URL)
				}
				hostile.NoLeaks(t, "stderr", r.stderr, allSecrets...)
				hostile.NoLeaks(t, "stdout", r.stdout, allSecrets...)
				for path, text := range filesOf(t, dir) {
					hostile.NoLeaks(t, path, text, allSecrets...)
				}
			})
		}
	}
}

// TestSecretServerVersionRedacted (issue #11, case 3): a /version (and a
// /v1/models) that echoes the request's headers is stored and shown as
// [REDACTED], in the document, on stderr and in the live metrics.
func TestSecretServerVersionRedacted(t *testing.T) {
	t.Parallel()
	srv := hostile.New(t)
	dir := t.TempDir()
	p := startWithKey(t, secretKey, quick(srv.URL+"/v1", dir, "--record-outputs", "--metrics-listen", "127.0.0.1:0",
		"--metrics-linger", "5m")...)
	url := p.waitStderr(t, metricsAddr, time.Minute)
	p.waitStderr(t, regexp.MustCompile(`serving the live metrics 5m0s more`), time.Minute)
	metrics := string(get(t, url))
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, exitOK, p.wait(t, time.Minute))
	receivedCredential(t, srv)

	doc := onlyDocument(t, dir)
	assert.Equal(t, secret.Redacted, doc.Environment.ServerVersion)
	assert.Equal(t, secret.Redacted, doc.Environment.Model)
	assert.False(t, doc.Environment.Simulated)
	assert.Equal(t, 3, doc.Summary.Succeeded)
	assert.Contains(t, p.stderr.String(), "model [REDACTED], server version [REDACTED]")
	assert.Contains(t, metrics, `model="[REDACTED]"`)
	hostile.NoLeaks(t, "the live metrics", metrics, allSecrets...)
	hostile.NoLeaks(t, "stderr", p.stderr.String(), allSecrets...)
	hostile.NoLeaks(t, "stdout", p.stdout.String(), allSecrets...)
	for path, text := range filesOf(t, dir) {
		hostile.NoLeaks(t, path, text, allSecrets...)
	}
}

// TestSecretHeaderKeyNotInDocument (issue #11, case 4): a key given as
// --header 'Authorization: Bearer …' (or any header named like a
// credential) is a secret as $OPENAI_API_KEY is: the echo of it is
// scrubbed from the document's records, error examples, model and version.
func TestSecretHeaderKeyNotInDocument(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"Authorization: Bearer " + secretKey, "X-Api-Key: " + secretKey} {
		for _, mode := range []hostile.Mode{hostile.EchoOK, hostile.Unauthorized} {
			t.Run(strings.Fields(header)[0]+mode.String(), func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				dir := t.TempDir()
				args := quick(srv.URL+"/v1", dir, "--header", header, "--record-outputs")
				if mode != hostile.EchoOK {
					args = append(args, "--model", "m", "--no-check-target")
				}
				r := runBinary(t, "", args...)
				receivedCredential(t, srv)
				paths := documents(t, dir)
				require.Len(t, paths, 1)
				raw, err := os.ReadFile(paths[0])
				require.NoError(t, err)
				hostile.NoLeaks(t, "the document", string(raw), allSecrets...)
				assert.Contains(t, string(raw), secret.Redacted)
				hostile.NoLeaks(t, "stderr", r.stderr, allSecrets...)
				hostile.NoLeaks(t, "stdout", r.stdout, allSecrets...)
			})
		}
	}
}

// TestSecretHeaderUsageErrorNotQuoted: a malformed --header that looks
// like a credential is not quoted in the usage error.
func TestSecretHeaderUsageErrorNotQuoted(t *testing.T) {
	t.Parallel()
	r := runInProcess(t, "run", "--target", "http://127.0.0.1:1/v1", "--header", "Authorization Bearer "+secretKey)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--header [REDACTED]: want 'Name: value'")
	hostile.NoLeaks(t, "stderr", r.stderr, allSecrets...)
}

// TestSecretHostileServerEveryOutput runs the real `bencher run` against
// the hostile server in every mode, with the credential given every way
// ($OPENAI_API_KEY, --api-key-file, --header 'X-Api-Key: …', user:pass@ in
// --target and in --prometheus-url), every report format, --junit and
// debug logs, then `bencher report` and `bencher compare` on what it wrote,
// and greps all of it for every form of every credential: zero hits.
func TestSecretHostileServerEveryOutput(t *testing.T) {
	t.Parallel()
	type cred struct {
		name string
		// args returns the flags and $OPENAI_API_KEY giving the credential.
		args func(t *testing.T, srv *hostile.Server) (target string, flags []string, key string)
	}
	creds := []cred{
		{"env key", func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return srv.URL + "/v1", nil, secretKey
		}},
		{"key file", func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			file := filepath.Join(t.TempDir(), "key")
			require.NoError(t, os.WriteFile(file, []byte(secretKey+"\n"), 0o600))
			return srv.URL + "/v1", []string{"--api-key-file", file}, ""
		}},
		{"x-api-key header", func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return srv.URL + "/v1", []string{"--header", "X-Api-Key: " + secretKey}, ""
		}},
		{"url user-info", func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return withUserInfo(srv.URL, secretUser, secretPass) + "/v1", []string{
				"--prometheus-url", withUserInfo(srv.URL, promUser, promPass), "--prometheus-wait", "0s",
				"--prometheus-timeout", "5s"}, ""
		}},
	}
	formats := []string{"table", "json", "markdown"}
	loads := [][]string{{"--api", "completions"}, {"--api", "chat"}, {"--api", "completions", "--no-stream"},
		{"--api", "chat", "--no-stream"}}
	for ci, c := range creds {
		for mi, mode := range hostile.Modes() {
			i := ci + mi
			check := i%2 == 0
			format := formats[i%len(formats)]
			name := fmt.Sprintf("%s/%s/%s", c.name, mode, format)
			if !check {
				name += "/no target check"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				target, flags, key := c.args(t, srv)
				dir := t.TempDir()
				junit := filepath.Join(dir, "junit.xml")
				args := append([]string{"--log-level", "debug"}, quick(target, dir, "--format", format, "--junit", junit,
					"--record-outputs", "--retries", "1", "--retry-backoff", "1ms", "--retry-backoff-max", "1ms")...)
				args = append(append(args, loads[ci]...), flags...)
				if !check {
					args = append(args, "--model", "m", "--no-check-target")
				}
				r := runBinary(t, key, args...)
				receivedCredential(t, srv)
				outputs := map[string]string{"run stdout": r.stdout, "run stderr": r.stderr}
				if check && mode != hostile.EchoOK {
					assert.Equal(t, exitError, r.code, "the target check fails")
					assert.Empty(t, documents(t, dir))
				} else {
					require.Len(t, documents(t, dir), 1, "the run wrote its document")
					doc := documents(t, dir)[0]
					rf := []string{"table", "markdown", "json", "junit"}[i%4]
					rep := runBinary(t, "", "report", "--format", rf, doc)
					assert.Equal(t, exitOK, rep.code, rep.stderr)
					cmp := runBinary(t, "", "compare", "--format", format, doc, doc)
					assert.Contains(t, []int{exitOK, exitBreach}, cmp.code, cmp.stderr)
					outputs["report stdout"], outputs["report stderr"] = rep.stdout, rep.stderr
					outputs["compare stdout"], outputs["compare stderr"] = cmp.stdout, cmp.stderr
				}
				if mode == hostile.EchoOK {
					assert.Equal(t, exitOK, r.code)
				}
				for path, text := range filesOf(t, dir) {
					outputs[path] = text
				}
				for where, text := range outputs {
					hostile.NoLeaks(t, where, text, allSecrets...)
				}
				for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
					assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
					assert.Zero(t, sink.Conns(), "connections to %s", sink.URL)
				}
			})
		}
	}
}

// TestSecretPlanRedactor: the plan's redactor knows every credential the
// flags give.
func TestSecretPlanRedactor(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(file, []byte(secretKey), 0o600))
	o := &loadOptions{api: "completions", format: "table", apiKeyFile: file,
		target:  withUserInfo("http://h:1", secretUser, secretPass) + "/v1",
		headers: []string{"X-Auth-Token: tok-" + promPass, "X-Trace: not-a-secret"}}
	o.prom.url = withUserInfo("http://p:9090", promUser, promPass)
	red := secret.NewRedactor()
	_, err := newPlan(o, red)
	require.NoError(t, err)
	for _, s := range []string{secretKey, secretPass, hostile.BasicForm(secretUser, secretPass), "tok-" + promPass,
		promPass, hostile.BasicForm(promUser, promPass)} {
		assert.True(t, red.Contains(s), "the redactor does not know %s", s)
	}
	assert.False(t, red.Contains("not-a-secret"))
}

// TestSecretHostileServerBatchMode runs --mode batch-api against the
// hostile server in every mode, with the credential given every way: the
// Batch API calls' errors (the server's messages echo the credentials), the
// document, the report and the JUnit file hold none, and no other origin
// receives one.
func TestSecretHostileServerBatchMode(t *testing.T) {
	t.Parallel()
	creds := map[string]func(t *testing.T, srv *hostile.Server) (string, []string, string){
		"env key": func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return srv.URL + "/v1", nil, secretKey
		},
		"x-api-key header": func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return srv.URL + "/v1", []string{"--header", "X-Api-Key: " + secretKey}, ""
		},
		"url user-info": func(t *testing.T, srv *hostile.Server) (string, []string, string) {
			return withUserInfo(srv.URL, secretUser, secretPass) + "/v1", nil, ""
		},
	}
	for cname, cred := range creds {
		for _, mode := range hostile.Modes() {
			t.Run(cname+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				srv := hostile.New(t)
				srv.SetMode(mode)
				target, flags, key := cred(t, srv)
				dir := t.TempDir()
				junit := filepath.Join(dir, "junit.xml")
				args := append([]string{"--log-level", "debug"}, quick(target, dir, "--mode", "batch-api", "--model", "m",
					"--no-check-target", "--batch-poll", "10ms", "--junit", junit, "--format", "markdown")...)
				r := runBinary(t, key, append(args, flags...)...)
				receivedCredential(t, srv)
				assert.Equal(t, exitError, r.code, "no hostile answer is a Batch API's")
				assert.Contains(t, r.stderr, "batch API POST /v1/files", "the error names the call")
				outputs := map[string]string{"run stdout": r.stdout, "run stderr": r.stderr}
				docs := documents(t, dir)
				require.Len(t, docs, 1, "the failed run wrote its document")
				rep := runBinary(t, "", "report", "--format", "table", docs[0])
				outputs["report stdout"], outputs["report stderr"] = rep.stdout, rep.stderr
				for path, text := range filesOf(t, dir) {
					outputs[path] = text
				}
				for where, text := range outputs {
					hostile.NoLeaks(t, where, text, allSecrets...)
				}
				for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
					assert.Empty(t, sink.Requests(), "requests at %s", sink.URL)
				}
			})
		}
	}
}
