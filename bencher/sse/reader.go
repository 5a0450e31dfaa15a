package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Defaults of the Reader's options.
const (
	// DefaultMaxEventSize is the default limit on the size of one event; see
	// WithMaxEventSize.
	DefaultMaxEventSize = 8 << 20
	// DefaultBufferSize is the default initial size of the read buffer; see
	// WithBufferSize.
	DefaultBufferSize = 4096
)

// maxEmptyReads is how many (0, nil) reads in a row the Reader accepts before
// it gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// Errors returned by Reader.Next and Decoder.Next. Compare with errors.Is.
var (
	// ErrTruncated means that the stream ended in the middle of an event:
	// after some of its lines but before the blank line that ends it.
	ErrTruncated = errors.New("sse: stream ended in the middle of an event")
	// ErrEventTooLarge means that an event was larger than the limit set
	// with WithMaxEventSize. The returned error wraps it and names the limit.
	ErrEventTooLarge = errors.New("sse: event too large")
)

// utf8BOM is the byte order mark that may open a stream.
const utf8BOM = "\xEF\xBB\xBF"

// config holds the settings that options change.
type config struct {
	maxEvent int
	bufSize  int
}

// Option changes a setting of a Reader or a Decoder.
type Option func(*config)

// WithMaxEventSize limits the size of one event to n bytes, counted as the
// total length of the event's lines (field names included, line terminators
// and the closing blank line not). An event over the limit makes Next fail
// with an error wrapping ErrEventTooLarge, as soon as the excess is read, so
// the buffer never grows much beyond n. n <= 0 means DefaultMaxEventSize.
func WithMaxEventSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			n = DefaultMaxEventSize
		}
		c.maxEvent = n
	}
}

// WithBufferSize sets the initial size of the read buffer (it grows as events
// need, up to the event size limit). n <= 0 means DefaultBufferSize.
func WithBufferSize(n int) Option {
	return func(c *config) {
		if n <= 0 {
			n = DefaultBufferSize
		}
		c.bufSize = n
	}
}

// Reader reads server-sent events from an io.Reader and returns the data of
// each. See the package documentation for the rules it follows. Create one
// with NewReader; reuse it for another stream with Reset.
type Reader struct {
	src      io.Reader
	maxEvent int

	buf     []byte
	rpos    int   // start of unread bytes in buf
	wpos    int   // end of read bytes in buf
	scanned int   // bytes after rpos known to hold no CR or LF
	rerr    error // error from src, returned once buf holds no full line
	err     error // final error: every later Next returns it
	skipLF  bool  // last line ended with CR: drop one LF that follows
	started bool  // the first line (which may hold a BOM) was read

	// The event being read.
	data       []byte // data lines joined, when copied out of buf
	alias      []byte // the only data line so far, still in buf
	aliased    bool   // alias holds the data (data does not)
	hasData    bool   // at least one data line
	inEvent    bool   // at least one field line
	eventBytes int    // length of the event's lines so far
}

// NewReader returns a Reader that reads events from src.
func NewReader(src io.Reader, opts ...Option) *Reader {
	r := new(Reader)
	r.init(src, opts)
	return r
}

func (r *Reader) init(src io.Reader, opts []Option) {
	c := config{maxEvent: DefaultMaxEventSize, bufSize: DefaultBufferSize}
	for _, o := range opts {
		o(&c)
	}
	r.maxEvent = c.maxEvent
	r.buf = make([]byte, min(c.bufSize, c.maxEvent+1))
	r.Reset(src)
}

// Reset makes the Reader read a new stream from src, keeping its buffers and
// settings, so that a load generator can reuse one Reader per worker.
func (r *Reader) Reset(src io.Reader) {
	r.src = src
	r.rpos, r.wpos, r.scanned = 0, 0, 0
	r.rerr, r.err = nil, nil
	r.skipLF, r.started = false, false
	r.resetEvent()
}

func (r *Reader) resetEvent() {
	r.data = r.data[:0]
	r.alias, r.aliased = nil, false
	r.hasData, r.inEvent = false, false
	r.eventBytes = 0
}

// Next returns the data of the next event: the values of its "data" fields
// joined with "\n". It is never nil, but may be empty (for "data:" alone).
//
// The returned slice aliases the Reader's buffers: it is valid only until the
// next call to Next or Reset, and must not be modified. Copy it to keep it.
//
// At the end of the stream Next returns io.EOF, or ErrTruncated if the stream
// ended inside an event. A failed read returns the source's error wrapped
// (errors.Is finds it). An event over the size limit returns an error
// wrapping ErrEventTooLarge. All of these are final: later calls return the
// same error.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.resetEvent()
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, r.fail(err)
		}
		if len(line) > 0 {
			r.field(line)
			continue
		}
		if r.hasData {
			if r.aliased {
				return r.alias[:len(r.alias):len(r.alias)], nil
			}
			return r.data[:len(r.data):len(r.data)], nil
		}
		r.resetEvent() // a blank line after no data lines: no event
	}
}

// fail records err as the Reader's final error, turning an end of stream
// inside an event into ErrTruncated.
func (r *Reader) fail(err error) error {
	if err == io.EOF && (r.inEvent || r.hasData) {
		err = ErrTruncated
	}
	r.err = err
	r.resetEvent()
	return err
}

