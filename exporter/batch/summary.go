package batch

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/benchstation/benchstation/internal/secret"
)

// maxLabelBytes bounds the label values taken from the server (batch id,
// API endpoint, model).
const maxLabelBytes = 128

// Summary is what one successful poll of an endpoint found, reduced to what
// the collector serves. It is immutable once published.
type Summary struct {
	// At is when the poll started.
	At time.Time
	// Listed is the number of distinct batches listed.
	Listed int
	// Tracked are the batches with per-batch series: every batch not yet
	// finished (newest created first), then those finished within the
	// window (newest finished first), at most MaxBatches in all.
	Tracked []Tracked
	// Untracked counts the batches that qualified for per-batch series but
	// were left out by MaxBatches.
	Untracked int

	counts [len(statuses)]int
}

// Count returns how many listed batches have status s (StatusUnknown: any
// status that is not one of the eight OpenAI statuses).
func (s *Summary) Count(st Status) int { return s.counts[st.index()] }

// Tracked is one batch with series of its own. Its strings come from the
// server: each that holds a credential of the endpoint is [REDACTED] whole
// (see secret.Redactor.Value), and each is cut to 128 bytes. No two have
// the same ID.
type Tracked struct {
	ID string
	// Endpoint is the batch's API endpoint, e.g. /v1/chat/completions.
	Endpoint string
	// Model is Batch.ModelName.
	Model string
	// Status is one of Statuses.
	Status   Status
	Requests RequestCounts
	// CreatedAt is zero when the server gave none.
	CreatedAt time.Time
	// FinishedAt is zero for a batch that is not finished.
	FinishedAt time.Time
}

// reducer folds the batches of one poll into a Summary.
type reducer struct {
	at         time.Time
	window     time.Duration
	max        int
	red        *secret.Redactor
	seen       map[string]struct{} // ids as the server sent them
	labels     map[string]struct{} // ids as label values
	sum        Summary
	unfinished []Tracked
	finished   []Tracked
}

func newReducer(at time.Time, window time.Duration, maxTracked int, red *secret.Redactor) *reducer {
	return &reducer{at: at, window: window, max: maxTracked, red: red,
		seen: map[string]struct{}{}, labels: map[string]struct{}{}, sum: Summary{At: at}}
}

// add counts b once, however many pages list it.
func (r *reducer) add(b *Batch) {
	if b.ID != "" {
		if _, dup := r.seen[b.ID]; dup {
			return
		}
		r.seen[b.ID] = struct{}{}
	}
	st := b.Status.Known()
	r.sum.Listed++
	r.sum.counts[st.index()]++
	if b.ID == "" {
		return // counted, but a series needs an id
	}
	if st.Finished() {
		if fin := b.FinishedAt().Time(); fin.IsZero() || r.at.Sub(fin) > r.window {
			return
		}
	}
	t := r.track(b, st)
	// Two ids that are one label value (cut alike, or both [REDACTED])
	// would be one series twice: the first listed keeps it.
	if _, dup := r.labels[t.ID]; dup {
		return
	}
	r.labels[t.ID] = struct{}{}
	if st.Finished() {
		r.finished = append(r.finished, t)
	} else {
		r.unfinished = append(r.unfinished, t)
	}
}

func (r *reducer) track(b *Batch, st Status) Tracked {
	return Tracked{
		ID:         r.label(b.ID),
		Endpoint:   r.label(b.Endpoint),
		Model:      r.label(b.ModelName()),
		Status:     st,
		Requests:   b.RequestCounts,
		CreatedAt:  b.CreatedAt.Time(),
		FinishedAt: b.FinishedAt().Time(),
	}
}

// summary sorts and cuts the tracked batches.
func (r *reducer) summary() *Summary {
	slices.SortFunc(r.unfinished, func(a, b Tracked) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(r.finished, func(a, b Tracked) int {
		return cmp.Or(b.FinishedAt.Compare(a.FinishedAt), strings.Compare(a.ID, b.ID))
	})
	eligible := len(r.unfinished) + len(r.finished)
	keep := make([]Tracked, 0, min(eligible, r.max))
	keep = append(keep, r.unfinished[:min(len(r.unfinished), r.max)]...)
	keep = append(keep, r.finished[:min(len(r.finished), r.max-len(keep))]...)
	s := r.sum
	s.Tracked = keep
	s.Untracked = eligible - len(keep)
	return &s
}

// label returns a string from the server fit for a label value:
// [REDACTED] if it holds a credential, else s cut to maxLabelBytes on a
// rune boundary and made valid UTF-8. The redactor looks first, as a cut
// could leave a part of a key that it would not know.
func (r *reducer) label(s string) string {
	if r.red.Contains(s) {
		return secret.Redacted
	}
	return label(s)
}

// label cuts s to maxLabelBytes on a rune boundary and makes it valid UTF-8.
func label(s string) string {
	if len(s) <= maxLabelBytes && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > maxLabelBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strings.Clone(s)
}
