package bencher

import (
	"context"
	"io"
	"net/http"
	"time"
)

// ClockOffset is the target's clock against this host's, measured from
// the Date headers of its answers (RFC 9110: the time the answer was made,
// in whole seconds).
//
// A Date of D stamped on an answer that was asked for at local time s and
// arrived at r says that the server's clock read between D and D+1 s at
// some local instant in [s, r]: the offset (server minus local) lies in
// [D − r, D + 1 s − s). One probe bounds it within about a second; each
// further probe is sent so that the server stamps it where the server's
// clock should tick to the next second if the offset were the middle of
// the bounds so far, so that its Date halves them (a bisection on the tick).
// The bounds shrink to about a round trip after some ten probes, one per
// second at most. The measure is as honest as the Date: a server that
// caches its Date and refreshes it once a second at some phase (uvicorn,
// and so vLLM, does) shows ticks late by that phase, up to a second, and
// its offsets read low by as much; the offsets of several hosts measured
// against the same server at about the same time are late alike, so their
// differences, which place the hosts' records on one clock, still hold.
type ClockOffset struct {
	// Offset is the target's clock minus this host's, the middle of the
	// bounds; the true offset is within Offset ± Uncertainty.
	Offset      time.Duration `json:"offset_ns"`
	Uncertainty time.Duration `json:"uncertainty_ns"`
	// Samples is the number of answers whose Date was used; RTT the
	// shortest round trip among them.
	Samples int           `json:"samples"`
	RTT     time.Duration `json:"rtt_ns"`
	// MeasuredAt is when the last probe was answered (this host's clock).
	MeasuredAt time.Time `json:"measured_at"`
}

// Bounds of the clock measure.
const (
	// clockProbes is the most probes of one measure.
	clockProbes = 12
	// clockProbeTimeout limits one probe.
	clockProbeTimeout = 5 * time.Second
	// clockLead is the least time a probe is scheduled ahead.
	clockLead = 10 * time.Millisecond
)

// dateProbe asks the target for a Date: the Date, and the local times the
// probe was sent and answered; ok false when the answer had no Date.
type dateProbe func(ctx context.Context) (date, sent, answered time.Time, ok bool, err error)

// measureClockOffset measures the target's clock with GET BASE/models
// probes until deadline (see ClockOffset); nil when the target did not
// answer or sent no Date.
func (c *Client) measureClockOffset(ctx context.Context, deadline time.Time) *ClockOffset {
	off := measureOffset(ctx, deadline, c.probeDate)
	if off == nil {
		c.logger.Debug("bencher: the target's clock was not measured (no answer with a Date header)")
	} else {
		c.logger.Debug("bencher: target clock measured", "offset", off.Offset, "uncertainty", off.Uncertainty,
			"samples", off.Samples, "rtt", off.RTT)
	}
	return off
}

// probeDate sends one GET BASE/models, with the run's credentials, and
// returns its answer's Date.
func (c *Client) probeDate(ctx context.Context) (date, sent, answered time.Time, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, clockProbeTimeout)
	defer cancel()
	header := c.headers.Clone()
	header.Del("Content-Type")
	header.Set("Accept", "application/json")
	url := *c.tmpl.URL
	url.Path, url.RawPath = c.modelsPath(), ""
	req := (&http.Request{Method: http.MethodGet, URL: &url, Header: header, Host: c.tmpl.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	sent = time.Now()
	resp, err := c.send(req)
	answered = time.Now()
	if err != nil {
		return date, sent, answered, false, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	date, perr := http.ParseTime(resp.Header.Get("Date"))
	return date, sent, answered, perr == nil, nil
}

// measureOffset bisects the target's clock tick with probe until deadline
// or clockProbes probes (see ClockOffset); nil when the first probe failed
// or had no Date.
func measureOffset(ctx context.Context, deadline time.Time, probe dateProbe) *ClockOffset {
	date, sent, answered, ok, err := probe(ctx)
	if err != nil || !ok {
		return nil
	}
	// The offset is in [lo, hi).
	lo, hi := date.Sub(answered), date.Add(time.Second).Sub(sent)
	out := &ClockOffset{Samples: 1, RTT: answered.Sub(sent), MeasuredAt: answered}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for out.Samples < clockProbes && hi-lo > out.RTT+time.Millisecond {
		mid := lo + (hi-lo)/2
		// Stamped half a round trip after it is sent, the probe should
		// meet the server's next whole second, by the offset mid.
		ahead := mid + out.RTT/2
		tick := time.Now().Add(ahead + clockLead).Truncate(time.Second).Add(time.Second)
		sendAt := tick.Add(-ahead)
		if sendAt.Add(out.RTT).After(deadline) {
			break
		}
		timer.Reset(time.Until(sendAt))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return out.bounded(lo, hi)
		}
		date, sent, answered, ok, err = probe(ctx)
		if err != nil || !ok {
			break
		}
		out.Samples++
		out.RTT = min(out.RTT, answered.Sub(sent))
		out.MeasuredAt = answered
		nlo, nhi := date.Sub(answered), date.Add(time.Second).Sub(sent)
		if nlo >= hi || nhi <= lo {
			// The bounds disagree: the server's clock stepped, or its Date
			// is not its time. Start again from the newest answer.
			lo, hi = nlo, nhi
			continue
		}
		lo, hi = max(lo, nlo), min(hi, nhi)
	}
	return out.bounded(lo, hi)
}

// bounded sets the offset to the middle of [lo, hi).
func (o *ClockOffset) bounded(lo, hi time.Duration) *ClockOffset {
	o.Offset, o.Uncertainty = lo+(hi-lo)/2, (hi-lo)/2
	return o
}
