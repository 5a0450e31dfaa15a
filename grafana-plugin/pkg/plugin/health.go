package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// HealthPart is one part of a health check, as the check's JSON details
// hold it.
type HealthPart struct {
	// OK says whether the part works.
	OK bool `json:"ok"`
	// Message says what was found, in plain words.
	Message string `json:"message"`
	// Models are what the default target serves (target part only).
	Models []string `json:"models,omitempty"`
}

// HealthDetails are the JSON details of a health check.
type HealthDetails struct {
	ResultsDir HealthPart `json:"resultsDir"`
	Target     HealthPart `json:"target"`
	Prometheus HealthPart `json:"prometheus"`
}

// CheckHealth checks the results directory (it must exist and be writable),
// the default target (reachable, and which models it serves) and Prometheus
// (reachable, when configured), and says what it found in words. The status
// is Error when the settings are invalid or the results directory is not
// usable, and OK otherwise, even when the target or Prometheus cannot be
// reached (stored results can still be read); the message lists every part.
// It never returns an error.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.configErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.red.String(d.configErr.Error())}, nil
	}
	det := HealthDetails{
		ResultsDir: d.checkResultsDir(),
		Target:     d.checkTarget(ctx),
		Prometheus: d.checkPrometheus(ctx),
	}
	status := backend.HealthStatusOk
	if !det.ResultsDir.OK {
		status = backend.HealthStatusError
	}
	details, err := json.Marshal(det)
	if err != nil {
		details = nil
	} else {
		details = []byte(d.red.String(string(details)))
	}
	d.logger.FromContext(ctx).Debug("Health check", "resultsDirOK", det.ResultsDir.OK,
		"targetOK", det.Target.OK, "prometheusOK", det.Prometheus.OK)
	return &backend.CheckHealthResult{
		Status:      status,
		Message:     d.red.String(strings.Join([]string{det.ResultsDir.Message, det.Target.Message, det.Prometheus.Message}, " ")),
		JSONDetails: details,
	}, nil
}

// checkResultsDir checks that the results directory exists and is writable
// by creating and removing a hidden file (listings ignore hidden files).
func (d *Datasource) checkResultsDir() HealthPart {
	dir := d.settings.ResultsDir
	fail := func(why string) HealthPart {
		return HealthPart{Message: fmt.Sprintf("Results directory %s: %s.", dir, why)}
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("does not exist (create it, or correct the results directory setting)")
	case errors.Is(err, fs.ErrPermission):
		return fail("the plugin is not allowed to open it")
	case err != nil:
		return fail("cannot be read (" + plainOSError(err) + ")")
	case !fi.IsDir():
		return fail("is not a directory")
	}
	f, err := os.CreateTemp(dir, ".health-*")
	if err != nil {
		return fail("is not writable by the plugin (" + plainOSError(err) + ")")
	}
	name := f.Name()
	closeErr := f.Close()
	if err := errors.Join(closeErr, os.Remove(name)); err != nil {
		return fail("a test file could not be written and removed (" + plainOSError(err) + ")")
	}
	msg := "writable"
	if l, err := d.index.List(); err == nil {
		msg += fmt.Sprintf(", %d run(s)", len(l.Runs))
		if len(l.Skipped) > 0 {
			msg += fmt.Sprintf(", %d unreadable file(s) skipped", len(l.Skipped))
		}
	}
	return HealthPart{OK: true, Message: fmt.Sprintf("Results directory %s: %s.", dir, msg)}
}

// plainOSError says what went wrong with a file in words, without the Go
// error's operation and path.
func plainOSError(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, syscall.EROFS):
		return "read-only file system"
	case errors.Is(err, syscall.ENOSPC):
		return "no space left on the device"
	case errors.As(err, &errno):
		return errno.Error()
	}
	return err.Error()
}

// checkTarget asks the default target which models it serves.
func (d *Datasource) checkTarget(ctx context.Context) HealthPart {
	target := d.settings.DefaultTarget
	if target == "" {
		return HealthPart{OK: true, Message: "Default target: none set, runs use the built-in simulator."}
	}
	say := func(format string, args ...any) string {
		return fmt.Sprintf("Default target %s: ", target) + fmt.Sprintf(format, args...) + "."
	}
	resp, body, err := d.probe(ctx, target+"/models", d.settings.APIKey)
	if err != nil {
		return HealthPart{Message: say("%s", d.unreachable(err))}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return HealthPart{Message: say("reachable, but it refused the API key (HTTP %d)", resp.StatusCode)}
	case resp.StatusCode == http.StatusNotFound:
		return HealthPart{Message: say("reachable, but it has no /models (HTTP 404): it does not look like an OpenAI-compatible server; the URL should end in /v1")}
	case resp.StatusCode != http.StatusOK:
		return HealthPart{Message: say("reachable, but GET /models answered HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	models, ok := modelIDs(body)
	for i, m := range models { // a model named after the key is no model to show
		models[i] = d.red.Value(m)
	}
	switch {
	case !ok:
		return HealthPart{Message: say("reachable, but its /models answer is not an OpenAI model list: it does not look like an OpenAI-compatible server")}
	case len(models) == 0:
		return HealthPart{Message: say("reachable, but it serves no model")}
	}
	return HealthPart{OK: true, Message: say("reachable, serves: %s", strings.Join(models, ", ")), Models: models}
}

// modelIDs reads the model ids of an OpenAI model list.
func modelIDs(body []byte) ([]string, bool) {
	var list struct {
		Data *[]struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Data == nil {
		return nil, false
	}
	ids := []string{}
	for _, m := range *list.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	return ids, true
}

// checkPrometheus checks that Prometheus, when configured, is ready.
func (d *Datasource) checkPrometheus(ctx context.Context) HealthPart {
	prom := d.settings.PrometheusURL
	if prom == "" {
		return HealthPart{OK: true, Message: "Prometheus: not configured (optional: it adds server-side figures to runs)."}
	}
	resp, _, err := d.probe(ctx, prom+"/-/ready", Secret{})
	switch {
	case err != nil:
		return HealthPart{Message: fmt.Sprintf("Prometheus %s: %s.", prom, d.unreachable(err))}
	case resp.StatusCode != http.StatusOK:
		return HealthPart{Message: fmt.Sprintf("Prometheus %s: reachable, but not ready (GET /-/ready answered HTTP %d).", prom, resp.StatusCode)}
	}
	return HealthPart{OK: true, Message: fmt.Sprintf("Prometheus %s: reachable and ready.", prom)}
}

// maxProbeBody bounds what a probe reads of an answer.
const maxProbeBody = 1 << 20

// probe GETs url within the probe timeout, with the API key as a bearer
// token when set (to url's origin only: a redirect to another origin is
// refused), and returns the answer and up to maxProbeBody bytes of
// its body.
func (d *Datasource) probe(ctx context.Context, url string, key Secret) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// The key goes to the URL's origin only, and no redirect leaves it.
	resp, err := redirectClient(d.client, url, bearerHeader(key)).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	return resp, body, nil
}

// unreachable says why a request got no answer, in words.
func (d *Datasource) unreachable(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	if msg, ok := redirectMessage(err); ok { // the URL of err is the redirect's: not shown
		return msg
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Sprintf("not reachable (no answer within %s)", d.probeTimeout.Round(time.Millisecond))
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("not reachable (the host name %s is unknown)", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "not reachable (connection refused: is the server running, on this port?)"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "not reachable (the connection was closed without an answer)"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "not reachable (no route to the host)"
	}
	return "not reachable (" + err.Error() + ")"
}
