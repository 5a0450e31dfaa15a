package gpu

import (
	"errors"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/assert"
)

func TestResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		ret         nvml.Return
		ok          bool
		err         string
		unsupported bool
		lost        bool
	}{
		{"success", nvml.SUCCESS, true, "", false, false},
		{"not supported is remembered", nvml.ERROR_NOT_SUPPORTED, false, "", true, false},
		{"function not found is remembered", nvml.ERROR_FUNCTION_NOT_FOUND, false, "", true, false},
		{"lost GPU", nvml.ERROR_GPU_IS_LOST, false, "gpu 2 (GPU-x): GPU is lost", false, true},
		{"no permission", nvml.ERROR_NO_PERMISSION, false, "gpu 2: reading power_usage: no permission", true, false},
		{"unexpected", nvml.ERROR_UNKNOWN, false, "gpu 2: reading power_usage: unknown error", false, false},
		{"unnamed code", nvml.Return(77), false, "gpu 2: reading power_usage: NVML return code 77", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &Device{Label: "2", UUID: "GPU-x"}
			ok, err := d.Result(FieldPowerUsage, tc.ret)
			assert.Equal(t, tc.ok, ok)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.err)
			}
			assert.Equal(t, tc.unsupported, !d.Supports(FieldPowerUsage))
			assert.True(t, d.Supports(FieldTemperature), "other fields unaffected")
			assert.Equal(t, tc.lost, d.Lost())
		})
	}
}

func TestLostIsReportedOnce(t *testing.T) {
	t.Parallel()
	d := &Device{Label: "0"}
	_, err := d.Result(FieldTemperature, nvml.ERROR_GPU_IS_LOST)
	assert.True(t, errors.Is(err, ErrGPULost))
	_, err = d.Result(FieldMemoryInfo, nvml.ERROR_GPU_IS_LOST)
	assert.NoError(t, err, "the loss is news once")
}

func TestCString(t *testing.T) {
	t.Parallel()
	var b [16]int8
	for i, c := range "0000:01:00.0" {
		b[i] = int8(c)
	}
	assert.Equal(t, "0000:01:00.0", CString(b[:]))
	assert.Equal(t, "", CString(nil))
	full := []int8{'a', 'b'}
	assert.Equal(t, "ab", CString(full), "no terminator")
}

func TestEveryFieldHasANameAndSymbols(t *testing.T) {
	t.Parallel()
	for f := Field(0); f < numFields; f++ {
		assert.NotEmpty(t, f.String(), "field %d", f)
		assert.NotEmpty(t, f.Symbols(), "field %s", f)
		for _, s := range f.Symbols() {
			assert.Regexp(t, `^nvml[A-Z][A-Za-z_0-9]+$`, s)
		}
	}
}
