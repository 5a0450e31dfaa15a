package collector

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/exporter/gpu"
	"github.com/benchstation/benchstation/exporter/gpusim"
)

func TestGoldenAllCollectors(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	m := gpu.NewManager(tb.server)
	e, reg := newExporter(t, m, Config{ProcessName: func(pid uint32) string { return "python3" }}, nil, "pcie", "nvlink")
	got := withoutDurations(scrape(t, e))
	golden(t, "dgxa100-all.prom", got)
	assert.Equal(t, got, withoutDurations(scrape(t, reg)), "Exporter.Gather and a Registry agree")
}

func TestGoldenSimulation(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := at
	sys, err := gpusim.New("dgxh100", gpusim.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	now = at.Add(95 * time.Second)
	m := gpu.NewManager(sys.Library(), gpu.Simulated())
	e, reg := newExporter(t, m, Config{ProcessName: sys.ProcessName}, nil)
	got := withoutDurations(scrape(t, e))
	golden(t, "dgxh100-simulated.prom", got)
	assert.Equal(t, got, withoutDurations(scrape(t, reg)), "Exporter.Gather and a Registry agree")
}

// withoutDurations drops the scrape-duration series, the one thing in an
// exposition that differs from run to run.
// family returns the lines of one metric family of an exposition: its
// HELP, TYPE and samples.
func family(s, name string) string {
	var keep []string
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") ||
			strings.HasPrefix(line, "# HELP "+name+" ") || strings.HasPrefix(line, "# TYPE "+name+" ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

func withoutDurations(s string) string {
	var keep []string
	for _, line := range strings.SplitAfter(s, "\n") {
		if !strings.Contains(line, "scrape_collector_duration_seconds") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

func TestLibraryMissing(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	// The real go-nvml library, pointed at a path where there is none: the
	// same code path as a machine without the NVIDIA driver.
	lib := nvml.New(nvml.WithLibraryPath(filepath.Join(t.TempDir(), "libnvidia-ml.so.1")))
	m := gpu.NewManager(lib, gpu.WithLogger(logs.Logger()), gpu.WithRetryInterval(time.Nanosecond))
	_, reg := newExporter(t, m, Config{}, logs.Logger())

	for range 3 {
		got := scrape(t, reg)
		has(t, got, "nvidia_gpu_nvml_up 0\n")
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="temperature"} 0`)
		lacks(t, got, "nvidia_gpu_temperature_celsius")
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "NVML unavailable"), "one log line, not one per retry:\n%s", logs.String())
	assert.Contains(t, logs.String(), "libnvidia-ml.so.1 not found")
	assert.NotContains(t, logs.String(), "level=WARN msg=\"collector failed\"", "NVML being down is said once, by the manager")
}

func TestLibraryAppearsWithoutRestart(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	var present atomic.Bool
	tb.server.InitFunc = func() nvml.Return {
		if present.Load() {
			return nvml.SUCCESS
		}
		return nvml.ERROR_LIBRARY_NOT_FOUND
	}
	now := time.Unix(1000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	m := gpu.NewManager(tb.server, gpu.WithRetryInterval(10*time.Second),
		gpu.WithClock(func() time.Time { return *clock.Load() }))
	_, reg := newExporter(t, m, Config{}, nil)

	has(t, scrape(t, reg), "nvidia_gpu_nvml_up 0\n")
	present.Store(true)
	has(t, scrape(t, reg), "nvidia_gpu_nvml_up 0\n", "no retry before the interval has passed")
	assert.Len(t, tb.server.InitCalls(), 1)

	later := now.Add(11 * time.Second)
	clock.Store(&later)
	got := scrape(t, reg)
	has(t, got, "nvidia_gpu_nvml_up 1\n")
	has(t, got, `nvidia_gpu_temperature_celsius{gpu="7",uuid="GPU-00000000-0000-0000-0000-000000000007"} 47`)
	assert.Len(t, tb.server.InitCalls(), 2)
}

func TestGPULostMidRun(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	var logs logBuffer
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, logs.Logger())
	has(t, scrape(t, reg), `nvidia_gpu_up{gpu="3",uuid="GPU-00000000-0000-0000-0000-000000000003"} 1`)

	loseDevice(tb.devices[3])
	for range 2 {
		got := scrape(t, reg)
		has(t, got, `nvidia_gpu_up{gpu="3",uuid="GPU-00000000-0000-0000-0000-000000000003"} 0`)
		lacks(t, got, `nvidia_gpu_temperature_celsius{gpu="3"`)
		lacks(t, got, `nvidia_gpu_power_draw_watts{gpu="3"`)
		for _, i := range []string{"0", "1", "2", "4", "5", "6", "7"} {
			has(t, got, `nvidia_gpu_temperature_celsius{gpu="`+i+`"`)
			has(t, got, `nvidia_gpu_up{gpu="`+i+`",uuid="GPU-00000000-0000-0000-0000-00000000000`+i+`"} 1`)
		}
		lacks(t, got, "_scrape_collector_success{collector=\"temperature\"} 0",
			"a lost GPU is reported by nvidia_gpu_up, not as a collector failure")
	}
	// A lost GPU is not read again: each reading tried at most once after the loss.
	assert.LessOrEqual(t, len(tb.devices[3].GetTemperatureCalls()), 2)
}

func TestUnsupportedFieldIsRemembered(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	for _, d := range tb.devices {
		d.GetPcieReplayCounterFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	}
	var logs logBuffer
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, logs.Logger())
	for range 5 {
		got := scrape(t, reg)
		lacks(t, got, "nvidia_gpu_pcie_replay_errors_total")
		lacks(t, got, "nvidia_gpu_fan_speed_ratio")
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="ecc"} 1`)
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="fan"} 1`)
	}
	for _, d := range tb.devices {
		assert.Len(t, d.GetPcieReplayCounterCalls(), 1, "asked once, then remembered")
		assert.Len(t, d.GetNumFansCalls(), 1)
		assert.Len(t, d.GetFanSpeedCalls(), 1)
	}
	assert.NotContains(t, logs.String(), "collector failed")
}

func TestMissingSymbolsAreNeverCalled(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	missing := map[string]bool{
		"nvmlDeviceGetMemoryInfo_v2":             true,
		"nvmlDeviceGetCurrentClocksEventReasons": true,
		"nvmlDeviceGetRemappedRows":              true,
	}
	tb.server.LookupSymbolFunc = func(sym string) error {
		if missing[sym] {
			return os.ErrNotExist
		}
		return nil
	}
	var forbidden atomic.Int32
	for i, d := range tb.devices {
		// Calling a function the driver lacks kills the process; here it is counted.
		d.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) { forbidden.Add(1); return nvml.Memory_v2{}, nvml.SUCCESS }
		d.GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) { forbidden.Add(1); return 0, nvml.SUCCESS }
		d.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) { forbidden.Add(1); return 0, 0, false, false, nvml.SUCCESS }
		d.GetCurrentClocksThrottleReasonsFunc = func() (uint64, nvml.Return) { return nvml.ClocksThrottleReasonHwSlowdown, nvml.SUCCESS }
		d.MemoryInfo = nvml.Memory{Total: 40 << 30, Used: uint64(i) << 30, Free: (40 - uint64(i)) << 30}
	}
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, nil)
	got := scrape(t, reg)

	assert.Zero(t, forbidden.Load(), "a function whose symbol is missing was called")
	has(t, got, `nvidia_gpu_memory_used_bytes{gpu="2",uuid="GPU-00000000-0000-0000-0000-000000000002"} 2.147483648e+09`, "falls back to nvmlDeviceGetMemoryInfo")
	lacks(t, got, "nvidia_gpu_memory_reserved_bytes")
	has(t, got, `nvidia_gpu_clock_event_active{gpu="0",reason="hw_slowdown",uuid="GPU-00000000-0000-0000-0000-000000000000"} 1`,
		"falls back to the pre-535 throttle-reasons symbol")
	lacks(t, got, "nvidia_gpu_remapped_rows")
}

func TestGarbageValuesAreDropped(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	d := tb.devices[1]
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 0xFFFFFFFF, nvml.SUCCESS }
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: 0xFFFFFFFF, Memory: 250}, nvml.SUCCESS
	}
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0xFFFFFFFF, nvml.SUCCESS }
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return ^uint64(0), nvml.SUCCESS }
	d.GetClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 0xFFFFFFFF, nvml.SUCCESS }
	d.GetPerformanceStateFunc = func() (nvml.Pstates, nvml.Return) { return nvml.PSTATE_UNKNOWN, nvml.SUCCESS }

	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, nil)
	got := scrape(t, reg)
	for _, prefix := range []string{"temperature_celsius{", "utilization_ratio{", "memory_utilization_ratio{",
		"power_draw_watts{", "energy_consumed_joules_total{", `clock_hertz{clock="sm",`, "performance_state{"} {
		lacks(t, got, "nvidia_gpu_"+prefix+`gpu="1"`)
		has(t, got, "nvidia_gpu_"+prefix+`gpu="2"`)
	}
	has(t, got, `nvidia_gpu_memory_used_bytes{gpu="1"`, "sane readings of the same GPU are kept")
}

func TestUnexpectedErrorFailsOnlyItsCollector(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	tb.devices[5].GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
	var logs logBuffer
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, logs.Logger())
	for range 3 {
		got := scrape(t, reg)
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="power"} 0`)
		has(t, got, `benchstation_exporter_scrape_collector_success{collector="temperature"} 1`)
		has(t, got, `nvidia_gpu_power_limit_watts{gpu="5"`, "the rest of the collector's readings are kept")
		has(t, got, `nvidia_gpu_power_draw_watts{gpu="4"`)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN msg=\"collector failed\""), logs.String())
	assert.Contains(t, logs.String(), "gpu 5: reading power_usage: unknown error")
}

func TestXIDErrorsFromEvents(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	events := make(chan nvml.EventData)
	tb.events(events)
	tb.devices[6].RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.ERROR_NOT_SUPPORTED }
	m := gpu.NewManager(tb.server)
	e, reg := newExporter(t, m, Config{XIDWait: 10 * time.Millisecond}, nil)
	lacks(t, scrape(t, reg), "nvidia_gpu_xid_errors_total")

	for _, xid := range []uint64{79, 79, 48} {
		events <- nvml.EventData{Device: tb.devices[2], EventType: nvml.EventTypeXidCriticalError, EventData: xid}
	}
	uuid := "GPU-00000000-0000-0000-0000-000000000002"
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, reg), `nvidia_gpu_xid_errors_total{gpu="2",uuid="`+uuid+`",xid="48"} 1`)
	}, 5*time.Second, 10*time.Millisecond)
	got := scrape(t, reg)
	has(t, got, `nvidia_gpu_xid_errors_total{gpu="2",uuid="`+uuid+`",xid="79"} 2`)
	golden(t, "xid.prom", family(got, "nvidia_gpu_xid_errors_total"))
	assert.Len(t, tb.devices[2].RegisterEventsCalls(), 1)
	require.NoError(t, e.Close(), "the waiting goroutine stops")
}

