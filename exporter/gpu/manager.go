// Package gpu owns the exporter's NVML session: it initialises NVML (and
// keeps trying while the driver is absent), discovers the GPUs once, and
// remembers per device which readings are unsupported and whether the GPU
// has been lost. Collectors read devices through it.
package gpu

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultRetryInterval is how often the Manager tries to initialise NVML
// while it is unavailable.
const DefaultRetryInterval = 10 * time.Second

// ErrNVMLDown is returned by Devices while NVML is not initialised.
var ErrNVMLDown = errors.New("NVML is not initialised")

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.logger = l } }

// WithRetryInterval sets how often initialisation is retried while NVML is
// down (default DefaultRetryInterval).
func WithRetryInterval(d time.Duration) Option { return func(m *Manager) { m.retry = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// Simulated marks the data as coming from a simulation; nvidia_gpu_info says so.
func Simulated() Option { return func(m *Manager) { m.simulated = true } }

// Manager holds the NVML library and, once initialised, the session.
type Manager struct {
	lib       nvml.Interface
	logger    *slog.Logger
	retry     time.Duration
	now       func() time.Time
	simulated bool
	check     func() error // run before every initialisation attempt; nil: none

	session atomic.Pointer[Session]

	mu          sync.Mutex // serialises initialisation attempts
	lastAttempt time.Time
	lastFailure string
}

// Session is what one successful NVML initialisation found.
type Session struct {
	Devices       []*Device
	DriverVersion string
	CUDAVersion   string
	NVMLVersion   string
	// Started is when NVML was initialised.
	Started time.Time
}

// NewManager returns a Manager for lib. It does not initialise NVML: call Refresh.
func NewManager(lib nvml.Interface, opts ...Option) *Manager {
	m := &Manager{
		lib:    lib,
		logger: slog.New(slog.DiscardHandler),
		retry:  DefaultRetryInterval,
		now:    time.Now,
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Library returns the NVML library the Manager uses.
func (m *Manager) Library() nvml.Interface { return m.lib }

// IsSimulated reports whether the data is simulated.
func (m *Manager) IsSimulated() bool { return m.simulated }

// Session returns the current session, or nil while NVML is down.
func (m *Manager) Session() *Session { return m.session.Load() }

// Devices returns the devices of the current session, lost ones included.
func (m *Manager) Devices() ([]*Device, error) {
	s := m.session.Load()
	if s == nil {
		return nil, ErrNVMLDown
	}
	return s.Devices, nil
}

// Refresh initialises NVML if it is not up and the last attempt is older
// than the retry interval. It reports whether NVML is up afterwards. It is
// cheap when NVML is up, and safe to call from concurrent scrapes.
func (m *Manager) Refresh() bool {
	if m.session.Load() != nil {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session.Load() != nil {
		return true
	}
	now := m.now()
	if !m.lastAttempt.IsZero() && now.Sub(m.lastAttempt) < m.retry {
		return false
	}
	m.lastAttempt = now
	s, err := m.start(now)
	if err != nil {
		// One line per distinct failure, not one per retry.
		// This is the one line a machine without the driver logs.
		if msg := err.Error(); msg != m.lastFailure {
			m.lastFailure = msg
			m.logger.Warn("NVML unavailable: serving nvidia_gpu_nvml_up 0, retrying initialisation",
				"err", err, "retry_interval", m.retry)
		}
		return false
	}
	m.lastFailure = ""
	m.session.Store(s)
	m.logger.Info("NVML initialised", "gpus", len(s.Devices), "driver_version", s.DriverVersion,
		"cuda_version", s.CUDAVersion, "simulated", m.simulated)
	return true
}

// Close shuts NVML down if it was initialised.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session.Swap(nil) == nil {
		return nil
	}
	if ret := m.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML shutdown: %s", returnString(ret))
	}
	return nil
}

func (m *Manager) start(now time.Time) (*Session, error) {
	if m.check != nil {
		if err := m.check(); err != nil {
			return nil, err
		}
	}
	if ret := m.lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML init: %s", returnString(ret))
	}
	missing := m.missingSymbols()
	count, ret := m.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		m.lib.Shutdown()
		return nil, fmt.Errorf("NVML device count: %s", returnString(ret))
	}
	s := &Session{Started: now}
	ext := m.lib.Extensions()
	if ext.LookupSymbol("nvmlSystemGetDriverVersion") == nil {
		s.DriverVersion, _ = m.lib.SystemGetDriverVersion()
	}
	if ext.LookupSymbol("nvmlSystemGetNVMLVersion") == nil {
		s.NVMLVersion, _ = m.lib.SystemGetNVMLVersion()
	}
	if ext.LookupSymbol("nvmlSystemGetCudaDriverVersion") == nil {
		if v, ret := m.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
			s.CUDAVersion = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
		}
	}
	s.Devices = make([]*Device, 0, count)
	for i := 0; i < count; i++ {
		s.Devices = append(s.Devices, m.discover(i, missing))
	}
	return s, nil
}

