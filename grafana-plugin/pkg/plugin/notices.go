package plugin

import (
	"errors"
	"slices"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// noticeOf returns the notice of an error that matches errUnresolved.
func noticeOf(err error) data.Notice {
	var u *unresolvedError
	if errors.As(err, &u) {
		return u.notice()
	}
	return data.Notice{Severity: data.NoticeSeverityInfo, Text: err.Error()}
}

// addNotice appends n to notices unless it is there already.
func addNotice(notices []data.Notice, n data.Notice) []data.Notice {
	if slices.Contains(notices, n) {
		return notices
	}
	return append(notices, n)
}

// withNotices returns the response of frames, with the notices added to
// the first frame.
func withNotices(frames data.Frames, notices ...data.Notice) backend.DataResponse {
	if len(notices) > 0 && len(frames) > 0 {
		f := frames[0]
		if f.Meta == nil {
			f.Meta = &data.FrameMeta{}
		}
		for _, n := range notices {
			f.Meta.Notices = addNotice(f.Meta.Notices, n)
		}
	}
	return backend.DataResponse{Frames: frames}
}
