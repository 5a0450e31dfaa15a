package batch

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benchstation/benchstation/internal/secret"
)

// Snapshot is the state of one endpoint after its latest poll. It is
// immutable once published; readers never wait for a poll.
type Snapshot struct {
	// Endpoint is the endpoint's name.
	Endpoint string
	// Polls counts the polls finished since start.
	Polls uint64
	// Failures counts failed polls by reason (see Reasons).
	Failures map[string]uint64
	// LastPoll is when the latest poll started; zero before the first.
	LastPoll time.Time
	// LastPollOK says whether the latest poll succeeded.
	LastPollOK bool
	// LastPollDuration is how long the latest poll took.
	LastPollDuration time.Duration
	// LastError is the latest poll's error ("" on success), with the API
	// key redacted.
	LastError string
	// LastSuccess is when the latest successful poll started; zero if none.
	LastSuccess time.Time
	// StaleAfter is how long after LastSuccess Data is still served.
	StaleAfter time.Duration

	data *Summary
}

// Data returns the last good summary if it is not older than StaleAfter at
// now, else nil.
func (s *Snapshot) Data(now time.Time) *Summary {
	if s.data == nil || now.Sub(s.LastSuccess) > s.StaleAfter {
		return nil
	}
	return s.data
}

// Poller polls one endpoint on an interval. Its methods are safe for
// concurrent use.
type Poller struct {
	ep     Endpoint
	cfg    Config
	client *client
	red    *secret.Redactor // the endpoint's credentials
	logger *slog.Logger

	snap atomic.Pointer[Snapshot]

	pollMu sync.Mutex // serialises polls; guards the fields below
	state  Snapshot
	logged string    // reason of the failure last logged, "" when healthy
	logAt  time.Time // when it was logged

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPoller returns a poller of ep; cfg.Endpoints is ignored.
func NewPoller(ep Endpoint, cfg Config, logger *slog.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hc, err := newHTTPClient(ep)
	if err != nil {
		return nil, err
	}
	red := ep.Redactor()
	// The poller's own records are scrubbed too, whatever handler the
	// caller gave: every string a server sent may hold the key.
	p := &Poller{ep: ep, cfg: cfg, red: red, logger: slog.New(red.Handler(logger.Handler())).With("endpoint", ep.Name)}
	p.client = &client{
		http:     hc,
		listURL:  ep.ListURL(),
		key:      ep.APIKey,
		red:      red,
		pageSize: cfg.PageSize,
		maxPages: cfg.MaxPages,
		maxBytes: cfg.MaxResponseBytes,
		maxRetry: cfg.MaxRetryAfter,
		now:      cfg.Clock,
	}
	p.state = Snapshot{Endpoint: ep.Name, Failures: map[string]uint64{}, StaleAfter: cfg.StaleAfter}
	for _, r := range Reasons() {
		p.state.Failures[r] = 0
	}
	p.publish()
	return p, nil
}

// Name is the endpoint's name.
func (p *Poller) Name() string { return p.ep.Name }

// Redactor returns the Redactor of the endpoint's credentials, which every
// string from the server passes through before it is published or logged.
func (p *Poller) Redactor() *secret.Redactor { return p.red }

// Snapshot returns the state after the latest poll; never nil.
func (p *Poller) Snapshot() *Snapshot { return p.snap.Load() }

// Start polls now and then every interval in a goroutine, until ctx ends
// or Stop is called. A second Start while running does nothing.
func (p *Poller) Start(ctx context.Context) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.run(ctx, p.done)
}

// Stop ends polling, cancelling a poll in flight, and waits for it.
func (p *Poller) Stop() {
	p.runMu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.runMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	p.client.http.CloseIdleConnections()
}

func (p *Poller) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		wait := p.cfg.Interval
		var he *HTTPError
		if err := p.Poll(ctx); errors.As(err, &he) && he.RetryAfter > wait {
			wait = he.RetryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Poll lists the endpoint's batches once, within the configured timeout,
// and publishes the outcome. A poll cut short because ctx was cancelled is
// not recorded. The error never contains the API key: its text went
// through the endpoint's Redactor.
func (p *Poller) Poll(ctx context.Context) error {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	pollCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := p.cfg.Clock()
	r := newReducer(start, p.cfg.Window, p.cfg.MaxBatches, p.red)
	pages, err := p.client.list(pollCtx, r.add)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	err = p.red.Error(err)
	took := p.cfg.Clock().Sub(start)
	p.record(start, took, r, err)
	p.logOutcome(err, pages, took)
	p.publish()
	return err
}

func (p *Poller) record(start time.Time, took time.Duration, r *reducer, err error) {
	s := &p.state
	s.Polls++
	s.LastPoll, s.LastPollDuration, s.LastPollOK = start, took, err == nil
	s.LastError = ""
	if err == nil {
		s.LastSuccess = start
		s.data = r.summary()
		return
	}
	s.LastError = err.Error()
	s.Failures[Reason(err)]++
	if s.data != nil && s.Data(start) == nil {
		s.data = nil
		p.logger.Warn("batch endpoint data is stale; no longer served",
			"last_success", s.LastSuccess, "stale_after", s.StaleAfter)
	}
}

// publish makes a copy of the state visible to readers.
func (p *Poller) publish() {
	s := p.state
	s.Failures = maps.Clone(p.state.Failures)
	p.snap.Store(&s)
}

// logOutcome logs a failure when its reason changes and then at most once
// per LogEvery while it persists, and a recovery once; every other poll
// at debug level.
func (p *Poller) logOutcome(err error, pages int, took time.Duration) {
	now := p.cfg.Clock()
	switch reason := Reason(err); {
	case err == nil && p.logged != "":
		p.logger.Info("batch endpoint recovered")
		p.logged = ""
	case err == nil:
		p.logger.Debug("batch endpoint polled", "pages", pages, "listed", p.state.data.Listed,
			"tracked", len(p.state.data.Tracked), "took", took)
	case reason != p.logged || now.Sub(p.logAt) >= p.cfg.LogEvery:
		attrs := []any{"reason", reason, "err", err}
		if p.state.data != nil {
			attrs = append(attrs, "serving_data_from", p.state.LastSuccess, "stale_after", p.cfg.StaleAfter)
		}
		p.logger.Warn("batch endpoint poll failed", attrs...)
		p.logged, p.logAt = reason, now
	default:
		p.logger.Debug("batch endpoint still failing", "reason", reason, "err", err)
	}
}
