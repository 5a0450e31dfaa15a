package gpu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Field names one NVML reading. The exporter remembers, per device, which
// fields the device does not support, so that an unsupported field costs one
// call in the life of the process and never an error on every scrape.
type Field uint8

// The fields the collectors read. Each has the NVML symbol it needs (see
// Field.Symbol); a symbol missing from the installed driver marks the field
// unsupported on every device before it is ever called.
const (
	FieldTemperature Field = iota
	FieldMemoryTemperature
	FieldMemoryInfoV2
	FieldMemoryInfo
	FieldUtilization
	FieldEncoderUtilization
	FieldDecoderUtilization
	FieldPowerUsage
	FieldEnforcedPowerLimit
	FieldPowerLimit
	FieldDefaultPowerLimit
	FieldEnergy
	FieldClock
	FieldMaxClock
	FieldFanCount
	FieldFanSpeedV2
	FieldFanSpeed
	FieldPerformanceState
	FieldClockEventReasons
	FieldClockThrottleReasons
	FieldECCErrors
	FieldRemappedRows
	FieldPCIeReplay
	FieldPCIeThroughput
	FieldComputeProcesses
	FieldGraphicsProcesses
	FieldMIGMode
	FieldMIGDevices
	FieldNVLinkState
	FieldNVLinkErrors
	FieldVBIOS
	FieldSerial
	FieldBoardPartNumber
	FieldXIDEvents
	numFields
)

// fieldInfo gives each field a stable name (for logs) and the C symbols
// (space-separated) that reading it calls.
var fieldInfo = [numFields]struct{ name, symbol string }{
	FieldTemperature:          {"temperature", "nvmlDeviceGetTemperature"},
	FieldMemoryTemperature:    {"memory_temperature", "nvmlDeviceGetFieldValues"},
	FieldMemoryInfoV2:         {"memory_info_v2", "nvmlDeviceGetMemoryInfo_v2"},
	FieldMemoryInfo:           {"memory_info", "nvmlDeviceGetMemoryInfo"},
	FieldUtilization:          {"utilization", "nvmlDeviceGetUtilizationRates"},
	FieldEncoderUtilization:   {"encoder_utilization", "nvmlDeviceGetEncoderUtilization"},
	FieldDecoderUtilization:   {"decoder_utilization", "nvmlDeviceGetDecoderUtilization"},
	FieldPowerUsage:           {"power_usage", "nvmlDeviceGetPowerUsage"},
	FieldEnforcedPowerLimit:   {"enforced_power_limit", "nvmlDeviceGetEnforcedPowerLimit"},
	FieldPowerLimit:           {"power_limit", "nvmlDeviceGetPowerManagementLimit"},
	FieldDefaultPowerLimit:    {"default_power_limit", "nvmlDeviceGetPowerManagementDefaultLimit"},
	FieldEnergy:               {"energy", "nvmlDeviceGetTotalEnergyConsumption"},
	FieldClock:                {"clock", "nvmlDeviceGetClockInfo"},
	FieldMaxClock:             {"max_clock", "nvmlDeviceGetMaxClockInfo"},
	FieldFanCount:             {"fan_count", "nvmlDeviceGetNumFans"},
	FieldFanSpeedV2:           {"fan_speed_v2", "nvmlDeviceGetFanSpeed_v2"},
	FieldFanSpeed:             {"fan_speed", "nvmlDeviceGetFanSpeed"},
	FieldPerformanceState:     {"performance_state", "nvmlDeviceGetPerformanceState"},
	FieldClockEventReasons:    {"clock_event_reasons", "nvmlDeviceGetCurrentClocksEventReasons"},
	FieldClockThrottleReasons: {"clock_throttle_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons"},
	FieldECCErrors:            {"ecc_errors", "nvmlDeviceGetTotalEccErrors"},
	FieldRemappedRows:         {"remapped_rows", "nvmlDeviceGetRemappedRows"},
	FieldPCIeReplay:           {"pcie_replay", "nvmlDeviceGetPcieReplayCounter"},
	FieldPCIeThroughput:       {"pcie_throughput", "nvmlDeviceGetPcieThroughput"},
	FieldComputeProcesses:     {"compute_processes", "nvmlDeviceGetComputeRunningProcesses"},
	FieldGraphicsProcesses:    {"graphics_processes", "nvmlDeviceGetGraphicsRunningProcesses"},
	FieldMIGMode:              {"mig_mode", "nvmlDeviceGetMigMode"},
	FieldMIGDevices: {"mig_devices", "nvmlDeviceGetMaxMigDeviceCount nvmlDeviceGetMigDeviceHandleByIndex " +
		"nvmlDeviceGetGpuInstanceId nvmlDeviceGetComputeInstanceId nvmlDeviceGetMemoryInfo"},
	FieldNVLinkState:     {"nvlink_state", "nvmlDeviceGetNvLinkState"},
	FieldNVLinkErrors:    {"nvlink_errors", "nvmlDeviceGetNvLinkErrorCounter"},
	FieldVBIOS:           {"vbios_version", "nvmlDeviceGetVbiosVersion"},
	FieldSerial:          {"serial", "nvmlDeviceGetSerial"},
	FieldBoardPartNumber: {"board_part_number", "nvmlDeviceGetBoardPartNumber"},
	FieldXIDEvents:       {"xid_events", "nvmlDeviceRegisterEvents nvmlEventSetCreate nvmlEventSetWait nvmlEventSetFree"},
}

