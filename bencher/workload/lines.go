package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes is the longest line a prompt or batch file may have (64 MiB,
// about 16 million tokens of English).
const MaxLineBytes = 64 << 20

// CharsPerToken is the number of bytes of text counted as one token when a
// prompt's length is estimated without a tokenizer; see [EstimateTokens].
const CharsPerToken = 4

// ErrNoRequests is returned (wrapped, after the file's name) for a file with
// no request in it.
var ErrNoRequests = errors.New("no requests")

// LineError is an error about one line of a file. Its message is
// "FILE:LINE: REASON", with lines counted from 1.
type LineError struct {
	File string
	Line int
	Err  error
}

var _ error = (*LineError)(nil)

// Error returns "FILE:LINE: REASON".
func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// EstimateTokens estimates the token count of text as its length in bytes
// divided by CharsPerToken, rounded up (0 for ""). The bencher's simulator
// counts tokens the same way. See the package documentation for how far off
// it is for real tokenizers.
func EstimateTokens(text string) int {
	return (len(text) + CharsPerToken - 1) / CharsPerToken
}

// eachLine calls fn with every line of r that is not blank, with its number
// (from 1) and without surrounding white space, and a UTF-8 byte order mark
// at the start of the file removed. Errors of fn come back as LineErrors of
// the file name; the line slice is only valid during the call.
func eachLine(r io.Reader, name string, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return &LineError{File: name, Line: n, Err: err}
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return &LineError{File: name, Line: n + 1, Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}
	case err != nil:
		return fmt.Errorf("%s: read: %w", name, err)
	}
	return nil
}

// decodeObject decodes a line that must be one JSON object into its fields.
func decodeObject(line []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(line, &m)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, fmt.Errorf("invalid JSON: %w", err)
	case err != nil || m == nil:
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// stringField decodes the string field key of m: ok is false when it is
// absent or null.
func stringField(m map[string]json.RawMessage, key string) (s string, ok bool, err error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%q is not a string", key)
	}
	return s, true, nil
}

// intField decodes the integer field key of m: ok is false when it is
// absent or null.
func intField(m map[string]json.RawMessage, key string) (n int, ok bool, err error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false, fmt.Errorf("%q is not an integer", key)
	}
	return n, true, nil
}
