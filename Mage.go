//go:build mage

// The Benchstation build. Run `go tool mage -l` to list the targets; Mage is
// pinned in go.mod as a tool, so Go is all a machine needs.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
)

// Default is what `go tool mage` runs without a target.
var Default = Build

// binaries maps each command to its package.
var binaries = map[string]string{
	"benchstation-exporter": "./exporter/cmd/benchstation-exporter",
	"bencher":               "./bencher/cmd/bencher",
}

// env quiets go-nvml's cgo build, which otherwise prints a warning for
// every deprecated NVML function it wraps.
func env() map[string]string {
	flags := os.Getenv("CGO_CFLAGS")
	if !strings.Contains(flags, "-Wno-deprecated-declarations") {
		flags = strings.TrimSpace("-O2 -g -Wno-deprecated-declarations " + flags)
	}
	return map[string]string{"CGO_CFLAGS": flags, "CGO_ENABLED": "1"}
}

// buildinfoPkg holds the variables that stamp every binary's version
// (internal/buildinfo): the exporter's --version and
// benchstation_exporter_build_info, the bencher's --version and the
// bencher_version of run documents (CLI and plugin).
const buildinfoPkg = "github.com/benchstation/benchstation/internal/buildinfo"

// version is what the builds stamp: $BENCHSTATION_VERSION, else `git
// describe --tags --always --dirty` (a tag, or the commit with -dirty), so
// a build made with -buildvcs=false, or outside git's reach, still says
// which code it is. Empty when neither is known: the binaries then read
// Go's build information.
func version() string {
	if v := os.Getenv("BENCHSTATION_VERSION"); v != "" {
		return v
	}
	return gitOutput("describe", "--tags", "--always", "--dirty")
}

// gitOutput runs git with args and returns its trimmed output, "" when it fails.
func gitOutput(args ...string) string {
	v, err := sh.Output("git", args...)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

// ldflags returns the -ldflags value of a build: extra, and the stamps of
// internal/buildinfo: the version, and the commit (with -modified for a
// tree with changes) and its time, which a build with -buildvcs=false
// (GOFLAGS, Docker contexts without .git) would not know otherwise.
func ldflags(extra string) string {
	flags := []string{extra}
	if v := version(); v != "" {
		flags = append(flags, "-X", buildinfoPkg+".version="+v)
	}
	if rev := gitOutput("rev-parse", "HEAD"); rev != "" {
		if gitOutput("status", "--porcelain", "--untracked-files=no") != "" {
			rev += "-modified"
		}
		flags = append(flags, "-X", buildinfoPkg+".revision="+rev)
		if t := gitOutput("log", "-1", "--format=%cI", "HEAD"); t != "" {
			flags = append(flags, "-X", buildinfoPkg+".date="+t)
		}
	}
	return strings.TrimSpace(strings.Join(flags, " "))
}

// Build compiles every binary into bin/.
func Build() error {
	for name, pkg := range binaries {
		if err := sh.RunWithV(env(), "go", "build", "-trimpath", "-ldflags", ldflags(""), "-o", "bin/"+name, pkg); err != nil {
			return err
		}
	}
	return nil
}

// Plugin builds the Grafana plugin into grafana-plugin/dist: the frontend
// (webpack, after npm ci), then static backend executables (CGO_ENABLED=0,
// -trimpath, -ldflags "-s -w") of ./grafana-plugin/pkg named
// gpx_bencher_linux_amd64 and gpx_bencher_linux_arm64, as plugin.json's
// "executable" expects, stamped with version(), beside a copy of src/plugin.json and src/img.
func Plugin() error {
	mg.Deps(NpmCI)
	if err := sh.RunV("npm", "--prefix", "grafana-plugin", "run", "build"); err != nil {
		return fmt.Errorf("building the plugin frontend: %w", err)
	}
	const dist = "grafana-plugin/dist"
	if err := os.MkdirAll(filepath.Join(dist, "img"), 0o755); err != nil {
		return err
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out := filepath.Join(dist, "gpx_bencher_linux_"+arch)
		env := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch}
		if err := sh.RunWithV(env, "go", "build", "-trimpath", "-ldflags", ldflags("-s -w"), "-o", out, "./grafana-plugin/pkg"); err != nil {
			return fmt.Errorf("building the plugin for linux/%s: %w", arch, err)
		}
	}
	if err := sh.Copy(filepath.Join(dist, "plugin.json"), "grafana-plugin/src/plugin.json"); err != nil {
		return err
	}
	imgs, err := filepath.Glob("grafana-plugin/src/img/*")
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if err := sh.Copy(filepath.Join(dist, "img", filepath.Base(img)), img); err != nil {
			return err
		}
	}
	return nil
}

