package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/benchstation/benchstation/internal/secret"
)

// Defaults and limits of the settings.
const (
	// DefaultMaxConcurrentRuns is the number of benchmark runs an instance
	// runs at once when maxConcurrentRuns is not set.
	DefaultMaxConcurrentRuns = 1
	// MaxConcurrentRunsLimit is the largest maxConcurrentRuns accepted.
	MaxConcurrentRunsLimit = 16
	// SecureKeyAPIKey is the secureJsonData key of the target's API key.
	SecureKeyAPIKey = "apiKey"
	// SecureKeyLabelStudioToken is the secureJsonData key of the Label
	// Studio token (POST /export/labelstudio).
	SecureKeyLabelStudioToken = "labelStudioToken"
)

// JSONData is the jsonData of a data source instance, as the config editor
// writes it. Every field is optional except resultsDir; unknown fields are
// rejected.
type JSONData struct {
	// DefaultTarget is the OpenAI-compatible base URL runs go to when they
	// name none, such as "http://vllm:8000/v1"; empty means the bencher's
	// built-in simulator.
	DefaultTarget string `json:"defaultTarget"`
	// AllowedHosts are the hosts ("host" for any port, or "host:port") that
	// runs may target; empty allows only the default target's host.
	AllowedHosts []string `json:"allowedHosts"`
	// ResultsDir is the absolute path of the results directory.
	ResultsDir string `json:"resultsDir"`
	// PrometheusURL is the Prometheus server that saw the target's metrics
	// during runs, such as "http://prometheus:9090"; empty means none.
	PrometheusURL string `json:"prometheusUrl"`
	// MaxConcurrentRuns is the number of runs at once (1 to
	// MaxConcurrentRunsLimit; absent means DefaultMaxConcurrentRuns).
	MaxConcurrentRuns *int `json:"maxConcurrentRuns"`
	// LabelStudioURL is the Label Studio server that POST
	// /export/labelstudio sends tasks to, such as
	// "http://label-studio:8080"; empty means none. Its host must be
	// allowed as a target's is (see Settings.AllowsTarget).
	LabelStudioURL string `json:"labelStudioUrl"`
}

// Settings are the validated settings of a data source instance. They
// log and marshal without the API key.
type Settings struct {
	// DefaultTarget is the default target's base URL without a trailing
	// slash, or "" for the built-in simulator.
	DefaultTarget string `json:"defaultTarget"`
	// AllowedHosts are the allowed target hosts, lower-cased.
	AllowedHosts []string `json:"allowedHosts"`
	// ResultsDir is the results directory, cleaned.
	ResultsDir string `json:"resultsDir"`
	// PrometheusURL is Prometheus's base URL without a trailing slash, or "".
	PrometheusURL string `json:"prometheusUrl"`
	// MaxConcurrentRuns is the number of runs at once.
	MaxConcurrentRuns int `json:"maxConcurrentRuns"`
	// APIKey is the target's API key (secureJsonData.apiKey), if any; it
	// prints, logs and marshals as "[REDACTED]".
	APIKey Secret `json:"apiKey"`
	// LabelStudioURL is Label Studio's base URL without a trailing slash,
	// or "".
	LabelStudioURL string `json:"labelStudioUrl"`
	// LabelStudioToken is Label Studio's token
	// (secureJsonData.labelStudioToken), sent to LabelStudioURL's origin
	// only; it prints, logs and marshals as "[REDACTED]".
	LabelStudioToken Secret `json:"labelStudioToken"`
}

// SettingsError lists what is wrong with an instance's settings, each
// problem naming its field ("resultsDir: required").
type SettingsError struct {
	Problems []string
}

// Error joins the problems with "; ".
func (e *SettingsError) Error() string {
	return "invalid settings: " + strings.Join(e.Problems, "; ")
}

// LoadSettings reads and validates the settings of a data source instance.
// The error is a *SettingsError; it never holds the API key.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var jd JSONData
	if err := decodeStrict(s.JSONData, &jd); err != nil {
		return Settings{}, &SettingsError{Problems: []string{err.Error()}}
	}
	v := &validator{}
	out := Settings{
		DefaultTarget:     v.httpURL("defaultTarget", jd.DefaultTarget),
		AllowedHosts:      v.hosts(jd.AllowedHosts),
		ResultsDir:        v.resultsDir(jd.ResultsDir),
		PrometheusURL:     v.httpURL("prometheusUrl", jd.PrometheusURL),
		MaxConcurrentRuns: v.maxRuns(jd.MaxConcurrentRuns),
		LabelStudioURL:    v.httpURL("labelStudioUrl", jd.LabelStudioURL),
	}
	if out.DefaultTarget != "" && len(out.AllowedHosts) > 0 {
		if u, err := url.Parse(out.DefaultTarget); err == nil && !hostAllowed(out.AllowedHosts, u) {
			v.addf("defaultTarget: host %q is not in allowedHosts", u.Host)
		}
	}
	out.APIKey, out.LabelStudioToken = v.secrets(s.DecryptedSecureJSONData)
	if len(v.problems) > 0 {
		return Settings{}, &SettingsError{Problems: v.problems}
	}
	return out, nil
}