// field handles one non-blank line of an event.
func (r *Reader) field(line []byte) {
	if line[0] == ':' {
		return // comment
	}
	r.inEvent = true
	var value []byte
	if len(line) >= 5 && string(line[:5]) == "data:" {
		value = line[5:]
	} else {
		name := line
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
		}
		if string(name) != "data" {
			return // event, id, retry and unknown fields
		}
	}
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	r.appendData(value)
}

// appendData adds one data line to the event. The first is kept in place in
// the read buffer; a second one, or a buffer refill, copies it out.
func (r *Reader) appendData(value []byte) {
	if !r.hasData {
		r.hasData = true
		r.alias, r.aliased = value, true
		return
	}
	r.unalias()
	r.data = append(r.data, '\n')
	r.data = append(r.data, value...)
}

// unalias copies the event's data out of the read buffer before the buffer's
// bytes move.
func (r *Reader) unalias() {
	if r.aliased {
		r.data = append(r.data[:0], r.alias...)
		r.alias, r.aliased = nil, false
	}
}

// readLine returns the next line without its terminator. It aliases buf and
// is valid until the next fill.
func (r *Reader) readLine() ([]byte, error) {
	for {
		line, ok, err := r.scanLine()
		if ok || err != nil {
			return line, err
		}
		if err := r.fill(); err != nil {
			if err == io.EOF && r.wpos > r.rpos && r.isFieldStart(r.buf[r.rpos:r.wpos]) {
				r.inEvent = true // an unterminated field line
			}
			return nil, err
		}
	}
}

// isFieldStart reports whether an unterminated line would be a field (not a
// comment).
func (r *Reader) isFieldStart(partial []byte) bool {
	if !r.started {
		partial = bytes.TrimPrefix(partial, []byte(utf8BOM))
	}
	return len(partial) > 0 && partial[0] != ':'
}

// scanLine looks for a full line in buf. It reports ok=false when buf holds
// only part of one, and fails when that part is already over the limit.
func (r *Reader) scanLine() (line []byte, ok bool, err error) {
	if r.skipLF {
		if r.rpos == r.wpos {
			return nil, false, nil
		}
		r.skipLF = false
		if r.buf[r.rpos] == '\n' {
			r.rpos++
		}
	}
	from := r.rpos + r.scanned
	b := r.buf[from:r.wpos]
	end, next := lineEnd(b)
	if end < 0 {
		r.scanned = r.wpos - r.rpos
		if r.eventBytes+r.scanned > r.maxEvent {
			return nil, false, r.tooLarge()
		}
		return nil, false, nil
	}
	if next < 0 { // CR at the end of buf: an LF may follow in the next read
		r.skipLF = true
		next = end + 1
	}
	line = r.buf[r.rpos : from+end]
	r.rpos = from + next
	r.scanned = 0
	r.eventBytes += len(line)
	if r.eventBytes > r.maxEvent {
		return nil, false, r.tooLarge()
	}
	if !r.started {
		r.started = true
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	return line, true, nil
}

// lineEnd finds the first line terminator in b: end is the index where the
// line ends (-1 if none) and next the index after the terminator, or -1 when
// the terminator is a CR at the end of b.
func lineEnd(b []byte) (end, next int) {
	lf := bytes.IndexByte(b, '\n')
	var cr int
	if lf >= 0 {
		cr = bytes.IndexByte(b[:lf], '\r')
	} else {
		cr = bytes.IndexByte(b, '\r')
	}
	switch {
	case cr >= 0 && cr+1 == len(b):
		return cr, -1
	case cr >= 0 && b[cr+1] == '\n':
		return cr, cr + 2
	case cr >= 0:
		return cr, cr + 1
	case lf >= 0:
		return lf, lf + 1
	}
	return -1, -1
}

func (r *Reader) tooLarge() error {
	return fmt.Errorf("%w: limit is %d bytes", ErrEventTooLarge, r.maxEvent)
}

// fill reads more bytes into buf, making room first.
func (r *Reader) fill() error {
	if r.rerr != nil {
		return r.rerr
	}
	r.makeRoom()
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.wpos:])
		if n < 0 || n > len(r.buf)-r.wpos {
			r.rerr = fmt.Errorf("sse: read: invalid count %d from source", n)
			return r.rerr
		}
		r.wpos += n
		if err != nil {
			r.rerr = err
			if err != io.EOF {
				r.rerr = fmt.Errorf("sse: read: %w", err)
			}
			if n > 0 {
				return nil // handle the bytes first
			}
			return r.rerr
		}
		if n > 0 {
			return nil
		}
	}
	r.rerr = fmt.Errorf("sse: read: %w", io.ErrNoProgress)
	return r.rerr
}

// makeRoom makes space at the end of buf: it moves the unread bytes to the
// front, or grows buf (up to the event limit plus one byte, which is enough
// for any line that is within the limit to be found).
func (r *Reader) makeRoom() {
	if r.rpos == r.wpos && r.rpos > 0 {
		r.unalias()
		r.rpos, r.wpos = 0, 0
	}
	if r.wpos < len(r.buf) {
		return
	}
	if r.rpos > 0 {
		r.unalias()
		r.wpos = copy(r.buf, r.buf[r.rpos:r.wpos])
		r.rpos = 0
		return
	}
	size := min(max(2*len(r.buf), 512), r.maxEvent+1)
	if size <= len(r.buf) {
		size = len(r.buf) + 1 // unreachable while scanLine enforces the limit
	}
	buf := make([]byte, size)
	copy(buf, r.buf[:r.wpos])
	r.buf = buf // an alias into the old buffer stays valid
}
