package gpu

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultXIDWait is how long one NVML event wait blocks; it bounds how long
// Close takes.
const DefaultXIDWait = 500 * time.Millisecond

// XIDKey identifies one counter of XID errors.
type XIDKey struct {
	Device *Device
	XID    uint64
}

// XIDWatcher counts XID critical-error events, which NVML delivers through
// an event set rather than as a value to poll. It waits in its own goroutine.
type XIDWatcher struct {
	logger *slog.Logger
	wait   uint32 // milliseconds

	mu      sync.Mutex
	counts  map[XIDKey]uint64
	session *Session
	stop    chan struct{}
	done    chan struct{}
}

// NewXIDWatcher returns a watcher that is not yet started; see Ensure.
func NewXIDWatcher(logger *slog.Logger, wait time.Duration) *XIDWatcher {
	return &XIDWatcher{logger: logger, wait: uint32(wait.Milliseconds()), counts: map[XIDKey]uint64{}}
}

// Ensure starts watching the devices of s, once per session. It returns an
// error when NVML cannot create an event set; devices that cannot report XID
// events are skipped and remembered as unsupported.
func (w *XIDWatcher) Ensure(lib nvml.Interface, s *Session) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.session == s {
		return nil
	}
	if !slices.ContainsFunc(s.Devices, func(d *Device) bool { return d.Supports(FieldXIDEvents) }) {
		w.session = s // the driver lacks the event functions: calling them would kill the process
		return nil
	}
	set, ret := lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		w.session = s // do not retry on every scrape
		return errorf("creating NVML event set: %s", returnString(ret))
	}
	byHandle := make(map[nvml.Device]*Device, len(s.Devices))
	for _, d := range s.Devices {
		if d.Lost() || !d.Supports(FieldXIDEvents) {
			continue
		}
		ok, err := d.Result(FieldXIDEvents, d.Handle.RegisterEvents(nvml.EventTypeXidCriticalError, set))
		if err != nil {
			w.logger.Warn("cannot watch XID errors", "gpu", d.Label, "err", err)
		}
		if ok {
			byHandle[d.Handle] = d
		}
	}
	w.session = s
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go w.loop(set, byHandle, w.stop, w.done)
	return nil
}

func (w *XIDWatcher) loop(set nvml.EventSet, byHandle map[nvml.Device]*Device, stop, done chan struct{}) {
	defer close(done)
	defer set.Free()
	var lastErr nvml.Return
	for {
		select {
		case <-stop:
			return
		default:
		}
		data, ret := set.Wait(w.wait)
		switch ret {
		case nvml.SUCCESS:
			w.record(data, byHandle)
		case nvml.ERROR_TIMEOUT:
		default:
			if ret != lastErr {
				w.logger.Warn("waiting for NVML events", "err", returnString(ret))
				lastErr = ret
			}
			select { // do not spin on a persistent error
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func (w *XIDWatcher) record(data nvml.EventData, byHandle map[nvml.Device]*Device) {
	if data.EventType&nvml.EventTypeXidCriticalError == 0 {
		return
	}
	d := byHandle[data.Device]
	if d == nil {
		w.logger.Warn("XID error on an unknown device", "xid", data.EventData)
		return
	}
	w.logger.Warn("XID error", "gpu", d.Label, "uuid", d.UUID, "xid", data.EventData)
	w.mu.Lock()
	w.counts[XIDKey{Device: d, XID: data.EventData}]++
	w.mu.Unlock()
}

// Each calls fn for every XID counter, in no particular order.
func (w *XIDWatcher) Each(fn func(k XIDKey, n uint64)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, n := range w.counts {
		fn(k, n)
	}
}

// Close stops the watching goroutine and frees the event set.
func (w *XIDWatcher) Close() error {
	w.mu.Lock()
	stop, done := w.stop, w.done
	w.stop, w.done = nil, nil
	w.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return nil
}