func TestProcessesAreBoundedAndNamed(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	proc := t.TempDir()
	var infos []nvml.ProcessInfo
	for pid := uint32(100); pid < 140; pid++ {
		infos = append(infos, nvml.ProcessInfo{Pid: pid, UsedGpuMemory: uint64(pid) << 20})
		require.NoError(t, os.MkdirAll(filepath.Join(proc, itoa(pid)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(proc, itoa(pid), "comm"), []byte("worker-"+itoa(pid)+"\n"), 0o644))
	}
	d := tb.devices[0]
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return infos, nvml.SUCCESS }
	d.GetGraphicsRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{infos[39], {Pid: 999, UsedGpuMemory: ^uint64(0)}}, nvml.SUCCESS
	}
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{ProcPath: proc, MaxProcessesPerGPU: 5}, nil)
	got := scrape(t, reg)

	has(t, got, `nvidia_gpu_processes{gpu="0",uuid="GPU-00000000-0000-0000-0000-000000000000"} 40`)
	assert.Equal(t, 5+7, strings.Count(got, "nvidia_gpu_process_memory_used_bytes{"), "5 on GPU 0, 1 on each other GPU")
	has(t, got, `nvidia_gpu_process_memory_used_bytes{gpu="0",pid="139",process_name="worker-139",`)
	has(t, got, `nvidia_gpu_process_memory_used_bytes{gpu="0",pid="135",process_name="worker-135",`)
	lacks(t, got, `pid="134"`, "only the 5 largest")
	has(t, got, `nvidia_gpu_process_memory_used_bytes{gpu="1",pid="4001",process_name="unknown",`, "no /proc entry")
}

