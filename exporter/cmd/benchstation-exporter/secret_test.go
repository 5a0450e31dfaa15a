package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/internal/promtest"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
)

// The credentials of the end-to-end test: an OpenAI-shaped key (51
// characters) and the user-info of a URL.
const (
	e2eKey  = "sk-proj-Hq7Wm2Xv9Lp4Rt6Yz1Bn3Kc8Df5Gj0Ns2Qa7Ue4Io9P"
	e2eUser = "batchuser-7Qx2"
	e2ePass = "pw-Vb82Kq1Lm9Zr4Tx6"
)

// e2eSecrets are the strings no output may hold, in any of the forms
// hostile.Leaks looks for.
var e2eSecrets = []string{e2eKey, e2eUser, e2ePass, e2eUser + ":" + e2ePass, hostile.BasicForm(e2eUser, e2ePass)}

// process is a run of the real binary, its stdout and stderr apart.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	exited         chan error
}

// startBinary runs the binary with args, in the environment of the test
// less BATCH_API_KEY, plus env.
func startBinary(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{exited: make(chan error, 1)}
	p.cmd = exec.Command(exporterBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, batch.APIKeyEnv+"=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop interrupts the process, if it still runs, and waits for its end.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.exited: // already ended
		p.exited <- err
	default:
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-p.exited:
			p.exited <- err
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			t.Error("the exporter did not stop on SIGINT")
		}
	}
	return p.wait(t)
}

// wait waits for the process to end by itself and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("the exporter did not exit")
		return -1
	}
}

var (
	pollsRe    = regexp.MustCompile(`(?m)^benchstation_batch_polls_total\{[^}]*\} (\d+)$`)
	redirectRe = regexp.MustCompile(`(?m)^benchstation_batch_poll_failures_total\{[^}]*reason="redirect"[^}]*\} (\d+)$`)
)

