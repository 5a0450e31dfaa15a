// Package gpusim simulates an NVIDIA GPU server for demos and end-to-end
// tests on machines without a GPU. It is built on go-nvml's mock DGX
// servers (identity, memory size, MIG profiles) and overrides the readings
// the exporter makes with plausible values that change over time: each GPU's
// utilisation follows a slow wave, power follows utilisation, temperature
// follows power with a lag, memory use and clocks move with utilisation and
// energy is the exact integral of power.
//
// The overrides matter for more than realism: go-nvml's mocks record every
// call they receive, so a long-running exporter reading them directly would
// grow without bound. Every method the exporter calls per scrape is
// implemented here without recording.
package gpusim

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxb200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// model holds the physical constants of one simulated system. Power and
// clock figures are the public specifications of the SXM boards.
type model struct {
	newServer    func() *server.Server
	tdpWatts     float64
	idleWatts    float64
	smMaxMHz     uint32
	memMaxMHz    uint32
	nvlinks      int
	driver, nvml string
	cuda         int
}

var models = map[string]model{
	"dgxa100": {dgxa100.New, 400, 55, 1410, 1215, 12, "550.54.15", "12.550.54.15", 12040},
	"dgxh100": {dgxh100.New, 700, 70, 1980, 2619, 18, "550.54.15", "12.550.54.15", 12040},
	"dgxh200": {dgxh200.New, 700, 75, 1980, 3201, 18, "560.35.03", "12.560.35.03", 12060},
	"dgxb200": {dgxb200.New, 1000, 120, 1965, 3996, 18, "570.124.06", "12.570.124.06", 12080},
}

// Models returns the names New accepts, sorted.
func Models() []string { return slices.Sorted(maps.Keys(models)) }

// Option configures a System.
type Option func(*System)

// WithClock replaces time.Now, so that tests see fixed values.
func WithClock(now func() time.Time) Option { return func(s *System) { s.now = now } }

// System is a simulated GPU server.
type System struct {
	name    string
	model   model
	now     func() time.Time
	start   time.Time
	devices []*Device
	lib     *library
}

// New returns the simulated system called name (see Models).
func New(name string, opts ...Option) (*System, error) {
	m, ok := models[name]
	if !ok {
		return nil, fmt.Errorf("unknown simulated system %q (known: %v)", name, Models())
	}
	s := &System{name: name, model: m, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.start = s.now()
	srv := m.newServer()
	for i, d := range srv.Devices {
		s.devices = append(s.devices, newDevice(s, d.(*server.Device), i))
	}
	s.lib = &library{Interface: srv, sys: s}
	return s, nil
}

// Library returns the simulated NVML library.
func (s *System) Library() nvml.Interface { return s.lib }

// ProcessName names the simulated processes; real /proc is not consulted,
// since a simulated PID may exist on the host as something else.
func (s *System) ProcessName(pid uint32) string {
	if pid >= simPIDBase && pid < simPIDBase+uint32(len(s.devices)) {
		return "vllm-sim"
	}
	return "unknown"
}

// elapsed is the simulated time in seconds.
func (s *System) elapsed() float64 { return s.now().Sub(s.start).Seconds() }

// library overrides the mock server's calls that the exporter makes.
type library struct {
	nvml.Interface
	sys *System
}

var (
	_ nvml.Interface         = (*library)(nil)
	_ nvml.ExtendedInterface = (*library)(nil)
)

func (l *library) Init() nvml.Return                  { return nvml.SUCCESS }
func (l *library) Shutdown() nvml.Return              { return nvml.SUCCESS }
func (l *library) Extensions() nvml.ExtendedInterface { return l }
func (l *library) LookupSymbol(string) error          { return nil }
func (l *library) DeviceGetCount() (int, nvml.Return) { return len(l.sys.devices), nvml.SUCCESS }
func (l *library) SystemGetDriverVersion() (string, nvml.Return) {
	return l.sys.model.driver, nvml.SUCCESS
}
func (l *library) SystemGetNVMLVersion() (string, nvml.Return) { return l.sys.model.nvml, nvml.SUCCESS }
func (l *library) SystemGetCudaDriverVersion() (int, nvml.Return) {
	return l.sys.model.cuda, nvml.SUCCESS
}

func (l *library) DeviceGetHandleByIndex(i int) (nvml.Device, nvml.Return) {
	if i < 0 || i >= len(l.sys.devices) {
		return nil, nvml.ERROR_INVALID_ARGUMENT
	}
	return l.sys.devices[i], nvml.SUCCESS
}

func (l *library) EventSetCreate() (nvml.EventSet, nvml.Return) { return eventSet{}, nvml.SUCCESS }

// eventSet never delivers an event: a simulated GPU has no XID errors.
type eventSet struct{ nvml.EventSet }

func (eventSet) Wait(ms uint32) (nvml.EventData, nvml.Return) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return nvml.EventData{}, nvml.ERROR_TIMEOUT
}

func (eventSet) Free() nvml.Return { return nvml.SUCCESS }

// simUUID derives a stable, recognisably synthetic UUID.
func simUUID(system string, i int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", system, i)
	v := h.Sum64()
	return fmt.Sprintf("GPU-%08x-%04x-4000-8000-5151%08x", uint32(v>>32), uint16(v>>16), i)
}