// decodeStrict decodes raw JSON into jd, rejecting unknown fields; empty
// or null JSON decodes to the zero value. Errors name the field.
func decodeStrict(raw json.RawMessage, jd *JSONData) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(jd)
	if err == nil {
		if _, e := dec.Token(); !errors.Is(e, io.EOF) {
			err = errors.New("unexpected data after the object")
		}
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("%s: must be %s, not a JSON %s", typeErr.Field, describeType(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("jsonData: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("jsonData: not a valid JSON object: %w", err)
}

// describeType names a Go type in the words of a settings message.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + "s"
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// validator collects the problems of a settings object.
type validator struct {
	problems []string
}

// addf records one problem.
func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// httpURL checks an optional http(s) base URL without credentials, query
// or fragment, and returns it without a trailing slash.
func (v *validator) httpURL(field, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.addf("%s: not a URL", field)
	case u.Scheme != "http" && u.Scheme != "https":
		v.addf("%s: must start with http:// or https://", field)
	case u.Host == "":
		v.addf("%s: has no host", field)
	case u.User != nil:
		v.addf("%s: must not contain credentials (put the API key in the API key field)", field)
	case u.RawQuery != "" || u.Fragment != "":
		v.addf("%s: must not have a query or fragment", field)
	default:
		return strings.TrimSuffix(u.String(), "/")
	}
	return ""
}

// hosts checks the allowed hosts and returns them lower-cased.
func (v *validator) hosts(in []string) []string {
	var out []string
	for i, h := range in {
		h = strings.ToLower(strings.TrimSpace(h))
		u, err := url.Parse("//" + h)
		if h == "" || err != nil || u.Host != h || u.Hostname() == "" {
			v.addf("allowedHosts[%d]: %q is not a host (want host or host:port, without scheme or path)", i, in[i])
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// resultsDir checks the results directory's path (not the directory).
func (v *validator) resultsDir(dir string) string {
	switch {
	case strings.TrimSpace(dir) == "":
		v.addf("resultsDir: required (the absolute path of the directory that holds the run documents)")
	case !filepath.IsAbs(dir):
		v.addf("resultsDir: must be an absolute path, got %q", dir)
	default:
		return filepath.Clean(dir)
	}
	return ""
}

// maxRuns checks maxConcurrentRuns and applies its default.
func (v *validator) maxRuns(n *int) int {
	switch {
	case n == nil:
		return DefaultMaxConcurrentRuns
	case *n < 1 || *n > MaxConcurrentRunsLimit:
		v.addf("maxConcurrentRuns: must be between 1 and %d, got %d", MaxConcurrentRunsLimit, *n)
	}
	return *n
}

// secrets checks the decrypted secure JSON data and returns the API key
// and the Label Studio token. Problems name the key, never its value.
func (v *validator) secrets(m map[string]string) (apiKey, labelStudio Secret) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch val := m[k]; {
		case k != SecureKeyAPIKey && k != SecureKeyLabelStudioToken:
			v.addf("secureJsonData: unknown field %q", k)
		case strings.ContainsAny(val, " \t\r\n"):
			v.addf("%s: must not contain spaces or line breaks", k)
		case k == SecureKeyAPIKey:
			apiKey = NewSecret(val)
		default:
			labelStudio = NewSecret(val)
		}
	}
	return apiKey, labelStudio
}

// AllowsTarget reports whether a run may target u: its host must be in
// AllowedHosts or, when that is empty, be the default target's host.
func (s Settings) AllowsTarget(u *url.URL) bool {
	if len(s.AllowedHosts) > 0 {
		return hostAllowed(s.AllowedHosts, u)
	}
	if s.DefaultTarget == "" {
		return false
	}
	d, err := url.Parse(s.DefaultTarget)
	return err == nil && strings.EqualFold(d.Host, u.Host)
}

// hostAllowed reports whether u's host matches an allowed host: "host"
// matches any port, "host:port" only that port.
func hostAllowed(allowed []string, u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, a := range allowed {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			h, p = strings.Trim(a, "[]"), ""
		}
		if h == host && (p == "" || p == port) {
			return true
		}
	}
	return false
}

// Secret is a credential (internal/secret's): it prints, logs and
// marshals as "[REDACTED]"; only Value gives its value.
type Secret = secret.Secret

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return secret.New(v) }
