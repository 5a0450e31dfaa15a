package results

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
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
	info := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/benchstation/benchstation", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const rev = "7d23225a1b2c3d4e5f60718293a4b5c6d7e8f901"
	tests := []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          string
	}{
		{"stamped wins", "v1.2.3", info("v0.9.0", "vcs.revision", rev), "v1.2.3"},
		{"module version", "", info("v0.9.0", "vcs.revision", rev), "v0.9.0"},
		{"pseudo-version", "", info("v0.0.0-20261120100000-7d23225a1b2c+dirty"), "v0.0.0-20261120100000-7d23225a1b2c+dirty"},
		{"revision", "", info("(devel)", "vcs.revision", rev, "vcs.modified", "false"), "7d23225a1b2c"},
		{"dirty revision", "", info("(devel)", "vcs.modified", "true", "vcs.revision", rev), "7d23225a1b2c-dirty"},
		{"short revision", "", info("(devel)", "vcs.revision", "abc123"), "abc123"},
		{"nothing known", "", info("(devel)"), "devel"},
		{"no build info", "", nil, "devel"},
		{"blank stamp", " ", info("v0.9.0"), "v0.9.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, buildVersion(tc.stamped, tc.bi))
		})
	}
}

func TestDetectServer(t *testing.T) {
	t.Parallel()
	vllm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"version": "0.11.0"}`))
	}))
	t.Cleanup(vllm.Close)
	noVersion := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noVersion.Close)
	tests := []struct {
		name, target string
		want         Server
		wantErr      error
	}{
		{"bencher sim", startSim(t, sim.WithZeroDelay()), Server{Version: sim.Version, Simulated: true}, nil},
		{"vllm", vllm.URL + "/v1", Server{Version: "0.11.0"}, nil},
		{"no version", noVersion.URL + "/v1", Server{}, ErrNoVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DetectServer(context.Background(), nil, tc.target)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
