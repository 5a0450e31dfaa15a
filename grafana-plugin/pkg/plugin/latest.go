package plugin

// Run ids that queries accept in place of a real one, so that dashboards
// can follow the newest runs without knowing their ids.
const (
	// RunLatest names the run that started last.
	RunLatest = "latest"
	// RunPrevious names the run that started before the latest.
	RunPrevious = "previous"
)
