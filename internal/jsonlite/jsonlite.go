// Package jsonlite reads and writes the little JSON that a cache hit needs:
// a cache entry of a few fields, KUBERNETES_EXEC_INFO, and the
// ExecCredential that answers kubectl.
//
// It exists for the hit path's start-up time, not for speed of parsing.
// encoding/json brings reflect, unicode and strconv's float tables into
// the program's initialization order, and Go initializes the hit path's
// packages only after all of that (see internal/fastpath); its first
// reflective Unmarshal also costs about half a millisecond. jsonlite
// imports only errors, strconv and unicode/utf8.
//
// It is held to encoding/json by fuzz tests: whatever Parse accepts,
// encoding/json accepts with the same values, and AppendString writes the
// bytes json.Marshal writes.
package jsonlite

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is one parsed JSON value.
type Value struct {
	Kind Kind
	// Str is a String's decoded text, or a Number's literal.
	Str     string
	Bool    bool
	Items   []Value  // an Array's elements
	Members []Member // an Object's members, in order, duplicates kept
}

// Member is one key and value of an object.
type Member struct {
	Key   string
	Value Value
}

// Get returns the member key of an object. When a key appears twice the
// last one wins, as in encoding/json.
func (v Value) Get(key string) (Value, bool) {
	for i := len(v.Members) - 1; i >= 0; i-- {
		if v.Members[i].Key == key {
			return v.Members[i].Value, true
		}
	}
	return Value{}, false
}

// String returns the text of the string member key, and whether the member
// exists and is a string.
func (v Value) String(key string) (string, bool) {
	m, ok := v.Get(key)
	if !ok || m.Kind != String {
		return "", false
	}
	return m.Str, true
}

// maxDepth bounds nesting. Entries nest two levels; a deeper document is
// not one of ours.
const maxDepth = 64

// Parse reads exactly one JSON value from b, with optional white space
// around it.
func Parse(b []byte) (Value, error) {
	p := parser{b: b}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.space()
	if p.i != len(p.b) {
		return Value{}, p.fail("data after the value")
	}
	return v, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) fail(what string) error {
	return errors.New("jsonlite: invalid JSON at offset " + strconv.Itoa(p.i) + ": " + what)
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, p.fail("nested too deep")
	}
	if p.i >= len(p.b) {
		return Value{}, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		return Value{Kind: String, Str: s}, err
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case p.literal("true"):
		return Value{Kind: Bool, Bool: true}, nil
	case p.literal("false"):
		return Value{Kind: Bool}, nil
	case p.literal("null"):
		return Value{Kind: Null}, nil
	}
	return Value{}, p.fail("unexpected character")
}

func (p *parser) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *parser) object(depth int) (Value, error) {
	v := Value{Kind: Object}
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return Value{}, p.fail("expected a key")
		}
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return Value{}, p.fail("expected ':'")
		}
		p.i++
		p.space()
		m, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		v.Members = append(v.Members, Member{Key: key, Value: m})
		p.space()
		if p.i >= len(p.b) {
			return Value{}, p.fail("unexpected end")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return v, nil
		default:
			return Value{}, p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (Value, error) {
	v := Value{Kind: Array}
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		item, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		v.Items = append(v.Items, item)
		p.space()
		if p.i >= len(p.b) {
			return Value{}, p.fail("unexpected end")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return v, nil
		default:
			return Value{}, p.fail("expected ',' or ']'")
		}
	}
}

// number checks the JSON number grammar and keeps the literal.
func (p *parser) number() (Value, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && '1' <= p.b[p.i] && p.b[p.i] <= '9':
		p.digits()
	default:
		return Value{}, p.fail("bad number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return Value{}, p.fail("bad number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return Value{}, p.fail("bad number")
		}
	}
	return Value{Kind: Number, Str: string(p.b[start:p.i])}, nil
}

func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// string decodes a string literal as encoding/json does: escapes resolved,
// each invalid UTF-8 byte and each unpaired surrogate escape replaced by
// U+FFFD.
func (p *parser) string() (string, error) {
	p.i++ // "
	start := p.i
	// The common case: nothing to decode.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < ' ':
			return "", p.fail("control character in string")
		case c == '\\':
			var err error
			if out, err = p.escape(out); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			out = utf8.AppendRune(out, r)
			p.i += size
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) escape(out []byte) ([]byte, error) {
	p.i++ // backslash
	if p.i >= len(p.b) {
		return nil, p.fail("unterminated string")
	}
	c := p.b[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		return append(out, c), nil
	case 'b':
		return append(out, '\b'), nil
	case 'f':
		return append(out, '\f'), nil
	case 'n':
		return append(out, '\n'), nil
	case 'r':
		return append(out, '\r'), nil
	case 't':
		return append(out, '\t'), nil
	case 'u':
	default:
		return nil, p.fail("bad escape")
	}
	r, ok := hex4(p.b[p.i:])
	if !ok {
		return nil, p.fail("bad \\u escape")
	}
	p.i += 4
	if 0xd800 <= r && r < 0xe000 {
		// A high surrogate followed by an escaped low one is one rune;
		// anything else is U+FFFD, and what follows is read on its own.
		if r < 0xdc00 && p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
			if r2, ok := hex4(p.b[p.i+2:]); ok && 0xdc00 <= r2 && r2 < 0xe000 {
				p.i += 6
				return utf8.AppendRune(out, 0x10000+(r-0xd800)<<10|(r2-0xdc00)), nil
			}
		}
		r = utf8.RuneError
	}
	return utf8.AppendRune(out, r), nil
}

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

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string exactly as json.Marshal writes it:
// HTML-safe (<, >, & escaped), U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
