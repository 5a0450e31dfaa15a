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

// RedactURL returns raw without userinfo, query and fragment, which may
// hold credentials. A string that is not a URL is returned as "" unless it
// holds no '@', '?' or '#'.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?#") {
			return ""
		}
		return raw
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// BuildVersion returns the bencher's version from the build information:
// the main module's version, or "devel" with the VCS revision when built
// from a checkout.
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
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

// ServerVersion asks the server at target (an OpenAI base URL such as
// "http://host:8000/v1") for its version: GET /version at the server's
// root, as vLLM serves it ({"version": "0.11.0"}). hc nil means
// http.DefaultClient; set the credentials the server needs on hc's
// transport. The context should carry a short deadline.
func ServerVersion(ctx context.Context, hc *http.Client, target string) (string, error) {
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
	resp, err := cmp.Or(hc, http.DefaultClient).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may hold credentials
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