// String returns the field's name as used in logs.
func (f Field) String() string { return fieldInfo[f].name }

// Symbols returns the NVML C symbols that reading f calls.
func (f Field) Symbols() []string { return strings.Fields(fieldInfo[f].symbol) }

// Device is one GPU as the exporter sees it: its NVML handle, the identity
// read once at discovery, and what has been learnt about it since.
type Device struct {
	// Handle is the NVML device handle; collectors call it directly.
	Handle nvml.Device
	// Index is NVML's index of the device and Label the same as a string,
	// used as the `gpu` label value.
	Index int
	Label string
	// UUID is the device's stable identity, the `uuid` label value.
	UUID string
	// Identity read once at discovery, for nvidia_gpu_info.
	Name, PCIBusID, VBIOS, Serial, BoardPartNumber string

	unsupported atomic.Uint64 // bit f set: field f is not supported
	lost        atomic.Bool
}

// Supports reports whether f may be read from d: the driver has the symbol
// and the device has not answered NOT_SUPPORTED for it before.
func (d *Device) Supports(f Field) bool {
	return d.unsupported.Load()&(1<<f) == 0
}

// Lost reports whether NVML has said that the GPU fell off the bus.
func (d *Device) Lost() bool { return d.lost.Load() }

// MarkLost records that the GPU is gone; it is never read again.
func (d *Device) MarkLost() { d.lost.Store(true) }

func (d *Device) markUnsupported(f Field) {
	for {
		old := d.unsupported.Load()
		if d.unsupported.CompareAndSwap(old, old|1<<f) {
			return
		}
	}
}

// ErrGPULost is wrapped by the error Result returns the first time a device
// answers ERROR_GPU_IS_LOST.
var ErrGPULost = errors.New("GPU is lost")

// Result interprets the return code of reading f from d. It reports whether
// the value read is usable. NOT_SUPPORTED and FUNCTION_NOT_FOUND are
// remembered so f is not read from d again; GPU_IS_LOST marks the device lost.
// Only codes that say something went wrong unexpectedly yield an error.
func (d *Device) Result(f Field, ret nvml.Return) (bool, error) {
	switch ret {
	case nvml.SUCCESS:
		return true, nil
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_FUNCTION_NOT_FOUND, nvml.ERROR_NOT_FOUND:
		d.markUnsupported(f)
		return false, nil
	case nvml.ERROR_GPU_IS_LOST:
		if d.lost.Swap(true) {
			return false, nil
		}
		return false, fmt.Errorf("gpu %s (%s): %w", d.Label, d.UUID, ErrGPULost)
	case nvml.ERROR_NO_PERMISSION:
		d.markUnsupported(f)
		return false, fmt.Errorf("gpu %s: reading %s: no permission", d.Label, f)
	default:
		return false, fmt.Errorf("gpu %s: reading %s: %s", d.Label, f, returnString(ret))
	}
}

// returnString names an NVML return code without calling into the library,
// which may be half-loaded when things go wrong.
func returnString(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_UNINITIALIZED:
		return "NVML not initialised"
	case nvml.ERROR_INVALID_ARGUMENT:
		return "invalid argument"
	case nvml.ERROR_TIMEOUT:
		return "timeout"
	case nvml.ERROR_UNKNOWN:
		return "unknown error"
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 not found"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "NVIDIA driver not loaded"
	case nvml.ERROR_INSUFFICIENT_SIZE:
		return "insufficient size"
	default:
		return "NVML return code " + strconv.Itoa(int(ret))
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
