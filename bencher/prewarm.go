package bencher

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPrewarmTimeout limits the opening of the connection pool before a
// run (or WithTimeout, when it is shorter).
const DefaultPrewarmTimeout = 30 * time.Second

// Prewarm says how the connection pool was opened before the run's clock
// started (see WithPrewarm).
type Prewarm struct {
	// Connections is the number of connections asked for: as many as
	// requests may be in flight at once (the concurrency, or for an open
	// loop without a cap one second of arrivals), at most the requests of
	// the run and the transport's idle pool.
	Connections int `json:"connections"`
	// Opened is the number of new connections that were opened (with
	// their TLS handshake, for HTTPS), Reused the number of requests that
	// found a connection already open.
	Opened int `json:"opened"`
	Reused int `json:"reused,omitempty"`
	// Duration is how long it took, before the run's start.
	Duration time.Duration `json:"duration_ns"`
	// Error is the first error of a warming request, if any (the run goes
	// on: its requests open what is missing).
	Error string `json:"error,omitempty"`
}

// prewarmConnections returns the number of connections to open before a
// run of total requests (0: unbounded): as many as may be in flight at
// once, capped by what the client's idle pool keeps (0 when the client has
// no transport of its own, WithHTTPClient, or prewarming is off).
func (c *Client) prewarmConnections(cfg *config, total int) int {
	if cfg.coldConns || c.transport == nil {
		return 0
	}
	sh := cfg.shardOf(total)
	n := sh.Concurrency
	if n <= 0 {
		// An open loop without a cap: one second of (the shard's) arrivals.
		n = int(min(math.Ceil(cfg.rate/float64(sh.Count)), 1<<20))
	}
	if total > 0 {
		n = min(n, sh.Requests)
	}
	return max(min(n, c.transport.MaxIdleConnsPerHost), 0)
}

// Prewarm opens n keep-alive connections to the target in the client's
// pool, before a run, so that connecting (and the TLS handshake) is not
// measured in the first requests: it sends n cheap requests (GET
// BASE/models, with the run's credentials) at once through the same
// transport and holds every answer until all have come, so that each needs
// a connection of its own, then reads and closes them, which leaves the
// connections idle in the pool. Any answer will do (a 401 or 404 opens its
// connection as well as a 200); errors are reported, not fatal. It gives
// up after DefaultPrewarmTimeout or when ctx ends.
func (c *Client) Prewarm(ctx context.Context, n int) Prewarm {
	pw := Prewarm{Connections: n}
	if n <= 0 {
		return pw
	}
	begin := time.Now()
	timeout := DefaultPrewarmTimeout
	if c.timeout > 0 {
		timeout = min(timeout, c.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var opened, reused atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused.Add(1)
		} else {
			opened.Add(1)
		}
	}}
	tctx := httptrace.WithClientTrace(ctx, trace)
	header := c.headers.Clone()
	header.Del("Content-Type")
	header.Set("Accept", "application/json")
	url := *c.tmpl.URL
	url.Path = c.modelsPath()
	url.RawPath = ""
	var (
		answered, done sync.WaitGroup
		all            = make(chan struct{})
		errOnce        sync.Once
	)
	answered.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			req := &http.Request{Method: http.MethodGet, URL: &url, Header: header, Host: c.tmpl.Host,
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
			resp, err := c.send(req.WithContext(tctx))
			answered.Done()
			if err != nil {
				errOnce.Do(func() { pw.Error = c.message("prewarming the connections: " + urlCause(err).Error()) })
				return
			}
			defer resp.Body.Close()
			// Hold the connection until every request has its answer.
			select {
			case <-all:
			case <-ctx.Done():
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		}()
	}
	answered.Wait()
	close(all)
	done.Wait()
	pw.Opened, pw.Reused = int(opened.Load()), int(reused.Load())
	pw.Duration = time.Since(begin)
	c.logger.Debug("bencher: connections prewarmed", "asked", n, "opened", pw.Opened, "reused", pw.Reused,
		"duration", pw.Duration, "error", pw.Error)
	return pw
}

// modelsPath is the path of BASE/models, beside the completions endpoint.
func (c *Client) modelsPath() string {
	p := c.tmpl.URL.Path
	for _, suffix := range []string{"/chat/completions", "/completions"} {
		if len(p) >= len(suffix) && p[len(p)-len(suffix):] == suffix {
			return p[:len(p)-len(suffix)] + "/models"
		}
	}
	return p
}