func itoa(v uint32) string { return strings.TrimSpace(strings.Repeat(" ", 0) + formatUint(v)) }

func formatUint(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestMIGDevices(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	d := tb.devices[0]
	ret, _ := d.SetMigMode(nvml.DEVICE_MIG_ENABLE)
	require.Equal(t, nvml.SUCCESS, ret)
	mig := newMIGDevice("MIG-0000", 1, 0, 10<<30, 3<<30)
	d.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) { return 7, nvml.SUCCESS }
	d.GetMigDeviceHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 0 {
			return mig, nvml.SUCCESS
		}
		return nil, nvml.ERROR_NOT_FOUND
	}
	m := gpu.NewManager(tb.server)
	_, reg := newExporter(t, m, Config{}, nil)
	got := scrape(t, reg)
	has(t, got, `nvidia_gpu_mig_enabled{gpu="0",uuid="GPU-00000000-0000-0000-0000-000000000000"} 1`)
	has(t, got, `nvidia_gpu_mig_enabled{gpu="1",uuid="GPU-00000000-0000-0000-0000-000000000001"} 0`)
	has(t, got, `nvidia_gpu_mig_memory_used_bytes{compute_instance="0",gpu="0",gpu_instance="1",mig_uuid="MIG-0000",uuid="GPU-00000000-0000-0000-0000-000000000000"} 3.221225472e+09`)
	has(t, got, `nvidia_gpu_mig_memory_total_bytes{compute_instance="0",gpu="0",gpu_instance="1",mig_uuid="MIG-0000",uuid="GPU-00000000-0000-0000-0000-000000000000"} 1.073741824e+10`)
}

