package gpusim

import (
	"fmt"
	"math"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// simPIDBase is the PID of GPU 0's simulated process; GPU i's is base+i.
const simPIDBase = 900000

const (
	mib             = 1 << 20
	reservedBytes   = 512 * mib
	contextBytes    = 300 * mib
	ambientCelsius  = 31
	tempRiseCelsius = 46
	thermalLag      = 20 // seconds temperature trails power
)

// Device is one simulated GPU.
type Device struct {
	nvml.Device // the go-nvml mock device, for what is not overridden
	sys         *System
	index       int
	name, uuid  string
	pci         nvml.PciInfo
	totalBytes  uint64
	omega, phi  float64 // utilisation wave: angular frequency and phase
}

var _ nvml.Device = (*Device)(nil)

func newDevice(s *System, base *server.Device, i int) *Device {
	d := &Device{
		Device:     base,
		sys:        s,
		index:      i,
		name:       base.Config.Name,
		uuid:       simUUID(s.name, i),
		totalBytes: base.Config.MemoryMB * mib,
		omega:      2 * math.Pi / (120 + 7*float64(i)),
		phi:        0.7 * float64(i),
	}
	busID := fmt.Sprintf("00000000:%02X:00.0", 0x18+8*i)
	for j := 0; j < len(busID) && j < len(d.pci.BusId)-1; j++ {
		d.pci.BusId[j] = int8(busID[j])
	}
	d.pci.PciDeviceId = base.Config.PciDeviceId
	return d
}

// util is the utilisation (0-1) at simulated time t seconds.
func (d *Device) util(t float64) float64 {
	return 0.55 + 0.35*math.Sin(d.omega*t+d.phi) + 0.08*math.Sin(5*d.omega*t+2*d.phi)
}

func (d *Device) powerAt(t float64) float64 {
	m := d.sys.model
	return m.idleWatts + (m.tdpWatts-m.idleWatts)*d.util(t)
}

// energy is the exact integral of powerAt from 0 to t, in joules.
func (d *Device) energy(t float64) float64 {
	m := d.sys.model
	span := m.tdpWatts - m.idleWatts
	w, p := d.omega, d.phi
	integral := 0.55*t - 0.35/w*(math.Cos(w*t+p)-math.Cos(p)) - 0.08/(5*w)*(math.Cos(5*w*t+2*p)-math.Cos(2*p))
	return m.idleWatts*t + span*integral
}

func (d *Device) temperature(t float64) uint32 {
	u := d.util(t - thermalLag)
	return uint32(math.Round(ambientCelsius + tempRiseCelsius*u + 0.5*float64(d.index%3)))
}

func (d *Device) usedBytes(t float64) uint64 {
	return uint64(float64(d.totalBytes-reservedBytes) * (0.62 + 0.25*d.util(t)))
}

// Identity.

func (d *Device) GetUUID() (string, nvml.Return)          { return d.uuid, nvml.SUCCESS }
func (d *Device) GetName() (string, nvml.Return)          { return d.name, nvml.SUCCESS }
func (d *Device) GetIndex() (int, nvml.Return)            { return d.index, nvml.SUCCESS }
func (d *Device) GetPciInfo() (nvml.PciInfo, nvml.Return) { return d.pci, nvml.SUCCESS }
func (d *Device) GetVbiosVersion() (string, nvml.Return)  { return "96.00.SIM.00.01", nvml.SUCCESS }
func (d *Device) GetSerial() (string, nvml.Return) {
	return fmt.Sprintf("SIM%010d", d.index), nvml.SUCCESS
}
func (d *Device) GetBoardPartNumber() (string, nvml.Return) { return "SIMULATED", nvml.SUCCESS }

// Readings.

func (d *Device) GetTemperature(nvml.TemperatureSensors) (uint32, nvml.Return) {
	return d.temperature(d.sys.elapsed()), nvml.SUCCESS
}

// GetFieldValues answers the memory temperature; other fields are not simulated.
func (d *Device) GetFieldValues(values []nvml.FieldValue) nvml.Return {
	for i := range values {
		v := &values[i]
		if v.FieldId != nvml.FI_DEV_MEMORY_TEMP {
			v.NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
			continue
		}
		temp := d.temperature(d.sys.elapsed()) + 6
		v.ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
		v.Value = [8]byte{byte(temp), byte(temp >> 8), byte(temp >> 16), byte(temp >> 24)}
		v.NvmlReturn = uint32(nvml.SUCCESS)
	}
	return nvml.SUCCESS
}

func (d *Device) GetMemoryInfo_v2() (nvml.Memory_v2, nvml.Return) {
	used := d.usedBytes(d.sys.elapsed())
	return nvml.Memory_v2{Total: d.totalBytes, Reserved: reservedBytes, Used: used,
		Free: d.totalBytes - reservedBytes - used}, nvml.SUCCESS
}

func (d *Device) GetMemoryInfo() (nvml.Memory, nvml.Return) {
	m, _ := d.GetMemoryInfo_v2()
	return nvml.Memory{Total: m.Total, Used: m.Used + m.Reserved, Free: m.Free}, nvml.SUCCESS
}

func (d *Device) GetUtilizationRates() (nvml.Utilization, nvml.Return) {
	u := d.util(d.sys.elapsed())
	return nvml.Utilization{Gpu: uint32(math.Round(100 * u)), Memory: uint32(math.Round(70 * u))}, nvml.SUCCESS
}

func (d *Device) GetEncoderUtilization() (uint32, uint32, nvml.Return) {
	return 0, 167000, nvml.SUCCESS
}
func (d *Device) GetDecoderUtilization() (uint32, uint32, nvml.Return) {
	return 0, 167000, nvml.SUCCESS
}

func (d *Device) GetPowerUsage() (uint32, nvml.Return) {
	return uint32(1000 * d.powerAt(d.sys.elapsed())), nvml.SUCCESS
}

func (d *Device) tdpMilliwatts() uint32 { return uint32(1000 * d.sys.model.tdpWatts) }

func (d *Device) GetEnforcedPowerLimit() (uint32, nvml.Return) {
	return d.tdpMilliwatts(), nvml.SUCCESS
}
func (d *Device) GetPowerManagementLimit() (uint32, nvml.Return) {
	return d.tdpMilliwatts(), nvml.SUCCESS
}
func (d *Device) GetPowerManagementDefaultLimit() (uint32, nvml.Return) {
	return d.tdpMilliwatts(), nvml.SUCCESS
}

func (d *Device) GetTotalEnergyConsumption() (uint64, nvml.Return) {
	return uint64(1000 * d.energy(d.sys.elapsed())), nvml.SUCCESS
}

func (d *Device) GetClockInfo(t nvml.ClockType) (uint32, nvml.Return) {
	m := d.sys.model
	switch t {
	case nvml.CLOCK_GRAPHICS, nvml.CLOCK_SM:
		mhz := float64(m.smMaxMHz) * (0.6 + 0.4*d.util(d.sys.elapsed()))
		return uint32(mhz/15) * 15, nvml.SUCCESS // clocks move in 15 MHz steps
	case nvml.CLOCK_MEM:
		return m.memMaxMHz, nvml.SUCCESS
	case nvml.CLOCK_VIDEO:
		return m.smMaxMHz * 4 / 5, nvml.SUCCESS
	}
	return 0, nvml.ERROR_INVALID_ARGUMENT
}

func (d *Device) GetMaxClockInfo(t nvml.ClockType) (uint32, nvml.Return) {
	switch t {
	case nvml.CLOCK_GRAPHICS, nvml.CLOCK_SM:
		return d.sys.model.smMaxMHz, nvml.SUCCESS
	case nvml.CLOCK_MEM:
		return d.sys.model.memMaxMHz, nvml.SUCCESS
	case nvml.CLOCK_VIDEO:
		return d.sys.model.smMaxMHz * 4 / 5, nvml.SUCCESS
	}
	return 0, nvml.ERROR_INVALID_ARGUMENT
}

func (d *Device) GetPerformanceState() (nvml.Pstates, nvml.Return) {
	return nvml.PSTATE_0, nvml.SUCCESS
}

func (d *Device) GetCurrentClocksEventReasons() (uint64, nvml.Return) {
	t := d.sys.elapsed()
	var bits uint64
	if d.util(t) < 0.15 {
		bits |= nvml.ClocksEventReasonGpuIdle
	}
	if d.powerAt(t) > 0.97*d.sys.model.tdpWatts {
		bits |= nvml.ClocksEventReasonSwPowerCap
	}
	return bits, nvml.SUCCESS
}

func (d *Device) GetCurrentClocksThrottleReasons() (uint64, nvml.Return) {
	return d.GetCurrentClocksEventReasons()
}

// SXM boards are passively cooled: NVML reports no fans.
func (d *Device) GetNumFans() (int, nvml.Return)           { return 0, nvml.ERROR_NOT_SUPPORTED }
func (d *Device) GetFanSpeed() (uint32, nvml.Return)       { return 0, nvml.ERROR_NOT_SUPPORTED }
func (d *Device) GetFanSpeed_v2(int) (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }

func (d *Device) GetTotalEccErrors(nvml.MemoryErrorType, nvml.EccCounterType) (uint64, nvml.Return) {
	return 0, nvml.SUCCESS
}
func (d *Device) GetRemappedRows() (int, int, bool, bool, nvml.Return) {
	return 0, 0, false, false, nvml.SUCCESS
}
func (d *Device) GetPcieReplayCounter() (int, nvml.Return) { return 0, nvml.SUCCESS }

func (d *Device) GetComputeRunningProcesses() ([]nvml.ProcessInfo, nvml.Return) {
	used := d.usedBytes(d.sys.elapsed())
	return []nvml.ProcessInfo{{Pid: simPIDBase + uint32(d.index), UsedGpuMemory: used - contextBytes,
		GpuInstanceId: 0xFFFFFFFF, ComputeInstanceId: 0xFFFFFFFF}}, nvml.SUCCESS
}

func (d *Device) GetGraphicsRunningProcesses() ([]nvml.ProcessInfo, nvml.Return) {
	return nil, nvml.SUCCESS
}

func (d *Device) GetMigMode() (int, int, nvml.Return) {
	return nvml.DEVICE_MIG_DISABLE, nvml.DEVICE_MIG_DISABLE, nvml.SUCCESS
}

func (d *Device) GetPcieThroughput(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
	u := d.util(d.sys.elapsed())
	if c == nvml.PCIE_UTIL_TX_BYTES {
		return uint32(200000 * u), nvml.SUCCESS
	}
	return uint32(900000 * u), nvml.SUCCESS
}

func (d *Device) GetNvLinkState(link int) (nvml.EnableState, nvml.Return) {
	if link < 0 || link >= d.sys.model.nvlinks {
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	return nvml.FEATURE_ENABLED, nvml.SUCCESS
}

func (d *Device) GetNvLinkErrorCounter(link int, _ nvml.NvLinkErrorCounter) (uint64, nvml.Return) {
	if link < 0 || link >= d.sys.model.nvlinks {
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	return 0, nvml.SUCCESS
}

func (d *Device) RegisterEvents(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
