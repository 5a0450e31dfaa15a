package sse

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed is wrapped by the errors of Parse and Decoder.Next for an event
// whose data is not a well-formed chunk. The message says what and where
// (a byte offset in the event's data). The stream itself can go on.
var ErrMalformed = errors.New("sse: malformed chunk")

// maxDepth bounds the nesting of JSON values, as encoding/json does.
const maxDepth = 10000

// parser is a minimal JSON scanner over one event's data. It checks the
// structure of everything (brackets, commas, colons, literals, numbers), and
// of strings only their extent: escapes are checked when a Text is decoded.
// It also holds what the chunk decoder found, so that the callbacks it calls
// are plain functions that capture nothing (and so allocate nothing).
type parser struct {
	b     []byte
	i     int
	depth int

	c         Chunk
	role      bool      // a non-empty delta.role
	reasoning [2]Text   // delta.reasoning_content, delta.reasoning
	flat      bool      // "object": "error" at the top level
	errObj    bool      // an "error" member that is an object or a string
	nested    apiFields // the fields of the "error" member
	top       apiFields // error fields at the top level (the flat form)
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), p.i)
}

// ws skips white space and returns the next byte, or 0 at the end.
func (p *parser) ws() byte {
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return c
		}
	}
	return 0
}

// unexpected describes the byte at the current position for an error.
func (p *parser) unexpected(want string) error {
	if p.i >= len(p.b) {
		return p.errorf("unexpected end of data, want %s", want)
	}
	return p.errorf("unexpected %q, want %s", p.b[p.i], want)
}

// str reads a string at the current position (after white space) and returns
// its body, still escaped. A plain loop beats bytes.IndexByte here: most
// strings in a chunk are short keys, where the call costs more than the scan.
func (p *parser) str() (Text, error) {
	if p.ws() != '"' {
		return nil, p.unexpected("string")
	}
	b := p.b
	start := p.i + 1
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '"':
			p.i = j + 1
			return b[start:j], nil
		case '\\':
			j++ // the escaped byte cannot end the string
		}
	}
	return nil, p.errorf("unterminated string")
}

// optStr reads a string or null; null gives nil.
func (p *parser) optStr() (Text, error) {
	if p.ws() == 'n' {
		return nil, p.lit("null")
	}
	return p.str()
}

// lit reads the literal word at the current position.
func (p *parser) lit(word string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return p.unexpected(word)
	}
	p.i += len(word)
	return nil
}

// number reads a JSON number and returns its text.
func (p *parser) number() ([]byte, error) {
	start := p.i
	b := p.b
	i := p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		p.i = i
		return nil, p.unexpected("digit")
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			p.i = i + 1
			return nil, p.unexpected("digit")
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			p.i = i
			return nil, p.unexpected("digit")
		}
		i = digits(b, i)
	}
	p.i = i
	return b[start:i], nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// count reads a token count: a non-negative integer, or null (0).
func (p *parser) count(name string) (int64, error) {
	switch c := p.ws(); {
	case c == 'n':
		return 0, p.lit("null")
	case !isDigit(c):
		return 0, p.errorf("%s is not a non-negative integer", name)
	}
	start := p.i
	num, err := p.number()
	if err != nil {
		return 0, err
	}
	var v int64
	for _, c := range num {
		d := int64(c - '0')
		if !isDigit(c) || v > (math.MaxInt64-d)/10 {
			p.i = start
			return 0, p.errorf("%s is not a non-negative integer", name)
		}
		v = v*10 + d
	}
	return v, nil
}

// skip reads and discards one value.
func (p *parser) skip() error {
	c := p.ws()
	switch c {
	case '"':
		_, err := p.str()
		return err
	case '{':
		return p.object(inSkipped)
	case '[':
		_, err := p.array(inSkipped)
		return err
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	}
	if c != '-' && !isDigit(c) {
		return p.unexpected("value")
	}
	_, err := p.number()
	return err
}

// scope says which part of a chunk a value is in, and so what reads its
// members or elements. (A switch rather than callbacks: a call through a func
// value would make the parser escape to the heap.)
type scope uint8

const (
	inSkipped scope = iota // a value nobody reads
	inTop                  // the chunk object
	inChoices              // the choices array
	inChoice               // choices[0]
	inDelta                // choices[0].delta
	inUsage                // usage
	inError                // the nested error object
)

// member reads the value of the member key of an object in scope s.
func (p *parser) member(s scope, key []byte) error {
	switch s {
	case inTop:
		return p.topMember(key)
	case inChoice:
		return p.choiceMember(key)
	case inDelta:
		return p.deltaMember(key)
	case inUsage:
		return p.usageMember(key)
	case inError:
		return p.errorField(&p.nested, key)
	}
	return p.skip()
}

// elem reads element i of an array in scope s.
func (p *parser) elem(s scope, i int) error {
	if s == inChoices && i == 0 {
		if p.ws() == 'n' {
			return p.lit("null")
		}
		return p.object(inChoice)
	}
	return p.skip()
}

// object reads an object of scope s, handing each member to p.member. Keys
// with escapes are decoded first.
func (p *parser) object(s scope) error {
	if p.ws() != '{' {
		return p.unexpected("object")
	}
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nesting too deep")
	}
	p.i++
	if p.ws() == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if bytes.IndexByte(key, '\\') >= 0 {
			key = key.AppendTo(nil) // rare: an escaped key
		}
		if p.ws() != ':' {
			return p.unexpected("':'")
		}
		p.i++
		if err := p.member(s, key); err != nil {
			return err
		}
		switch p.ws() {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return nil
		default:
			return p.unexpected("',' or '}'")
		}
	}
}

// array reads an array of scope s, handing each element to p.elem, and
// returns the number of elements.
func (p *parser) array(s scope) (int, error) {
	if p.ws() != '[' {
		return 0, p.unexpected("array")
	}
	if p.depth++; p.depth > maxDepth {
		return 0, p.errorf("nesting too deep")
	}
	p.i++
	if p.ws() == ']' {
		p.i++
		p.depth--
		return 0, nil
	}
	for n := 0; ; n++ {
		if err := p.elem(s, n); err != nil {
			return 0, err
		}
		switch p.ws() {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return n + 1, nil
		default:
			return 0, p.unexpected("',' or ']'")
		}
	}
}

// end checks that only white space follows the value.
func (p *parser) end() error {
	if p.ws() != 0 {
		return p.errorf("unexpected %q after the value", p.b[p.i])
	}
	return nil
}