func TestUnknownCollectorIsAnError(t *testing.T) {
	t.Parallel()
	_, err := New(Deps{GPUs: gpu.NewManager(newTestbed(t).server)}, map[string]bool{"temprature": true})
	require.EqualError(t, err, `unknown collector "temprature"`)
}

func TestDisabledCollectorsAreNotRun(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t)
	m := gpu.NewManager(tb.server)
	e, err := New(Deps{GPUs: m}, map[string]bool{"temperature": true})
	require.NoError(t, err)
	n, err := testutil.GatherAndCount(registry(e))
	require.NoError(t, err)
	// nvml_up, 8 up, 8 info, 8 temperature, 8 memory temperature, duration, success
	assert.Equal(t, 1+8+8+8+8+2, n)
	assert.Empty(t, tb.devices[0].GetPowerUsageCalls())
}

// has and lacks check an exposition for a substring without printing the
// whole exposition on failure.
func has(t *testing.T, exposition, want string, msg ...any) {
	t.Helper()
	if !strings.Contains(exposition, want) {
		t.Errorf("exposition lacks %q %v", want, msg)
	}
}

func lacks(t *testing.T, exposition, unwanted string, msg ...any) {
	t.Helper()
	if strings.Contains(exposition, unwanted) {
		t.Errorf("exposition has %q %v", unwanted, msg)
	}
}
