package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/bencher/sim"
	"github.com/benchstation/benchstation/internal/secret"
)

// embeddedAddr is where the embedded simulator listens: a free loopback port.
const embeddedAddr = "127.0.0.1:0"

// versionTimeout limits the GET /version of a target.
const versionTimeout = 5 * time.Second

// target is the server a benchmark runs against.
type target struct {
	url       string // OpenAI base URL, such as http://host:8000/v1
	model     string // as the server names it, sent in requests; shown through plan.red.Value
	simulated bool
	version   string
	close     func() // stops the embedded simulator; nil for a real target
}

// openTarget starts the embedded simulator when no --target was given, or
// checks that --target speaks the OpenAI API and learns its model and
// version.
func openTarget(ctx context.Context, p *plan, stderr io.Writer, log *slog.Logger) (*target, error) {
	if p.o.target == "" {
		return startEmbedded(p, stderr, log)
	}
	o := p.o
	t := &target{url: o.target, model: o.model}
	hc, base, err := p.targetClient()
	if err != nil {
		return nil, targetError(o.target, err, p.apiKey != "")
	}
	if o.checkTarget || o.model == "" {
		model, err := probeModels(ctx, hc, base, p.red)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, targetError(o.target, err, p.apiKey != "")
		}
		if t.model == "" {
			t.model = model
		}
	}
	vctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	srv, err := results.DetectServer(vctx, hc, base, p.red)
	switch {
	case err == nil:
		t.version, t.simulated = srv.Version, srv.Simulated
	case !errors.Is(err, results.ErrNoVersion):
		log.Debug("the target's version is unknown", "err", err)
	}
	fmt.Fprintf(stderr, "bencher: target %s, model %s%s\n", results.RedactURL(t.url), p.red.Value(t.model), versionNote(t.version))
	if t.simulated {
		fmt.Fprintln(stderr, "bencher: the target is the bencher's vLLM SIMULATOR (bencher sim): results are SIMULATED")
	}
	return t, nil
}

// versionNote returns ", server version V" or "".
func versionNote(v string) string {
	if v == "" {
		return ""
	}
	return ", server version " + v
}

// targetError explains why the target cannot be benchmarked; withKey says
// whether an API key was sent.
func targetError(raw string, err error, withKey bool) error {
	if errors.As(err, new(*keyRefusedError)) {
		return fmt.Errorf("the target %s refused the request: %w\n  %s", results.RedactURL(raw), err, keyHint(withKey))
	}
	if !errors.As(err, new(*notOpenAIError)) {
		return fmt.Errorf("target %s: %w", results.RedactURL(raw), err)
	}
	hint := "--target must be the OpenAI base URL of the server, such as http://host:8000/v1"
	if u, perr := url.Parse(raw); perr == nil && !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1") {
		hint += " (is /v1 missing from " + results.RedactURL(raw) + "?)"
	}
	return fmt.Errorf("the target %s does not answer as an OpenAI-compatible server: %w\n  %s",
		results.RedactURL(raw), err, hint)
}

// keyHint says what to do about a 401 or 403 from the target.
func keyHint(withKey bool) string {
	if withKey {
		return "the target refused the API key: check the key in --api-key-file or $" + apiKeyEnv
	}
	return "the target wants an API key and none was given: put it in a file for --api-key-file, or in $" + apiKeyEnv
}

// startEmbedded starts the simulator on a loopback port.
func startEmbedded(p *plan, stderr io.Writer, log *slog.Logger) (*target, error) {
	so := p.o.sim
	so.model = p.o.model
	srv := sim.New(append(so.options(), sim.WithLogger(log), sim.WithShutdownGrace(time.Second))...)
	ctx, cancel := context.WithCancel(context.Background()) // outlives an interrupt: the runner ends its requests first
	base, wait, err := srv.Start(ctx, embeddedAddr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting the built-in simulator: %w", err)
	}
	t := &target{url: base + "/v1", model: srv.Model(), simulated: true, version: sim.Version,
		close: func() { cancel(); _ = wait() }}
	fmt.Fprintf(stderr, "bencher: no --target: benchmarking the built-in vLLM SIMULATOR at %s (model %s); "+
		"results are SIMULATED, not a real server's\n", t.url, t.model)
	return t, nil
}

// targetClient returns the HTTP client of the bencher's own checks of the
// target (GET /v1/models, GET /version) and the base URL to query, without
// its user-info: the client adds the credentials (the API key, the extra
// headers, the user-info as Basic authentication) to the requests for the
// target's origin only, and follows redirects within it only.
func (p *plan) targetClient() (*http.Client, string, error) {
	u, err := url.Parse(p.o.target)
	if err != nil {
		return nil, "", fmt.Errorf("bad URL: %w", urlCause(err))
	}
	h := http.Header{}
	if u.User != nil {
		pass, _ := u.User.Password()
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
		u.User = nil
	}
	if p.apiKey != "" {
		h.Set("Authorization", "Bearer "+p.apiKey)
	}
	for k, vs := range p.headers {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	hc := &http.Client{Transport: secret.NewTransport(http.DefaultTransport, u, h), CheckRedirect: secret.CheckRedirect}
	return hc, u.String(), nil
}

// urlCause returns the cause of a *url.Error: its URL may hold
// credentials, or be another origin's.
func urlCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
