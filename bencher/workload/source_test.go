package workload

import (
	"strconv"
	"testing"

	"github.com/benchstation/benchstation/bencher"
	"github.com/stretchr/testify/assert"
)

func TestTake(t *testing.T) {
	t.Parallel()
	src := SourceFunc(func(i int) bencher.Request { return bencher.Request{ID: strconv.Itoa(i * i)} })
	tests := []struct {
		n    int
		want []string
	}{
		{-1, nil},
		{0, nil},
		{3, []string{"0", "1", "4"}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			t.Parallel()
			var ids []string
			for _, req := range Take(src, tt.n) {
				ids = append(ids, req.ID)
			}
			assert.Equal(t, tt.want, ids)
		})
	}
}

func TestCycle(t *testing.T) {
	t.Parallel()
	reqs := []bencher.Request{{ID: "a", Prompt: "x"}, {ID: "b", Prompt: "y"}}
	src := Cycle(reqs)
	reqs[0].Prompt = "changed" // Cycle keeps its own list
	var ids, prompts []string
	for _, req := range Take(src, 5) {
		ids = append(ids, req.ID)
		prompts = append(prompts, req.Prompt)
	}
	assert.Equal(t, []string{"a", "b", "a#1", "b#1", "a#2"}, ids)
	assert.Equal(t, []string{"x", "y", "x", "y", "x"}, prompts)
	assert.PanicsWithValue(t, "workload: Cycle of no requests", func() { Cycle(nil) })
}