// missingSymbols returns the set of fields whose NVML symbol the installed
// library lacks. Calling such a function would kill the process.
func (m *Manager) missingSymbols() uint64 {
	ext := m.lib.Extensions()
	var mask uint64
	for f := Field(0); f < numFields; f++ {
		for _, sym := range f.Symbols() {
			if err := ext.LookupSymbol(sym); err != nil {
				mask |= 1 << f
				m.logger.Debug("NVML symbol missing; field disabled", "field", f, "symbol", sym)
				break
			}
		}
	}
	return mask
}

// discover reads device i's identity. A device that cannot be opened is
// kept, marked lost, so that it is reported down rather than vanishing.
func (m *Manager) discover(i int, missing uint64) *Device {
	d := &Device{Index: i, Label: strconv.Itoa(i)}
	d.unsupported.Store(missing)
	h, ret := m.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		d.MarkLost()
		m.logger.Error("GPU cannot be opened; reported down", "gpu", i, "err", returnString(ret))
		return d
	}
	d.Handle = h
	if d.UUID, ret = h.GetUUID(); ret == nvml.ERROR_GPU_IS_LOST {
		d.MarkLost()
		m.logger.Error("GPU is lost; reported down", "gpu", i)
		return d
	}
	// Guarded like every reading: an old or stub library may lack these.
	ext := m.lib.Extensions()
	if ext.LookupSymbol("nvmlDeviceGetName") == nil {
		d.Name, _ = h.GetName()
	}
	if hasAny(ext, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo") {
		if pci, ret := h.GetPciInfo(); ret == nvml.SUCCESS {
			d.PCIBusID = CString(pci.BusId[:])
		}
	}
	d.VBIOS = m.identity(d, FieldVBIOS, h.GetVbiosVersion)
	d.Serial = m.identity(d, FieldSerial, h.GetSerial)
	d.BoardPartNumber = m.identity(d, FieldBoardPartNumber, h.GetBoardPartNumber)
	return d
}

// hasAny reports whether the library exports one of names (go-nvml calls
// the newest version a library has).
func hasAny(ext nvml.ExtendedInterface, names ...string) bool {
	for _, n := range names {
		if ext.LookupSymbol(n) == nil {
			return true
		}
	}
	return false
}

func (m *Manager) identity(d *Device, f Field, get func() (string, nvml.Return)) string {
	if !d.Supports(f) || d.Lost() {
		return ""
	}
	v, ret := get()
	if ok, _ := d.Result(f, ret); !ok {
		return ""
	}
	return v
}

// CString converts a NUL-terminated C char array to a Go string.
func CString(b []int8) string {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	out := make([]byte, n)
	for i := range n {
		out[i] = byte(b[i])
	}
	return string(out)
}
