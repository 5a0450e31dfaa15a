package labelstudio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/bencher/labelstudio/labelstudiotest"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
	"github.com/benchstation/benchstation/internal/testkit/hostile"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

const (
	testToken = "ls-legacy-9f3Kq2Lm8Zx7Wv4T"
	// testPAT looks like a personal access token (a JWT).
	testPAT = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJlLXBhdC03WnE0"
)

// manyTasks returns n valid rating tasks.
func manyTasks(n int) []Task {
	out := make([]Task, n)
	for i := range out {
		a := fmt.Sprintf("answer %d", i)
		out[i] = Task{Data: Data{Request: fmt.Sprint(i), Prompt: fmt.Sprintf("prompt %d", i), Answer: &a},
			Meta: Meta{RunMeta: &RunMeta{RunID: "r", RequestIndex: i, RequestID: fmt.Sprint(i)}}, Predictions: []Prediction{}}
	}
	return out
}

// noSleep records the waits instead of waiting.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noSleep) sleep(_ context.Context, d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waits = append(n.waits, d)
	return nil
}

// newTestClient returns a client of srv with token, no real waits, and a
// log of everything it reported.
func newTestClient(t *testing.T, url, token string, opts ...Option) (*Client, *noSleep, *strings.Builder) {
	t.Helper()
	ns := &noSleep{}
	var log strings.Builder
	var mu sync.Mutex
	opts = append([]Option{withSleep(ns.sleep), WithNotify(func(s string) {
		mu.Lock()
		defer mu.Unlock()
		log.WriteString(s + "\n")
	})}, opts...)
	c, err := New(url, secret.New(token), opts...)
	require.NoError(t, err)
	return c, ns, &log
}

// noLeak fails when any of texts holds the token.
func noLeak(t *testing.T, where string, texts ...string) {
	t.Helper()
	hostile.NoLeaks(t, where, strings.Join(texts, "\n"), testToken, testPAT, "access-"+strings.Repeat("x", 24))
}

func TestImportSendsBatchesWithTheToken(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, ns, log := newTestClient(t, srv.URL, testToken, WithBatchSize(4))
	tasks := manyTasks(10)
	var progress []int
	res, err := c.Import(context.Background(), 1, tasks, func(done, total int) {
		assert.Equal(t, 10, total)
		progress = append(progress, done)
	})
	require.NoError(t, err)
	assert.Equal(t, ImportResult{Tasks: 10, Batches: 3}, res)
	assert.Equal(t, []int{4, 8, 10}, progress)
	assert.Equal(t, []int{4, 4, 2}, srv.BatchSizes(), "batch sizes")
	assert.Equal(t, []string{"POST /api/projects/1/import", "POST /api/projects/1/import", "POST /api/projects/1/import"}, srv.Requests())
	// The body is the tasks as encoded, in order.
	var got []Task
	for _, im := range srv.Imports() {
		for _, raw := range im.Tasks {
			var task Task
			require.NoError(t, json.Unmarshal(raw, &task))
			got = append(got, task)
		}
	}
	assert.Equal(t, tasks, got)
	assert.Empty(t, ns.waits, "no retry")
	assert.Empty(t, log.String())
}

func TestImportRejectedTaskIsNamed(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, _, _ := newTestClient(t, srv.URL, testToken, WithBatchSize(4))
	tasks := manyTasks(10)
	tasks[6].Data.Answer = nil // malformed: the project's config uses $answer
	tasks[6].Data.Request = "req-six"
	res, err := c.Import(context.Background(), 1, tasks, nil)
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusBadRequest, re.Status)
	assert.Equal(t, 6, re.Task, "the first rejected task, in the whole list")
	assert.Equal(t, "req-six", re.Request)
	assert.Equal(t, 4, re.First)
	assert.Equal(t, 7, re.Last)
	assert.Equal(t, 4, re.Imported)
	assert.Equal(t, ImportResult{Tasks: 4, Batches: 1}, res, "the first batch was imported")
	assert.Contains(t, err.Error(), "task 6 (request req-six")
	assert.Contains(t, err.Error(), `"answer" is used in the labeling config`)
	assert.Equal(t, []int{4, 4}, srv.BatchSizes(), "nothing is sent after a rejected batch")
}

