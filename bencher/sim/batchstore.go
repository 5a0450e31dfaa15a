package sim

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The statuses of a batch, as the OpenAI Batch object names them.
const (
	BatchValidating = "validating"
	BatchFailed     = "failed"
	BatchInProgress = "in_progress"
	BatchFinalizing = "finalizing"
	BatchCompleted  = "completed"
	BatchExpired    = "expired"
	BatchCancelling = "cancelling"
	BatchCancelled  = "cancelled"
)

// File purposes.
const (
	purposeBatch       = "batch"
	purposeBatchOutput = "batch_output"
)

// maxBatchErrors bounds the validation errors a failed batch reports.
const maxBatchErrors = 100

// fileObj is a stored file. Its fields never change once it is stored, so
// a batch reads data without a lock.
type fileObj struct {
	id        string
	filename  string
	purpose   string
	createdAt int64
	data      []byte
	readers   int // unfinished batches whose input it is; guarded by the store's mutex
}

// lineError is one entry of a failed batch's errors.data.
type lineError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

// batchJob is one batch. The fields of the first group are set when the
// batch is created (id and cancel by the store) and read-only afterwards;
// the others are guarded by the store's mutex.
type batchJob struct {
	id          string
	endpoint    string
	inputFileID string
	window      string
	metadata    map[string]string
	createdAt   int64
	expiresAt   time.Time
	cancel      chan struct{} // closed by the first cancel

	status                                         string
	inProgressAt, finalizingAt, completedAt        int64
	failedAt, expiredAt, cancellingAt, cancelledAt int64
	model                                          string
	total, completed, failed                       int
	usage                                          tokenUsage // of the completed requests
	errors                                         []lineError
	outputFileID, errorFileID                      string
	input                                          *fileObj // its input file, until it is done reading it
}

// tokenUsage counts the tokens of a batch's completed requests.
type tokenUsage struct {
	input, cached, output int
}

// finished reports whether a batch status is terminal.
func finished(status string) bool {
	switch status {
	case BatchCompleted, BatchFailed, BatchExpired, BatchCancelled:
		return true
	}
	return false
}

// batchStore holds the Batch API's files and batches within its limits.
type batchStore struct {
	limits BatchLimits
	seed   uint64

	mu        sync.Mutex
	next      uint64
	files     map[string]*fileObj
	fileList  []*fileObj // oldest first
	fileBytes int64
	batches   map[string]*batchJob
	batchList []*batchJob // oldest first
}

func newBatchStore(limits BatchLimits, seed uint64) *batchStore {
	return &batchStore{limits: limits, seed: seed, files: map[string]*fileObj{}, batches: map[string]*batchJob{}}
}

// newID returns prefix and 16 hex digits unique within the store; call
// with mu held.
func (st *batchStore) newID(prefix string) string {
	st.next++
	return makeID(prefix, mix(st.seed^0xba7c4^mix(st.next)))
}

// limitError is the answer when a new file or batch would pass a limit that
// dropping finished work cannot make room under.
func limitError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "simulator_limit_reached",
		msg: fmt.Sprintf(format, args...)}
}

// addFile stores a file, dropping the oldest files no unfinished batch
// reads while the limits would be passed. An output file (force) is stored
// even when that is not enough: its batch is already done.
func (st *batchStore) addFile(name, purpose string, data []byte, force bool) (*fileObj, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := int64(len(data))
	for len(st.fileList)+1 > st.limits.MaxFiles || st.fileBytes+n > st.limits.MaxFileBytes {
		i := slices.IndexFunc(st.fileList, func(f *fileObj) bool { return f.readers == 0 })
		if i < 0 {
			if force {
				break
			}
			if len(st.fileList)+1 > st.limits.MaxFiles {
				return nil, limitError("The simulator holds %d files (its limit on stored files, BatchLimits.MaxFiles) "+
					"and each is the input of an unfinished batch; retry when a batch has finished.", len(st.fileList))
			}
			return nil, limitError("The simulator's stored files would take %d bytes, more than its limit on stored bytes "+
				"(BatchLimits.MaxFileBytes = %d), and the files held are the inputs of unfinished batches; "+
				"retry when a batch has finished.", st.fileBytes+n, st.limits.MaxFileBytes)
		}
		st.dropFile(i)
	}
	f := &fileObj{id: st.newID("file-"), filename: name, purpose: purpose, createdAt: time.Now().Unix(), data: data}
	st.files[f.id] = f
	st.fileList = append(st.fileList, f)
	st.fileBytes += n
	return f, nil
}

