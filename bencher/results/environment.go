package results

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/buildinfo"
	"github.com/benchstation/benchstation/internal/secret"
)

// idTimeLayout is the time part of an ID: UTC, to the second.
const idTimeLayout = "20060102T150405Z"

// NewID returns a new document ID for a run started at t: its UTC time to
// the second and 6 random hex digits, such as "20261127T101500Z-1a2b3c".
// IDs sort by start time (to the second).
func NewID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read crashes the program instead)
	return t.UTC().Format(idTimeLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id can be a document's id (see validID).
func ValidID(id string) bool { return validID(id) }

// validID reports whether id can name a file in a results directory:
// letters, digits, '.', '_' and '-', not starting with '.'.
func validID(id string) bool {
	if id == "" || id[0] == '.' || len(id) > 200 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// RedactURL returns raw as results show a target: without user-info,
// query and fragment, which may hold credentials (bencher.DisplayTarget).
// A string that is not a URL is returned as "" unless it holds no '@', '?'
// or '#'.
func RedactURL(raw string) string { return bencher.DisplayTarget(raw) }

// version, when stamped at link time, is the bencher's version and takes
// precedence over internal/buildinfo (which Mage stamps now):
//
//	go build -ldflags "-X github.com/benchstation/benchstation/bencher/results.version=v1.2.3"
var version string

// BuildVersion returns the version of the bencher (the CLI, the Grafana
// plugin, anything that writes run documents): the version stamped with
// -ldflags -X (see version), else internal/buildinfo's, which every
// Benchstation binary reports alike: its own stamp, else the main module's
// version from the build information (a tag, or a pseudo-version that Go
// stamps from the VCS), else the VCS revision's first 12 hex digits, with
// "-dirty" when the working tree was modified; "devel" only when the
// binary knows none of these.
func BuildVersion() string {
	if v := strings.TrimSpace(version); v != "" {
		return v
	}
	return buildinfo.Version()
}

// buildVersion is BuildVersion with its inputs given: stamped, and the
// build information (nil when there is none).
func buildVersion(stamped string, bi *debug.BuildInfo) string {
	return buildinfo.From(buildinfo.Stamp{Version: stamped}, bi).Version
}

// newEnvironment returns the environment section of a run.
func newEnvironment(res *bencher.Result, m Meta) Environment {
	host := m.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	return Environment{
		Target:         RedactURL(res.Config.Target),
		Simulated:      m.Simulated,
		Model:          res.Config.Model,
		ServerVersion:  m.ServerVersion,
		BencherVersion: cmp.Or(m.BencherVersion, BuildVersion()),
		GoVersion:      runtime.Version(),
		Host:           host,
		OS:             runtime.GOOS,
		Arch:           runtime.GOARCH,
		StartTime:      res.Start.Round(0).UTC(),
		EndTime:        res.End.Round(0).UTC(),
	}
}

// ErrNoVersion is returned by ServerVersion when the server has no
// /version endpoint (any answer other than 200).
var ErrNoVersion = errors.New("results: the server serves no version")

// Server is what a target's server says it is.
type Server struct {
	// Version is what its GET /version reported ("" when unknown).
	Version string
	// Simulated is true when it is the bencher's simulator (bencher sim, or
	// an embedded one reached by URL): its version says so (sim.IsVersion).
	Simulated bool
}

// DetectServer asks the server at target (an OpenAI base URL) what it is:
// its version (ServerVersion) and whether it is the bencher's simulator.
// It is the one detection of the bencher CLI and the Grafana plugin, which
// store it as the documents' environment.server_version and
// environment.simulated (Meta.ServerVersion, Meta.Simulated). A server
// without /version gives the zero Server and an error wrapping
// ErrNoVersion; hc, ctx and red are as for ServerVersion.
//
// The version is the server's own text: one that holds a credential (a
// hostile server's echo of the request's headers) is stored as
// secret.Redacted, whole. Simulated is decided on the text as it came.
func DetectServer(ctx context.Context, hc *http.Client, target string, red ...*secret.Redactor) (Server, error) {
	r := redactors(hc, target, red)
	v, err := serverVersion(ctx, hc, target)
	if err != nil {
		return Server{}, r.error(err)
	}
	return Server{Version: r.value(v), Simulated: sim.IsVersion(v)}, nil
}

// ServerVersion asks the server at target (an OpenAI base URL such as
// "http://host:8000/v1") for its version: GET /version at the server's
// root, as vLLM serves it ({"version": "0.11.0"}). hc nil means
// http.DefaultClient; set the credentials the server needs on hc's
// transport. The context should carry a short deadline.
//
// It follows redirects within the target's origin only (secret.CheckRedirect,
// before hc's own CheckRedirect), so hc's credentials never reach another
// origin; a redirect elsewhere is an error that says so. The version and
// the errors are scrubbed of the credentials that red (optional), the
// target's user-info and the headers of a *secret.Transport hc sends with
// know: a version that holds one is secret.Redacted.
func ServerVersion(ctx context.Context, hc *http.Client, target string, red ...*secret.Redactor) (string, error) {
	r := redactors(hc, target, red)
	v, err := serverVersion(ctx, hc, target)
	if err != nil {
		return "", r.error(err)
	}
	return r.value(v), nil
}

// serverVersion is ServerVersion without the scrubbing.
func serverVersion(ctx context.Context, hc *http.Client, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("results: server version: bad target %q", RedactURL(target))
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1") + "/version"
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("results: server version: %w", err)
	}
	resp, err := sameOrigin(hc).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may hold credentials, or be another origin's
		}
		return "", fmt.Errorf("results: server version from %s: %w", RedactURL(u.String()), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w (GET /version: %s)", ErrNoVersion, resp.Status)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil {
		return "", fmt.Errorf("results: server version: %w", err)
	}
	if v.Version == "" {
		return "", fmt.Errorf("%w (GET /version gave no \"version\")", ErrNoVersion)
	}
	return v.Version, nil
}

// sameOrigin returns a copy of hc (http.DefaultClient when nil) that
// follows redirects within the first request's origin only, then as hc's
// own CheckRedirect says.
func sameOrigin(hc *http.Client) *http.Client {
	return secret.SameOriginClient(cmp.Or(hc, http.DefaultClient))
}

// redactorSet scrubs with several redactors, one after the other.
type redactorSet []*secret.Redactor

// redactors returns the redactors of a query of target with hc: those
// given, and one that knows target's user-info and the headers of hc's
// transport when it is a *secret.Transport.
func redactors(hc *http.Client, target string, given []*secret.Redactor) redactorSet {
	own := secret.NewRedactor()
	own.AddURL(target)
	if hc != nil {
		if t, ok := hc.Transport.(*secret.Transport); ok {
			own.AddHeaders(t.Header)
		}
	}
	return append(redactorSet{own}, given...)
}

// value returns s, or secret.Redacted when it holds a credential.
func (rs redactorSet) value(s string) string {
	for _, r := range rs {
		if r.Contains(s) {
			return secret.Redacted
		}
	}
	return s
}

// string returns s scrubbed of every credential.
func (rs redactorSet) string(s string) string {
	for _, r := range rs {
		s = r.String(s)
	}
	return s
}

// error returns err scrubbed of every credential (nil for nil).
func (rs redactorSet) error(err error) error {
	for _, r := range rs {
		err = r.Error(err)
	}
	return err
}