// goDirs are the trees that hold the project's Go code. "./..." would
// also reach into grafana-plugin/node_modules, where some npm packages
// ship Go files of their own.
var goDirs = []string{"./bencher/...", "./exporter/...", "./grafana-plugin/pkg/...", "./internal/...",
	"./dashboards/...", "./provisioning/..."}

// Dashboards regenerates the committed dashboards (dashboards/*.json) and
// Grafana alert rules (provisioning/grafana/alerting/rules.yaml) from
// their Go code, then the Helm chart's copies of them and its Prometheus
// alert rules (provisioning/helm/benchstation/files); the tests fail until
// they match it. The chart comes second: it copies what the first step
// writes.
func Dashboards() error {
	if err := sh.RunWithV(env(), "go", "test", "-count=1", "-run", "^TestCommitted", "./dashboards/", "./provisioning/", "-update"); err != nil {
		return err
	}
	return sh.RunWithV(env(), "go", "test", "-count=1", "-run", "^TestCommitted", "./provisioning/helm/", "-update")
}

// Lint checks formatting (gofmt) and runs go vet.
func Lint() error {
	dirs := []string{"Mage.go"}
	for _, d := range goDirs {
		dirs = append(dirs, strings.TrimSuffix(d, "/..."))
	}
	out, err := sh.Output("gofmt", append([]string{"-l"}, dirs...)...)
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change these files (run gofmt -w):\n%s", out)
	}
	return sh.RunWithV(env(), "go", append([]string{"vet"}, goDirs...)...)
}

// Test runs everything CI runs: lint, every Go test with the race
// detector, the bencher's accuracy and timing tests on their own without
// it, then the plugin
// frontend's jest tests (after npm ci). Integration
// tests need promtool and prometheus (Debian's prometheus package);
// .ci/run installs them.
func Test() error {
	mg.Deps(Lint)
	if err := sh.RunWithV(env(), "go", append([]string{"test", "-race", "-count=1"}, goDirs...)...); err != nil {
		return err
	}
	// The load generator's accuracy against servers with known token times,
	// and its other timing-sensitive tests (which skip under -race), alone
	// and without the race detector, so that they measure the client rather
	// than a machine busy with every other package's tests.
	if err := sh.RunWithV(env(), "go", "test", "-count=1", "-run", "^TestAccuracy", "-v", "./bencher/"); err != nil {
		return err
	}
	if err := sh.RunWithV(env(), "go", "test", "-count=1", "-skip", "^TestAccuracy", "./bencher/"); err != nil {
		return err
	}
	mg.Deps(NpmCI)
	return sh.RunV("npm", "--prefix", "grafana-plugin", "run", "test:ci")
}

// E2E runs the end-to-end suite against a real Grafana: it builds the
// plugin (frontend and backend, after npm ci, which also installs
// Playwright and @grafana/plugin-e2e), then runs TestGrafanaEndToEnd,
// which starts Grafana from ../shared/tools/grafana with the repository's
// provisioning, Prometheus, the simulator and the exporter, starts two
// runs through the plugin and opens every dashboard and the query editor
// in Debian's chromium. Screenshots go to grafana-plugin/e2e-output (or
// $E2E_OUTPUT_DIR). Without ../shared/tools/grafana the test skips.
func E2E() error {
	mg.Deps(Plugin)
	if err := sh.RunV("npm", "--prefix", "grafana-plugin", "run", "typecheck:e2e"); err != nil {
		return fmt.Errorf("type-checking the browser tests: %w", err)
	}
	e := env()
	e["BENCHSTATION_E2E"] = "1"
	return sh.RunWithV(e, "go", "test", "-count=1", "-timeout", "25m", "-run", "^TestGrafanaEndToEnd$", "-v", "./internal/stacktest/")
}

// NpmCI installs the plugin frontend's dependencies from package-lock.json.
func NpmCI() error {
	return sh.RunV("npm", "--prefix", "grafana-plugin", "ci", "--no-audit", "--no-fund")
}

// Bench runs the Go benchmarks of the hot paths, among them
// BenchmarkMetricsHandler (the exporter's whole /metrics handler on a
// simulated DGX H100, identity and gzip: cpu-ns/op, allocs/sample), then
// ScrapeCost.
func Bench() error {
	if err := sh.RunWithV(env(), "go", append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem"}, goDirs...)...); err != nil {
		return err
	}
	return ScrapeCost()
}

