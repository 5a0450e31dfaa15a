package plugin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin/plugintest"
)

func TestRunChannelPath(t *testing.T) {
	t.Parallel()
	id := "20261120T100000Z-aaaaa1"
	path := plugin.RunChannelPath(id)
	assert.Equal(t, "runs/20261120T100000Z-aaaaa1", path)
	got, err := plugin.ParseRunChannelPath(path)
	require.NoError(t, err)
	assert.Equal(t, id, got)

	tests := []struct {
		path      string
		invalidID bool
		want      string
	}{
		{"runs/", true, `channel path "runs/": invalid run id: must be 1 to 200 characters long`},
		{"runs/../x", true, `channel path "runs/../x": invalid run id: "../x" has a character other than letters, digits, '.', '_' and '-' (or does not start with a letter or digit)`},
		{"runs/a/b", true, `channel path "runs/a/b": invalid run id: "a/b" has a character other than letters, digits, '.', '_' and '-' (or does not start with a letter or digit)`},
		{"run/abc", false, `channel path "run/abc": want runs/<run id>`},
		{"runs/" + strings.Repeat("a", 201), true, `channel path "runs/` + strings.Repeat("a", 201) + `": invalid run id: must be 1 to 200 characters long`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			_, err := plugin.ParseRunChannelPath(tt.path)
			require.Error(t, err)
			assert.Equal(t, tt.invalidID, errors.Is(err, plugin.ErrInvalidRunID))
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestRunExists(t *testing.T) {
	t.Parallel()
	ds := newDatasource(t, fixtureDir(t), plugintest.NewLogger())
	tests := []struct {
		id      string
		want    bool
		wantErr error
	}{
		{"20261122T120000Z-bbbbb1", true, nil},
		{"20261122T120000Z-zzzzzz", false, nil},
		{"../20261122T120000Z-bbbbb1", false, plugin.ErrInvalidRunID},
		{"", false, plugin.ErrInvalidRunID},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			got, err := ds.RunExists(tt.id)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
