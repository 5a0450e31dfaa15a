package collector

import (
	"errors"
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/benchstation/benchstation/exporter/batch"
	"github.com/benchstation/benchstation/exporter/gpu"
)

// Config carries the collectors' settings, filled from flags by main.
type Config struct {
	// ProcPath is where /proc is mounted (the host's, for process names).
	ProcPath string
	// MaxProcessesPerGPU bounds the per-process series of each GPU; the
	// processes using the most memory are kept.
	MaxProcessesPerGPU int
	// ProcessName, when set, names processes instead of reading ProcPath
	// (the simulation uses it).
	ProcessName func(pid uint32) string
	// XIDWait is how long one NVML event wait blocks.
	XIDWait time.Duration
	// Batch configures the batch collector: the Batch API endpoints to
	// poll, and how.
	Batch batch.Config
}

// Defaults for Config.
const (
	DefaultProcPath           = "/proc"
	DefaultMaxProcessesPerGPU = 16
)

// notAvailable32 is what NVML leaves in a 32-bit value it could not read.
const notAvailable32 = 0xFFFFFFFF

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// readings accumulates the unexpected errors of one collector's scrape.
type readings struct{ errs []error }

// ok reports whether ret carries a usable value of f for d.
func (r *readings) ok(d *gpu.Device, f gpu.Field, ret nvml.Return) bool {
	ok, err := d.Result(f, ret)
	if err != nil && !errors.Is(err, gpu.ErrGPULost) {
		r.errs = append(r.errs, err)
	}
	return ok
}

func (r *readings) err() error { return errors.Join(r.errs...) }

// healthy returns the devices that can be read, or ErrNVMLDown.
func healthy(m *gpu.Manager) ([]*gpu.Device, error) {
	devs, err := m.Devices()
	if err != nil {
		return nil, err
	}
	return devs, nil
}

// readable reports whether f may be read from d now.
func readable(d *gpu.Device, f gpu.Field) bool { return !d.Lost() && d.Supports(f) }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fieldValue decodes an NVML field value as a float64.
func fieldValue(v nvml.FieldValue) (float64, bool) {
	b := v.Value
	u64 := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	switch nvml.ValueType(v.ValueType) {
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		return float64(uint32(u64)), uint32(u64) != notAvailable32
	case nvml.VALUE_TYPE_SIGNED_INT:
		return float64(int32(uint32(u64))), true
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		return float64(u64), u64 != ^uint64(0)
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		return float64(int64(u64)), true
	case nvml.VALUE_TYPE_UNSIGNED_SHORT:
		return float64(uint16(u64)), true
	default:
		return 0, false
	}
}