// dropFile removes fileList[i]; call with mu held.
func (st *batchStore) dropFile(i int) {
	f := st.fileList[i]
	st.fileList = slices.Delete(st.fileList, i, i+1)
	delete(st.files, f.id)
	st.fileBytes -= int64(len(f.data))
}

// file returns a stored file.
func (st *batchStore) file(id string) (*fileObj, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f, ok := st.files[id]
	return f, ok
}

// deleteFile removes a file; a batch reading it keeps its copy of the data.
func (st *batchStore) deleteFile(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := slices.IndexFunc(st.fileList, func(f *fileObj) bool { return f.id == id })
	if i < 0 {
		return false
	}
	st.dropFile(i)
	return true
}

// listFiles returns up to limit files after the one with id after (""
// from the start), newest first or oldest first, with the given purpose
// ("" for any), and whether more follow.
func (st *batchStore) listFiles(purpose, after string, limit int, newestFirst bool) ([]fileObj, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	list := slices.Clone(st.fileList)
	if newestFirst {
		slices.Reverse(list)
	}
	list = slices.DeleteFunc(list, func(f *fileObj) bool { return purpose != "" && f.purpose != purpose })
	list = afterID(list, after, func(f *fileObj) string { return f.id })
	more := len(list) > limit
	list = list[:min(limit, len(list))]
	out := make([]fileObj, len(list))
	for i, f := range list {
		out[i] = fileObj{id: f.id, filename: f.filename, purpose: f.purpose, createdAt: f.createdAt, data: f.data}
	}
	return out, more
}

// afterID returns the elements of list after the one whose id is after,
// all of them for "", none when no element has that id.
func afterID[T any](list []T, after string, id func(T) string) []T {
	if after == "" {
		return list
	}
	i := slices.IndexFunc(list, func(v T) bool { return id(v) == after })
	if i < 0 {
		return nil
	}
	return list[i+1:]
}

// addBatch creates a batch in status validating, dropping the oldest
// finished batches while the limit would be passed.
func (st *batchStore) addBatch(b *batchJob) *apiError {
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.batchList)+1 > st.limits.MaxBatches {
		i := slices.IndexFunc(st.batchList, func(b *batchJob) bool { return finished(b.status) })
		if i < 0 {
			return limitError("The simulator holds %d unfinished batches, its limit on batches (BatchLimits.MaxBatches); "+
				"retry when a batch has finished.", len(st.batchList))
		}
		delete(st.batches, st.batchList[i].id)
		st.batchList = slices.Delete(st.batchList, i, i+1)
	}
	b.id = st.newID("batch_")
	b.status = BatchValidating
	b.cancel = make(chan struct{})
	if f, ok := st.files[b.inputFileID]; ok {
		f.readers++
		b.input = f
	}
	st.batches[b.id] = b
	st.batchList = append(st.batchList, b)
	return nil
}

// update changes a batch under the store's lock and returns its view.
func (st *batchStore) update(b *batchJob, change func(*batchJob)) batchView {
	st.mu.Lock()
	defer st.mu.Unlock()
	change(b)
	if finished(b.status) {
		st.releaseInputLocked(b)
	}
	return b.view()
}

// inputData returns the content of a batch's input file, if the file was
// there when the batch was created.
func (st *batchStore) inputData(b *batchJob) ([]byte, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if b.input == nil {
		return nil, false
	}
	return b.input.data, true
}

// releaseInput lets the store drop a batch's input file again.
func (st *batchStore) releaseInput(b *batchJob) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.releaseInputLocked(b)
}

func (st *batchStore) releaseInputLocked(b *batchJob) {
	if b.input != nil {
		b.input.readers--
		b.input = nil
	}
}

