package live

import (
	"testing"
	"time"
)

// BenchmarkObserve measures the observer's cost per finished record (16
// output tokens), which the runner pays for every request.
func BenchmarkObserve(b *testing.B) {
	rec := record(0, 20*time.Millisecond, 5*time.Millisecond, 16)
	b.Run("counters", func(b *testing.B) {
		r := NewRun(RunInfo{ID: "r"}, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Observe(rec)
			}
		})
	})
	b.Run("metrics", func(b *testing.B) {
		r := NewRun(RunInfo{ID: "r"}, NewMetrics())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Observe(rec)
			}
		})
	})
}
