package plugin

import (
	"errors"
	"fmt"
	"strings"
)

// RunChannelPrefix is the first element of the Grafana Live channel path of
// a run.
const RunChannelPrefix = "runs/"

// maxRunIDLength is the longest run id (the run document schema's limit).
const maxRunIDLength = 200

// ErrInvalidRunID is wrapped by the errors of ids that cannot be run ids.
var ErrInvalidRunID = errors.New("invalid run id")

// RunChannelPath returns the Grafana Live channel path of a run's progress,
// "runs/<id>". Panels subscribe to the full channel
// "ds/<datasource uid>/runs/<id>" (set as frame.Meta.Channel); the stream
// handlers (SubscribeStream, PublishStream, RunStream) see
// only the path, and RunStream gets no query data, so the run id travels in
// the path.
func RunChannelPath(id string) string {
	return RunChannelPrefix + id
}

// ParseRunChannelPath returns the run id of a channel path made by
// RunChannelPath, or an error for any other path.
func ParseRunChannelPath(path string) (string, error) {
	id, ok := strings.CutPrefix(path, RunChannelPrefix)
	if !ok {
		return "", fmt.Errorf("channel path %q: want %s<run id>", path, RunChannelPrefix)
	}
	if err := CheckRunID(id); err != nil {
		return "", fmt.Errorf("channel path %q: %w", path, err)
	}
	return id, nil
}

// CheckRunID checks that id can be a run id: 1 to 200 letters, digits, '.',
// '_' and '-', starting with a letter or digit (as the run document's
// schema says). Such an id is a safe file name.
func CheckRunID(id string) error {
	if id == "" || len(id) > maxRunIDLength {
		return fmt.Errorf("%w: must be 1 to %d characters long", ErrInvalidRunID, maxRunIDLength)
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("%w: %q has a character other than letters, digits, '.', '_' and '-' (or does not start with a letter or digit)", ErrInvalidRunID, id)
		}
	}
	return nil
}

// RunExists reports whether the results directory holds a run document with
// the given id. It reads the directory through the instance's index.
func (d *Datasource) RunExists(id string) (bool, error) {
	if err := CheckRunID(id); err != nil {
		return false, err
	}
	if d.configErr != nil {
		return false, d.configErr
	}
	l, err := d.index.List()
	if err != nil {
		return false, fmt.Errorf("reading the results directory %s: %w", d.settings.ResultsDir, err)
	}
	for _, e := range l.Runs {
		if e.Header.ID == id {
			return true, nil
		}
	}
	return false, nil
}
