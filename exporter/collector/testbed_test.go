package collector

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testbed is a go-nvml mock DGX A100 whose devices answer every reading the
// collectors make with fixed values that depend on the GPU index. The mock
// server itself implements only identity and memory; everything else panics
// until set, so each reading used is filled here.
type testbed struct {
	server  *server.Server
	devices []*server.Device
}

func newTestbed(t testing.TB) *testbed {
	t.Helper()
	s := dgxa100.New()
	tb := &testbed{server: s}
	for i, d := range s.Devices {
		dev := d.(*server.Device)
		dev.UUID = fmt.Sprintf("GPU-00000000-0000-0000-0000-%012d", i)
		fillDevice(dev, i)
		tb.devices = append(tb.devices, dev)
	}
	tb.events(nil)
	return tb
}

func fillDevice(d *server.Device, i int) {
	u := uint32(i)
	d.GetVbiosVersionFunc = func() (string, nvml.Return) { return "92.00.45.00.06", nvml.SUCCESS }
	d.GetSerialFunc = func() (string, nvml.Return) { return fmt.Sprintf("13240000%05d", i), nvml.SUCCESS }
	d.GetBoardPartNumberFunc = func() (string, nvml.Return) { return "692-2G506-0200-003", nvml.SUCCESS }
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 40 + u, nvml.SUCCESS }
	d.GetFieldValuesFunc = func(v []nvml.FieldValue) nvml.Return {
		for j := range v {
			v[j].ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
			v[j].Value = [8]byte{byte(50 + u)}
			v[j].NvmlReturn = uint32(nvml.SUCCESS)
		}
		return nvml.SUCCESS
	}
	d.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		total := d.Config.MemoryMB << 20
		used := uint64(i+1) << 30
		return nvml.Memory_v2{Total: total, Reserved: 512 << 20, Used: used, Free: total - used - 512<<20}, nvml.SUCCESS
	}
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: 10 * u, Memory: 5 * u}, nvml.SUCCESS
	}
	d.GetEncoderUtilizationFunc = func() (uint32, uint32, nvml.Return) { return 0, 167000, nvml.SUCCESS }
	d.GetDecoderUtilizationFunc = func() (uint32, uint32, nvml.Return) { return 1, 167000, nvml.SUCCESS }
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 60000 + 10000*u, nvml.SUCCESS }
	d.GetPowerManagementLimitFunc = func() (uint32, nvml.Return) { return 400000, nvml.SUCCESS }
	d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) { return 400000, nvml.SUCCESS }
	d.GetPowerManagementDefaultLimitFunc = func() (uint32, nvml.Return) { return 400000, nvml.SUCCESS }
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 123456789 + uint64(i), nvml.SUCCESS }
	d.GetClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 1410, nvml.SUCCESS }
	d.GetMaxClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 1410, nvml.SUCCESS }
	d.GetPerformanceStateFunc = func() (nvml.Pstates, nvml.Return) { return nvml.PSTATE_0, nvml.SUCCESS }
	d.GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) {
		return nvml.ClocksEventReasonSwPowerCap * uint64(i%2), nvml.SUCCESS
	}
	d.GetNumFansFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	d.GetFanSpeedFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	d.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, _ nvml.EccCounterType) (uint64, nvml.Return) {
		return uint64(t) * 2, nvml.SUCCESS
	}
	d.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) { return i, 0, false, false, nvml.SUCCESS }
	d.GetPcieReplayCounterFunc = func() (int, nvml.Return) { return 0, nvml.SUCCESS }
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: 4000 + u, UsedGpuMemory: uint64(i+1) << 29}}, nvml.SUCCESS
	}
	d.GetGraphicsRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
	d.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) { return 1000 * (uint32(c) + 1), nvml.SUCCESS }
	d.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
		if link >= 2 {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return nvml.FEATURE_ENABLED, nvml.SUCCESS
	}
	d.GetNvLinkErrorCounterFunc = func(int, nvml.NvLinkErrorCounter) (uint64, nvml.Return) { return 0, nvml.SUCCESS }
	d.RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
}

// events makes the server's event set deliver what is sent on ch (nil: nothing).
func (tb *testbed) events(ch <-chan nvml.EventData) {
	tb.server.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		set := &mock.EventSet{}
		set.WaitFunc = func(ms uint32) (nvml.EventData, nvml.Return) {
			select {
			case e := <-ch:
				return e, nvml.SUCCESS
			case <-time.After(time.Duration(ms) * time.Millisecond):
				return nvml.EventData{}, nvml.ERROR_TIMEOUT
			}
		}
		set.FreeFunc = func() nvml.Return { return nvml.SUCCESS }
		return set, nvml.SUCCESS
	}
}

// loseDevice makes every reading of d answer ERROR_GPU_IS_LOST, as a GPU
// that fell off the bus does. It rewrites each ...Func field of the mock.
func loseDevice(d *server.Device) {
	v := reflect.ValueOf(&d.Device).Elem()
	retType := reflect.TypeFor[nvml.Return]()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Func || f.IsNil() {
			continue
		}
		ft := f.Type()
		f.Set(reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, ft.NumOut())
			for j := range out {
				out[j] = reflect.Zero(ft.Out(j))
				if ft.Out(j) == retType {
					out[j] = reflect.ValueOf(nvml.ERROR_GPU_IS_LOST)
				}
			}
			return out
		}))
	}
}

type logBuffer = testkit.Buffer

// newExporter builds an exporter over lib with the default collectors plus extra.
func newExporter(t testing.TB, m *gpu.Manager, cfg Config, logger *slog.Logger, extra ...string) (*Exporter, *prometheus.Registry) {
	t.Helper()
	if cfg.XIDWait == 0 {
		cfg.XIDWait = 10 * time.Millisecond // Close waits for one event wait to end
	}
	enabled := DefaultEnabled()
	for _, name := range extra {
		enabled[name] = true
	}
	e, err := New(Deps{GPUs: m, Logger: logger, Config: cfg}, enabled)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	return e, reg
}

// scrape gathers reg and renders it in the text exposition format.
func scrape(t testing.TB, reg prometheus.Gatherer) string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	return b.String()
}

// golden compares got with testdata/name, rewriting it under -update, and
// has promtool lint it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test -update")
	require.Equal(t, string(want), got, "exposition differs from %s (go test -update rewrites it)", path)
	promtoolCheck(t, got)
}

// promtoolCheck runs `promtool check metrics`, which CI installs; a
// developer without it gets a skip of this step only.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; CI must install Debian's prometheus package")
		}
		t.Log("promtool not found; exposition lint skipped")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewBufferString(exposition)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, string(out), "promtool check metrics found problems")
}
