package gate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSaturatedFails(t *testing.T) {
	o := Saturated([]string{"read_lag", "cpu_wait"})
	assert.False(t, o.Pass)
	assert.False(t, Passed([]Outcome{o}))
	assert.Equal(t, "client_saturated (read_lag, cpu_wait)", o.Text)
	assert.Contains(t, o.Reason(), "the client was saturated")
	assert.Contains(t, o.String(), "FAIL client_saturated (read_lag, cpu_wait)")
}
