package sim

import (
	"bytes"
	"testing"
)

// FuzzValidateInput: any input file gives a request or an error at least;
// every line named exists, and every request's raw line is that line of
// the file, trimmed.
func FuzzValidateInput(f *testing.F) {
	for _, seed := range []string{chatFile(2, 3), "", "\n\n", "{\n", chatLine("a", "x", 1) + "\n" + chatLine("a", "x", 1),
		`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"` + DefaultModel + `","stream":true}}`,
		`{"custom_id":1}`, `[]`, `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":[]}`} {
		f.Add([]byte(seed))
	}
	s := New(WithBatchLimits(BatchLimits{MaxRequests: 5}))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, errs := s.validateInput(&batchJob{endpoint: PathChatCompletions}, data)
		if len(items) == 0 && len(errs) == 0 {
			t.Fatalf("neither requests nor errors for %q", data)
		}
		if len(errs) > maxBatchErrors {
			t.Fatalf("%d errors, more than %d", len(errs), maxBatchErrors)
		}
		lines := bytes.Split(data, []byte{'\n'})
		for _, e := range errs {
			if e.Line != nil && (*e.Line < 1 || *e.Line > len(lines)) {
				t.Fatalf("error on line %d of %d: %+v", *e.Line, len(lines), e)
			}
		}
		if len(items) > 5 {
			t.Fatalf("%d requests, more than the limit of 5", len(items))
		}
		for _, it := range items {
			if !bytes.Equal(it.raw, bytes.TrimSpace(lines[it.line-1])) {
				t.Fatalf("request of line %d is %q, the line is %q", it.line, it.raw, lines[it.line-1])
			}
		}
	})
}
