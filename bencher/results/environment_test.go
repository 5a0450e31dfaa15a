package results

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/sim"
)

func TestServerVersion(t *testing.T) {
	t.Parallel()
	target := startSim(t, sim.WithZeroDelay())
	v, err := ServerVersion(context.Background(), nil, target)
	require.NoError(t, err)
	assert.Equal(t, sim.Version, v)

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	_, err = ServerVersion(context.Background(), notFound.Client(), notFound.URL+"/v1/")
	require.ErrorIs(t, err, ErrNoVersion)
	require.EqualError(t, err, "results: the server serves no version (GET /version: 404 Not Found)")

	_, err = ServerVersion(context.Background(), nil, "http://user:pw@127.0.0.1:1/v1")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "pw")
}

func TestBuildVersion(t *testing.T) {
	t.Parallel()
	assert.NotEmpty(t, BuildVersion())
}
