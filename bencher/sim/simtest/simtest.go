// Package simtest starts the bencher's vLLM simulator for other packages'
// tests.
package simtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/sim"
)

// Start serves a simulator made with opts on a loopback port for the rest
// of the test and returns its base URL (the OpenAI API is under /v1). The
// simulator stops, its batches with it, when the test ends.
func Start(t testing.TB, opts ...sim.Option) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	base, wait, err := sim.New(opts...).Start(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return base
}
