package gpusim

import (
	"math"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newSystem(t *testing.T, name string) (*System, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := New(name, WithClock(c.now))
	require.NoError(t, err)
	return s, c
}

func TestUnknownModel(t *testing.T) {
	t.Parallel()
	_, err := New("dgx1")
	require.EqualError(t, err, "unknown simulated system \"dgx1\" (known: [dgxa100 dgxb200 dgxh100 dgxh200])")
}

func TestEnergyIsTheIntegralOfPower(t *testing.T) {
	t.Parallel()
	s, c := newSystem(t, "dgxh100")
	d := s.devices[3]
	start := c.t
	e0, _ := d.GetTotalEnergyConsumption()
	// Integrate the reported power numerically over ten minutes, 100 ms steps.
	var joules float64
	const step = 100 * time.Millisecond
	for c.t.Sub(start) < 10*time.Minute {
		p0, _ := d.GetPowerUsage()
		c.t = c.t.Add(step)
		p1, _ := d.GetPowerUsage()
		joules += (float64(p0) + float64(p1)) / 2 / 1000 * step.Seconds()
	}
	e1, _ := d.GetTotalEnergyConsumption()
	got := float64(e1-e0) / 1000
	assert.InDelta(t, joules, got, joules*1e-3, "energy counter vs integrated power")
}

func TestReadingsMoveAndStayPlausible(t *testing.T) {
	t.Parallel()
	for _, name := range Models() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, c := newSystem(t, name)
			lib := s.Library()
			require.Equal(t, nvml.SUCCESS, lib.Init())
			n, _ := lib.DeviceGetCount()
			require.Equal(t, 8, n)
			h, _ := lib.DeviceGetHandleByIndex(0)
			seen := map[uint32]bool{}
			var lastEnergy uint64
			for range 300 {
				c.t = c.t.Add(time.Second)
				temp, _ := h.GetTemperature(nvml.TEMPERATURE_GPU)
				assert.True(t, temp >= 25 && temp <= 90, "temperature %d", temp)
				u, _ := h.GetUtilizationRates()
				assert.LessOrEqual(t, u.Gpu, uint32(100))
				mw, _ := h.GetPowerUsage()
				limit, _ := h.GetEnforcedPowerLimit()
				assert.LessOrEqual(t, mw, limit)
				m, _ := h.GetMemoryInfo_v2()
				assert.Equal(t, m.Total, m.Used+m.Free+m.Reserved)
				e, _ := h.GetTotalEnergyConsumption()
				assert.GreaterOrEqual(t, e, lastEnergy, "energy is a counter")
				lastEnergy = e
				seen[u.Gpu] = true
			}
			assert.Greater(t, len(seen), 20, "utilisation changes over time")
		})
	}
}

func TestTemperatureFollowsPowerWithALag(t *testing.T) {
	t.Parallel()
	s, _ := newSystem(t, "dgxa100")
	d := s.devices[0]
	// The hottest moment comes thermalLag seconds after the most power.
	var peakPower, peakTemp float64
	var tPower, tTemp float64
	for ts := 0.0; ts < 120; ts += 0.5 {
		if p := d.powerAt(ts); p > peakPower {
			peakPower, tPower = p, ts
		}
		if tc := float64(ambientCelsius) + tempRiseCelsius*d.util(ts-thermalLag); tc > peakTemp {
			peakTemp, tTemp = tc, ts
		}
	}
	assert.InDelta(t, thermalLag, math.Mod(tTemp-tPower+120, 120), 1)
}

func TestUUIDsAreStableAndDistinct(t *testing.T) {
	t.Parallel()
	a, _ := newSystem(t, "dgxh100")
	b, _ := newSystem(t, "dgxh100")
	seen := map[string]bool{}
	for i := range a.devices {
		ua, _ := a.devices[i].GetUUID()
		ub, _ := b.devices[i].GetUUID()
		assert.Equal(t, ua, ub, "same system, same UUIDs")
		assert.Regexp(t, `^GPU-[0-9a-f]{8}-[0-9a-f]{4}-4000-8000-[0-9a-f]{12}$`, ua)
		assert.False(t, seen[ua])
		seen[ua] = true
	}
}
