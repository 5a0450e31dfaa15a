package plugin

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/results"
)

func TestDocCache(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	c := newDocCache(2, func(path string) (*results.Document, error) {
		reads.Add(1)
		if path == "bad" {
			return nil, errors.New("boom")
		}
		return &results.Document{Header: results.Header{ID: path}}, nil
	})
	t0 := time.Unix(100, 0)
	entry := func(path string, size int64, mod time.Time) results.Entry {
		return results.Entry{Path: path, Size: size, ModTime: mod}
	}
	steps := []struct {
		name      string
		entry     results.Entry
		wantReads int64
		wantLen   int
	}{
		{"first read", entry("a", 1, t0), 1, 1},
		{"cached", entry("a", 1, t0), 1, 1},
		{"another", entry("b", 1, t0), 2, 2},
		{"a changed size is a new version", entry("a", 2, t0), 3, 2},
		{"a changed time is a new version", entry("a", 2, t0.Add(time.Second)), 4, 2},
		{"the oldest was evicted", entry("b", 1, t0), 5, 2},
	}
	for _, s := range steps {
		doc, err := c.get(s.entry)
		require.NoError(t, err, s.name)
		assert.Equal(t, s.entry.Path, doc.ID, s.name)
		assert.Equal(t, s.wantReads, reads.Load(), s.name)
		assert.Equal(t, s.wantLen, c.len(), s.name)
	}
	_, err := c.get(entry("bad", 1, t0))
	require.Error(t, err)
	assert.Equal(t, 2, c.len(), "errors are not cached")
}