func TestImportBadToken(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	wrong := "ls-wrong-token-Yh28sKq0"
	c, ns, log := newTestClient(t, srv.URL, wrong)
	_, err := c.Import(context.Background(), 1, manyTasks(2), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Label Studio refused the token (HTTP 401")
	assert.Contains(t, err.Error(), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN", "it says what to check")
	assert.Empty(t, ns.waits, "a refused token is not retried")
	// The server echoed the wrong token: the error does not show it.
	hostile.NoLeaks(t, "the error", err.Error()+log.String(), wrong)
	assert.Contains(t, err.Error(), secret.Redacted)
}

func TestImportRetriesA5xxOnce(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, ns, log := newTestClient(t, srv.URL, testToken, WithBatchSize(5))
	srv.FailNext(http.StatusInternalServerError)
	res, err := c.Import(context.Background(), 1, manyTasks(10), nil)
	require.NoError(t, err)
	assert.Equal(t, ImportResult{Tasks: 10, Batches: 2}, res)
	assert.Equal(t, []time.Duration{DefaultBackoff}, ns.waits)
	assert.Equal(t, []int{5, 5}, srv.BatchSizes(), "the failed attempt imported nothing; the batch was sent again")
	assert.Len(t, srv.Requests(), 3)
	assert.Contains(t, log.String(), "HTTP 500")
	assert.Contains(t, log.String(), "retrying in 500ms")
	// The 500 echoed the Authorization header.
	noLeak(t, "the retry notice", log.String())
	assert.Contains(t, log.String(), secret.Redacted)
}

func TestImportRetries429WithRetryAfterAndGivesUp(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, ns, log := newTestClient(t, srv.URL, testToken, WithRetries(2, time.Second, 4*time.Second))
	srv.FailNext(http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable)
	_, err := c.Import(context.Background(), 1, manyTasks(1), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 3 attempts")
	assert.Contains(t, err.Error(), "HTTP 503")
	assert.Equal(t, []time.Duration{0, 2 * time.Second}, ns.waits, "Retry-After: 0, then the doubled backoff")
	noLeak(t, "the error and notices", err.Error(), log.String())
}

func TestImportRetriesAFailedConnection(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	down := "http://127.0.0.1:1" // nothing listens on port 1
	c, ns, _ := newTestClient(t, down, testToken, WithRetries(1, time.Millisecond, time.Millisecond))
	_, err := c.Import(context.Background(), 1, manyTasks(1), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 2 attempts")
	assert.Len(t, ns.waits, 1)
	_ = srv
}

func TestImportPersonalAccessToken(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, "", testPAT)
	c, _, log := newTestClient(t, srv.URL, testPAT, WithBatchSize(1))
	res, err := c.Import(context.Background(), 1, manyTasks(2), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Tasks)
	assert.Equal(t, []string{"POST /api/token/refresh/", "POST /api/projects/1/import", "POST /api/projects/1/import"},
		srv.Requests(), "the PAT is traded once for an access token")
	noLeak(t, "notices", log.String())

	bad, _, _ := newTestClient(t, srv.URL, strings.Replace(testPAT, "c2ln", "eHh4", 1))
	_, err = bad.Import(context.Background(), 1, manyTasks(1), nil)
	assert.ErrorContains(t, err, "refused the personal access token")
}

func TestCreateProject(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, _, _ := newTestClient(t, srv.URL+"/", testToken)
	p, err := c.CreateProject(context.Background(), "Qwen answers", "from run X", lsconfig.Rating)
	require.NoError(t, err)
	assert.Equal(t, Project{ID: 3, Title: "Qwen answers", URL: srv.URL + "/projects/3/data"}, p)
	created := srv.Created()
	require.Len(t, created, 1)
	assert.Equal(t, lsconfig.Rating, created[0].LabelConfig)
	assert.Equal(t, "from run X", created[0].Description)
	assert.Equal(t, []string{"POST /api/projects/"}, srv.Requests())
	// The new project takes the tasks its config fits.
	tasks, _, err := Build(docsOf(runA()), Options{})
	require.NoError(t, err)
	_, err = c.Import(context.Background(), p.ID, tasks, nil)
	require.NoError(t, err)

	_, err = c.CreateProject(context.Background(), "bad", "", "not xml")
	assert.ErrorContains(t, err, "refused it (HTTP 400)")
	_, err = c.Import(context.Background(), 99, tasks, nil)
	assert.ErrorContains(t, err, "HTTP 404")
}

func TestPairwiseProjectTakesPairwiseTasks(t *testing.T) {
	t.Parallel()
	srv := labelstudiotest.New(t, testToken, "")
	c, _, _ := newTestClient(t, srv.URL, testToken)
	p, err := c.CreateProject(context.Background(), "A vs B", "", lsconfig.Pairwise)
	require.NoError(t, err)
	tasks, _, err := Build(docsOf(runA(), runB()), Options{IncludeFailed: true})
	require.NoError(t, err)
	_, err = c.Import(context.Background(), p.ID, tasks, nil)
	require.NoError(t, err)
	// Rating tasks lack $answer_a: the pairwise project refuses them.
	one, _, err := Build(docsOf(runA()), Options{})
	require.NoError(t, err)
	_, err = c.Import(context.Background(), p.ID, one, nil)
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 0, re.Task)
}

// The token goes to Label Studio's origin only: a redirect elsewhere is
// refused and the sinks see nothing; no error shows the token.
func TestSecretLabelStudioTokenStaysWithItsOrigin(t *testing.T) {
	t.Parallel()
	for _, mode := range hostile.Modes() {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			srv := hostile.New(t)
			srv.SetMode(mode)
			c, _, log := newTestClient(t, srv.URL, testToken, WithRetries(1, time.Millisecond, time.Millisecond))
			_, err := c.Import(context.Background(), 1, manyTasks(1), nil)
			_, perr := c.CreateProject(context.Background(), "t", "", lsconfig.Rating)
			text := fmt.Sprint(err) + "\n" + fmt.Sprint(perr) + "\n" + log.String()
			noLeak(t, "errors and notices", text)
			for _, sink := range []*hostile.Sink{srv.Sink, srv.TLSSink} {
				assert.Empty(t, sink.Requests(), "a request reached another origin")
			}
			switch mode {
			case hostile.RedirectPort, hostile.RedirectHost, hostile.RedirectScheme:
				var rerr *secret.RedirectError
				assert.True(t, errors.As(err, &rerr), "want a refused redirect, got %v", err)
			case hostile.EchoOK:
			default:
				assert.Error(t, err)
			}
			for _, r := range srv.Requests() {
				assert.Equal(t, "Token "+testToken, r.Header.Get("Authorization"), "the token is sent to its own origin")
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, token, want string }{
		{"", testToken, "no Label Studio URL"},
		{"ftp://ls", testToken, "http:// or https://"},
		{"http://user:" + testToken + "@ls:8080", testToken, "must not hold credentials"},
		{"http://ls:8080?token=" + testToken, testToken, "query"},
		{"http://ls:8080", "", "no Label Studio token"},
		{"http://ls:8080", "two words", "spaces"},
	} {
		_, err := New(tc.url, secret.New(tc.token))
		if assert.Error(t, err, tc.url) {
			assert.Contains(t, err.Error(), tc.want)
			noLeak(t, "the error", err.Error())
		}
	}
}

func TestIsPersonalAccessToken(t *testing.T) {
	t.Parallel()
	assert.True(t, IsPersonalAccessToken(testPAT))
	assert.False(t, IsPersonalAccessToken(testToken))
	assert.False(t, IsPersonalAccessToken("a.b.c"))
}

func docsOf(d ...*results.Document) []*results.Document { return d }