// sumOf adds up the values of the series re matches.
func sumOf(re *regexp.Regexp, exposition string) int {
	n := 0
	for _, m := range re.FindAllStringSubmatch(exposition, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// TestSecretExporterNeverShowsKeys runs the real exporter, with simulated
// GPUs and the batch collector pointed at the hostile server, with a known
// key from each place a key can come from, and has the server answer in
// every hostile mode in turn (echoing the request's headers into every
// field, error bodies, redirects to another port, host name and scheme).
// Everything the exporter produced — stdout, stderr with debug logs, every
// /metrics scrape, the landing page, /healthz — holds no form of the key,
// and nothing reached the other origins.
func TestSecretExporterNeverShowsKeys(t *testing.T) {
	t.Parallel()
	type source struct {
		name  string
		setup func(t *testing.T, dir, url string) (env, args []string)
	}
	writeKey := func(t *testing.T, path string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
		require.NoError(t, os.WriteFile(path, []byte(e2eKey+"\n"), 0o600))
	}
	writeConfig := func(t *testing.T, dir, keyLine, url string) string {
		path := filepath.Join(dir, "batch.yaml")
		yaml := "endpoints:\n  - name: hostile\n    url: " + url + "\n    " + keyLine + "\n"
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
		return path
	}
	for _, src := range []source{
		{"--batch.api-key-file", func(t *testing.T, dir, url string) ([]string, []string) {
			writeKey(t, filepath.Join(dir, "key"))
			return nil, []string{"--batch.endpoint=" + url, "--batch.api-key-file=" + filepath.Join(dir, "key")}
		}},
		{"BATCH_API_KEY", func(t *testing.T, dir, url string) ([]string, []string) {
			return []string{batch.APIKeyEnv + "=" + e2eKey}, []string{"--batch.endpoint=" + url}
		}},
		{"config api_key_file", func(t *testing.T, dir, url string) ([]string, []string) {
			writeKey(t, filepath.Join(dir, "keys", "hostile.key"))
			return nil, []string{"--batch.config-file=" + writeConfig(t, dir, "api_key_file: keys/hostile.key", url)}
		}},
		{"config api_key_env", func(t *testing.T, dir, url string) ([]string, []string) {
			return []string{"HOSTILE_BATCH_KEY=" + e2eKey}, []string{"--batch.config-file=" + writeConfig(t, dir, "api_key_env: HOSTILE_BATCH_KEY", url)}
		}},
	} {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			env, args := src.setup(t, t.TempDir(), srv.URL)
			addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
			p := startBinary(t, env, append(args, "--web.listen-address="+addr, "--nvml.simulate=dgxa100",
				"--log.level=debug", "--batch.interval=100ms")...)
			base := "http://" + addr
			promtest.WaitHTTP(t, base+"/healthz", 30*time.Second)

			fetch := func(path string) string {
				text := get(t, base+path)
				hostile.NoLeaks(t, path, text, e2eSecrets...)
				return text
			}
			var sawRedacted bool
			for _, mode := range hostile.Modes() {
				srv.SetMode(mode)
				from := sumOf(pollsRe, fetch("/metrics"))
				// Two polls end after the switch: one ran wholly in the mode.
				require.Eventually(t, func() bool {
					m := fetch("/metrics")
					sawRedacted = sawRedacted || strings.Contains(m, `batch_id="[REDACTED]"`)
					return sumOf(pollsRe, m) >= from+2
				}, 60*time.Second, 50*time.Millisecond, "polls in mode %s", mode)
				fetch("/")
				fetch("/healthz")
			}
			final := fetch("/metrics")
			assert.True(t, sawRedacted, `the echoed ids were served as batch_id="[REDACTED]"`)
			assert.GreaterOrEqual(t, sumOf(redirectRe, final), 3, "redirects counted as failures with reason redirect")
			assert.Contains(t, final, `benchstation_exporter_scrape_collector_success{collector="batch"} 1`)
			assert.Contains(t, final, "nvidia_gpu_nvml_up 1", "simulated GPUs alongside")

			assert.Zero(t, p.stop(t), "exit code")
			stderr := p.stderr.String()
			hostile.NoLeaks(t, "stdout", p.stdout.String(), e2eSecrets...)
			hostile.NoLeaks(t, "stderr", stderr, e2eSecrets...)
			assert.Contains(t, stderr, "reason=redirect", "the log says why the poll failed")
			assert.Contains(t, stderr, "to another origin")
			assert.Contains(t, stderr, "level=DEBUG", "debug records were written")

			reqs := srv.Requests()
			require.NotEmpty(t, reqs)
			for _, r := range reqs {
				assert.Equal(t, "Bearer "+e2eKey, r.Header.Get("Authorization"), "the endpoint's own origin gets the key")
			}
			for name, sink := range map[string]*hostile.Sink{"sink": srv.Sink, "TLS sink": srv.TLSSink} {
				assert.Empty(t, sink.Carrying(e2eSecrets...), "requests carrying a secret at the %s", name)
				assert.Zero(t, sink.Conns(), "connections to the %s", name)
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", stderr)
			}
		})
	}

	// Credentials in the endpoint's URL, and a key given wrongly: the
	// exporter refuses to start, and its error shows none of them.
	for _, tc := range []struct {
		name string
		env  []string
		args func(dir, url string) []string
		want string
	}{
		{name: "user-info in --batch.endpoint", env: []string{batch.APIKeyEnv + "=" + e2eKey},
			args: func(_, url string) []string {
				return []string{"--batch.endpoint=" + strings.Replace(url, "://", "://"+e2eUser+":"+e2ePass+"@", 1)}
			},
			want: "--batch.endpoint: invalid batch endpoint URL: user information is not allowed (use an API key file)"},
		{name: "user-info in the config file's url",
			args: func(dir, url string) []string {
				path := filepath.Join(dir, "batch.yaml")
				yaml := "endpoints:\n  - url: " + strings.Replace(url, "://", "://"+e2eUser+":"+e2ePass+"@", 1) + "\n"
				require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
				return []string{"--batch.config-file=" + path}
			},
			want: "invalid batch endpoint URL: user information is not allowed (use an API key file)"},
		{name: "Bearer in BATCH_API_KEY", env: []string{batch.APIKeyEnv + "=Bearer " + e2eKey},
			args: func(_, url string) []string { return []string{"--batch.endpoint=" + url} },
			want: `API key contains white space or control characters (give the key alone, without "Bearer ")`},
		{name: "key in --batch.api-key-file",
			args: func(_, url string) []string {
				return []string{"--batch.endpoint=" + url, "--batch.api-key-file=" + e2eKey}
			},
			want: "--batch.api-key-file: cannot open it (no such file or directory), and it does not look like a file path " +
				"(a 51-character value; is it the key itself?)"},
		{name: "key in api_key_env",
			args: func(dir, url string) []string {
				path := filepath.Join(dir, "batch.yaml")
				yaml := "endpoints:\n  - name: gw\n    url: " + url + "\n    api_key_env: " + e2eKey + "\n"
				require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
				return []string{"--batch.config-file=" + path}
			},
			want: `api_key_env in %s, endpoint "gw": not an environment variable name (a 51-character value; is it the key itself?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			dir := t.TempDir()
			p := startBinary(t, tc.env, append(tc.args(dir, srv.URL), "--nvml.simulate=dgxa100", "--log.level=debug",
				"--web.listen-address=127.0.0.1:0")...)
			assert.Equal(t, 2, p.wait(t), "exit code")
			stderr := p.stderr.String()
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, filepath.Join(dir, "batch.yaml"))
			}
			assert.Contains(t, stderr, want)
			hostile.NoLeaks(t, "stdout", p.stdout.String(), e2eSecrets...)
			hostile.NoLeaks(t, "stderr", stderr, e2eSecrets...)
			assert.Empty(t, srv.Requests(), "no request before the configuration is sound")
		})
	}
}

// TestSecretFlagValueNotEchoed is issue #11, case 7, for the command line:
// a key given where a file name belongs, or as a stray argument, is never
// printed, whatever the message that would have carried it.
func TestSecretFlagValueNotEchoed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "--batch.api-key-file=KEY", args: []string{"--batch.endpoint=http://127.0.0.1:1", "--batch.api-key-file=" + e2eKey},
			want: "--batch.api-key-file: cannot open it (no such file or directory), and it does not look like a file path " +
				"(a 51-character value; is it the key itself?)"},
		{name: "--batch.api-key-file KEY", args: []string{"--batch.endpoint=http://127.0.0.1:1", "--batch.api-key-file", e2eKey},
			want: "(a 51-character value; is it the key itself?)"},
		{name: "stray argument", args: []string{"--batch.endpoint=http://127.0.0.1:1", e2eKey},
			want: "benchstation-exporter: unexpected [REDACTED] (see --help)"},
		{name: "key in the URL's port", args: []string{"--batch.endpoint=http://127.0.0.1:" + e2eKey},
			want: "--batch.endpoint: invalid batch endpoint URL: invalid port after host"},
		{name: "user-info", args: []string{"--batch.endpoint=http://" + e2eUser + ":" + e2ePass + "@127.0.0.1:1"},
			want: "--batch.endpoint: invalid batch endpoint URL: user information is not allowed (use an API key file)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			assert.Equal(t, 2, run(context.Background(), tc.args, &stderr))
			assert.Contains(t, stderr.String(), tc.want)
			hostile.NoLeaks(t, "stderr", stderr.String(), e2eSecrets...)
		})
	}
}