// batch returns the view of a batch.
func (st *batchStore) batch(id string) (*batchJob, batchView, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, ok := st.batches[id]
	if !ok {
		return nil, batchView{}, false
	}
	return b, b.view(), true
}

// listBatches returns up to limit batches after the one with id after,
// newest first, and whether more follow.
func (st *batchStore) listBatches(after string, limit int) ([]batchView, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	list := slices.Clone(st.batchList)
	slices.Reverse(list)
	list = afterID(list, after, func(b *batchJob) string { return b.id })
	more := len(list) > limit
	list = list[:min(limit, len(list))]
	out := make([]batchView, len(list))
	for i, b := range list {
		out[i] = b.view()
	}
	return out, more
}

// batchView is the OpenAI Batch object.
type batchView struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Endpoint         string            `json:"endpoint"`
	Model            *string           `json:"model"`
	Errors           *batchErrors      `json:"errors"`
	InputFileID      string            `json:"input_file_id"`
	CompletionWindow string            `json:"completion_window"`
	Status           string            `json:"status"`
	OutputFileID     *string           `json:"output_file_id"`
	ErrorFileID      *string           `json:"error_file_id"`
	CreatedAt        int64             `json:"created_at"`
	InProgressAt     *int64            `json:"in_progress_at"`
	ExpiresAt        *int64            `json:"expires_at"`
	FinalizingAt     *int64            `json:"finalizing_at"`
	CompletedAt      *int64            `json:"completed_at"`
	FailedAt         *int64            `json:"failed_at"`
	ExpiredAt        *int64            `json:"expired_at"`
	CancellingAt     *int64            `json:"cancelling_at"`
	CancelledAt      *int64            `json:"cancelled_at"`
	RequestCounts    requestCounts     `json:"request_counts"`
	Usage            *batchUsage       `json:"usage"`
	Metadata         map[string]string `json:"metadata"`
}

type batchErrors struct {
	Object string      `json:"object"`
	Data   []lineError `json:"data"`
}

// batchUsage is the OpenAI Batch object's usage: the tokens of the
// batch's completed requests, the sums of the usage their output lines
// carry (prompt_tokens, completion_tokens, total_tokens). cached_tokens is
// the prefix-cache hits of those requests (what vllm:prefix_cache_hits_total
// counted for them; 0 with prefix caching off), which the output lines do
// not carry: like vLLM without --enable-prompt-tokens-details, the
// simulator's responses have no prompt_tokens_details. reasoning_tokens is
// 0: the simulator generates no reasoning.
type batchUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type requestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// view renders the batch; call with the store's mutex held.
func (b *batchJob) view() batchView {
	ts := func(t int64) *int64 {
		if t == 0 {
			return nil
		}
		return &t
	}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	v := batchView{ID: b.id, Object: "batch", Endpoint: b.endpoint, Model: str(b.model), InputFileID: b.inputFileID,
		CompletionWindow: b.window, Status: b.status, OutputFileID: str(b.outputFileID), ErrorFileID: str(b.errorFileID),
		CreatedAt: b.createdAt, InProgressAt: ts(b.inProgressAt), ExpiresAt: ts(b.expiresAt.Unix()),
		FinalizingAt: ts(b.finalizingAt), CompletedAt: ts(b.completedAt), FailedAt: ts(b.failedAt),
		ExpiredAt: ts(b.expiredAt), CancellingAt: ts(b.cancellingAt), CancelledAt: ts(b.cancelledAt),
		RequestCounts: requestCounts{b.total, b.completed, b.failed}, Metadata: b.metadata}
	if len(b.errors) > 0 {
		v.Errors = &batchErrors{Object: "list", Data: slices.Clone(b.errors)}
	}
	// OpenAI's reference does not say when usage appears; the simulator
	// shows it, zeros at first, from the moment the batch went in_progress
	// (it stays on through finalizing and the end, cancelled or expired
	// included), and null before and for a batch that never ran (failed
	// validation, or cancelled while validating).
	if b.inProgressAt != 0 {
		u := &batchUsage{InputTokens: b.usage.input, OutputTokens: b.usage.output,
			TotalTokens: b.usage.input + b.usage.output}
		u.InputTokensDetails.CachedTokens = b.usage.cached
		v.Usage = u
	}
	return v
}