// ScrapeCost compares the CPU time one scrape costs the exporter (a
// simulated DGX H100) and node_exporter on this machine, both scraped over
// keep-alive HTTP as Prometheus does (gzip accepted), in alternating rounds
// so that both see the same load. The CPU time is the process's own
// (utime+stime of /proc/PID/stat). Without node_exporter (Debian:
// apt-get install prometheus-node-exporter) it says so and measures the
// exporter alone.
func ScrapeCost() error {
	if err := sh.RunWithV(env(), "go", "build", "-trimpath", "-ldflags", ldflags(""), "-o", "bin/benchstation-exporter",
		binaries["benchstation-exporter"]); err != nil {
		return err
	}
	ours, err := startScrapeTarget("bin/benchstation-exporter", "--nvml.simulate=dgxh100")
	if err != nil {
		return err
	}
	defer ours.stop()
	targets := []*scrapeTarget{ours}
	if path := nodeExporterPath(); path != "" {
		node, err := startScrapeTarget(path)
		if err != nil {
			return err
		}
		defer node.stop()
		targets = append(targets, node)
	} else {
		fmt.Println("node_exporter not found (apt-get install prometheus-node-exporter): measuring the exporter alone")
	}
	for range 5 {
		for _, t := range targets {
			if err := t.measure(2 * time.Second); err != nil {
				return err
			}
		}
	}
	for _, t := range targets {
		fmt.Printf("%-28s %7.3f ms CPU per scrape (%d scrapes, %d samples each)\n", t.name, t.cpuPerScrape()*1e3, t.scrapes, t.samples)
	}
	if len(targets) == 2 {
		fmt.Printf("node_exporter / benchstation-exporter CPU per scrape: %.1f (goal: at least 8)\n",
			targets[1].cpuPerScrape()/targets[0].cpuPerScrape())
	}
	return nil
}

func nodeExporterPath() string {
	for _, name := range []string{"prometheus-node-exporter", "node_exporter"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// scrapeTarget is an exporter process under measurement.
type scrapeTarget struct {
	name    string
	cmd     *exec.Cmd
	url     string
	client  *http.Client
	scrapes int
	samples int
	cpu     time.Duration
}

func startScrapeTarget(path string, args ...string) (*scrapeTarget, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(path, append(args, "--web.listen-address="+addr)...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &scrapeTarget{name: filepath.Base(path), cmd: cmd, url: "http://" + addr + "/metrics", client: &http.Client{}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := t.scrape()
		if err == nil {
			t.samples = n
			break
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("%s did not answer: %w", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 20 { // warm up
		if _, err := t.scrape(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *scrapeTarget) stop() { _ = t.cmd.Process.Kill(); _ = t.cmd.Wait() }

// scrape fetches the metrics as Prometheus does and counts the samples.
func (t *scrapeTarget) scrape() (int, error) {
	req, err := http.NewRequest(http.MethodGet, t.url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := t.client.Do(req) // the transport asks for gzip and decompresses
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", t.url, resp.Status)
	}
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n, sc.Err()
}

// measure scrapes t back to back for about d and adds the CPU time its
// process spent.
func (t *scrapeTarget) measure(d time.Duration) error {
	before, err := processCPU(t.cmd.Process.Pid)
	if err != nil {
		return err
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := t.scrape(); err != nil {
			return err
		}
		t.scrapes++
	}
	after, err := processCPU(t.cmd.Process.Pid)
	if err != nil {
		return err
	}
	t.cpu += after - before
	return nil
}

func (t *scrapeTarget) cpuPerScrape() float64 { return t.cpu.Seconds() / float64(t.scrapes) }

// processCPU returns the user and system CPU time of process pid so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	const userHZ = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// Clean removes build outputs.
func Clean() error {
	return os.RemoveAll("bin")
}

// Demo runs the main job on a machine without a GPU: the exporter in
// simulation mode (a DGX H100), scraped once; it prints the GPU metrics.
func Demo() error {
	mg.Deps(Build)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command("bin/benchstation-exporter", "--nvml.simulate=dgxh100", "--web.listen-address="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/metrics"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("scraping the exporter: %w", err)
	}
	defer resp.Body.Close()
	return printGPUSeries(resp.Body, os.Stdout)
}

// printGPUSeries copies the nvidia_gpu_ series of an exposition, without
// HELP and TYPE lines.
func printGPUSeries(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "nvidia_gpu_") {
			fmt.Fprintln(w, line)
			n++
		}
	}
	fmt.Fprintf(w, "# %d nvidia_gpu_ series, simulated (nvidia_gpu_info{simulated=\"true\"})\n", n)
	return sc.Err()
}
