// Package sse reads the server-sent-event (SSE) streams of OpenAI-compatible
// LLM servers such as vLLM, fast enough to sit on a load generator's hot path.
//
// It has two layers.
//
// [Reader] splits a byte stream into events and returns the data of each
// event: its "data:" lines joined with "\n". It follows the WHATWG
// event-stream rules:
//
//   - lines end with LF, CRLF or a lone CR, and may be split across reads of
//     the underlying [io.Reader] at any byte;
//   - lines that start with ":" are comments (keep-alives) and are ignored;
//   - one space after the field's colon is dropped ("data: x" and "data:x"
//     both give "x");
//   - fields other than "data" ("event", "id", "retry", unknown names) are
//     tolerated and ignored;
//   - a blank line ends an event; an event without data lines is skipped;
//   - a UTF-8 byte order mark at the start of the stream is dropped.
//
// [Decoder] reads events with a Reader and classifies each as an OpenAI
// streaming [Chunk]: the "[DONE]" marker, a chunk that carries generated output
// (completions choices[0].text, chat choices[0].delta.content, reasoning
// deltas in delta.reasoning_content or delta.reasoning, tool-call deltas), the
// chat role-only opening chunk (which is not a token), the usage-only final
// chunk (choices: [] with usage), and an error object sent after the server
// already answered HTTP 200 (nested {"error": {...}} or the older flat
// {"object": "error", ...} form). [Parse] does the same for one payload, for
// example a non-streamed error body.
//
// How a stream ends: Next returns [io.EOF] after the last complete event, also
// when the server never sent "[DONE]"; [ErrTruncated] when the stream ended in
// the middle of an event; the underlying reader's error, wrapped with %w, when
// the connection failed; and an error wrapping [ErrEventTooLarge] when an event
// is larger than the limit set by [WithMaxEventSize]. These errors are final:
// later calls return them again.
//
// Neither layer allocates per event in the steady state. The byte slices they
// return alias internal buffers and are valid only until the next call to
// Next (or Reset); copy what must be kept. Generated text is left JSON-escaped
// in a [Text] until the caller asks for it with [Text.AppendTo] or
// [Text.String].
//
// The Reader and the Decoder are not safe for concurrent use. They do not take
// a context: to cancel, close the underlying reader (for an HTTP response,
// cancel the request's context), and Next returns the resulting read error.
package sse
