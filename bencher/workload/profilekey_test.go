package workload

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCustomProfileKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		concurrency   int
		rate          float64
		input, output Dist
		want          string
	}{
		{300, 0, Fixed(512), Fixed(128), "custom-c300-in512-out128"},
		{8, 0, Dist{}, Dist{}, "custom-c8-in512-out128"}, // the defaults
		{0, 2.5, Fixed(64), Fixed(16), "custom-r2.5-in64-out16"},
		{4, 20, Fixed(64), Fixed(16), "custom-r20-c4-in64-out16"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, CustomProfileKey(tc.concurrency, tc.rate, tc.input, tc.output))
		})
	}
	assert.Equal(t, "custom-c8", CustomLoadKey(8, 0))
}
