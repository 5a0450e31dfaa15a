package sse

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Text is the body of a JSON string as it appears in a chunk: between the
// quotes, still escaped. Keeping it escaped costs nothing; decode it only
// when the text is wanted, with AppendTo or String. Its length is zero exactly
// when the decoded text is empty.
//
// A Text taken from a Chunk aliases the reader's buffer and is valid only
// until the next call to Next.
type Text []byte

// AppendTo appends the decoded text to dst and returns the extended slice,
// decoding escapes as encoding/json does: surrogate pairs are joined, and
// lone surrogates and invalid UTF-8 become U+FFFD. It allocates only when dst
// has to grow.
func (t Text) AppendTo(dst []byte) []byte {
	if bytes.IndexByte(t, '\\') < 0 && utf8.Valid(t) {
		return append(dst, t...)
	}
	for i := 0; i < len(t); {
		r, raw, n := t.next(i)
		if raw != nil {
			dst = append(dst, raw...)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
		i += n
	}
	return dst
}

// String returns the decoded text as a new string.
func (t Text) String() string {
	if bytes.IndexByte(t, '\\') < 0 && utf8.Valid(t) {
		return string(t)
	}
	return string(t.AppendTo(make([]byte, 0, len(t))))
}

// Len returns the length in bytes of the decoded text, without allocating.
func (t Text) Len() int {
	if bytes.IndexByte(t, '\\') < 0 && utf8.Valid(t) {
		return len(t)
	}
	size := 0
	for i := 0; i < len(t); {
		r, raw, n := t.next(i)
		if raw != nil {
			size += len(raw)
		} else {
			size += utf8.RuneLen(r)
		}
		i += n
	}
	return size
}

// next decodes the unit of t at i: either a rune r (raw == nil) or bytes to
// copy unchanged. n is the number of bytes of t it used.
func (t Text) next(i int) (r rune, raw []byte, n int) {
	c := t[i]
	if c < utf8.RuneSelf && c != '\\' {
		return 0, t[i : i+1], 1
	}
	if c != '\\' {
		r, n = utf8.DecodeRune(t[i:])
		if r == utf8.RuneError && n == 1 {
			return utf8.RuneError, nil, 1
		}
		return 0, t[i : i+n], n
	}
	if i+1 >= len(t) {
		return 0, t[i:], 1 // a lone backslash: invalid JSON, kept as is
	}
	switch e := t[i+1]; e {
	case '"', '\\', '/':
		return 0, t[i+1 : i+2], 2
	case 'b':
		return '\b', nil, 2
	case 'f':
		return '\f', nil, 2
	case 'n':
		return '\n', nil, 2
	case 'r':
		return '\r', nil, 2
	case 't':
		return '\t', nil, 2
	case 'u':
		return t.unicodeEscape(i)
	}
	return 0, t[i : i+2], 2 // an unknown escape: invalid JSON, kept as is
}

// unicodeEscape decodes \uXXXX at i, joining a surrogate pair.
func (t Text) unicodeEscape(i int) (r rune, raw []byte, n int) {
	r1, ok := hex4(t[i+2:])
	if !ok {
		return 0, t[i : i+2], 2 // invalid JSON, kept as is
	}
	if !utf16.IsSurrogate(r1) {
		return r1, nil, 6
	}
	if len(t) >= i+12 && t[i+6] == '\\' && t[i+7] == 'u' {
		if r2, ok := hex4(t[i+8:]); ok {
			if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
				return dec, nil, 12
			}
		}
	}
	return utf8.RuneError, nil, 6
}

// hex4 parses four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
