// Package yamledit edits YAML and JSON documents by splicing, so that
// everything outside an edit stays byte for byte: comments, key order,
// quoting, indentation and line endings.
//
// A document is parsed with yaml.v3 only to learn where things are (every
// node carries its line and column); Doc maps nodes to byte spans, and an
// Edit replaces exactly one span. What this package guarantees is that
// bytes outside the edits are copied unchanged (Apply), that a span is
// the whole text of its node or an error (End), and that new text reads
// back as the value asked for (Scalar, the Emitter). Whether the result
// means what was intended is the caller's to check: callers parse every
// result again and compare it with the tree they meant before they use
// it, so that a splice that went wrong is an error, never a damaged file.
// Layouts that cannot be edited without touching something else
// (anchors, aliases, tags, comments inside a flow list) are refused with
// an error that wraps ErrInPlace.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ErrInPlace is returned (wrapped) when an edit cannot be spliced into the
// document without changing something else. Nothing is returned but the
// error.
var ErrInPlace = errors.New("cannot edit this kubeconfig in place")

// ParseError is a document that cannot be parsed, or does not have the
// shape its caller wants. Line is 1-based.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Doc is a parsed document with what is needed to map nodes to bytes.
type Doc struct {
	Src   []byte
	Root  *yaml.Node // the top-level node; nil for an empty document or null
	NL    string     // the document's line ending: "\n" or "\r\n"
	lines []int      // byte offset where each line starts (index 0 is line 1)
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// Parse parses the positions of src's nodes. An empty document (no bytes,
// only whitespace or comments, or an explicit null) gives a nil Root.
// Errors are *ParseError.
func Parse(src []byte) (*Doc, error) {
	d := &Doc{Src: src, lines: lineStarts(src), NL: "\n"}
	if bytes.Contains(src, []byte("\r\n")) {
		d.NL = "\r\n"
	}
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return nil, yamlError(src, err)
	}
	if n.Kind == 0 || len(n.Content) == 0 {
		return d, nil
	}
	if root := n.Content[0]; !IsNull(root) {
		d.Root = root
	}
	return d, nil
}

// Check decodes the whole tree, which catches what the node parser lets
// through, such as a key defined twice.
func (d *Doc) Check() error {
	if d.Root == nil {
		return nil
	}
	var v any
	if err := d.Root.Decode(&v); err != nil {
		return yamlError(d.Src, err)
	}
	return nil
}

// yamlError turns a yaml.v3 error into a ParseError that always names a
// line: yaml.v3 names one for syntax errors but not for bad bytes.
func yamlError(src []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ParseError{Line: line, Msg: strings.TrimSpace(m[2])}
	}
	return &ParseError{Line: badByteLine(src), Msg: msg}
}

// badByteLine is the line of the first byte YAML does not accept (a control
// character or invalid UTF-8), or 1.
func badByteLine(src []byte) int {
	line := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 1
}

// KindName names what n is, for error messages.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "null"
		}
		return fmt.Sprintf("the scalar %q", truncate(n.Value, 40))
	}
	return "empty"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// TopLevelSection is the byte range of the entry key of a block-style
// top-level mapping, from the start of the key's line to the start of the
// next top-level key's line (or the end of the document), when both keys
// start their lines. ok is false otherwise.
func (d *Doc) TopLevelSection(key string) (lo, hi int, ok bool) {
	m := d.Root
	if m == nil || m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 {
		return 0, 0, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value != key {
			continue
		}
		if k.Column != 1 || k.Line < 1 || k.Line > len(d.lines) {
			return 0, 0, false
		}
		lo, hi = d.lines[k.Line-1], len(d.Src)
		if i+2 < len(m.Content) {
			next := m.Content[i+2]
			if next.Column != 1 || next.Line <= k.Line || next.Line > len(d.lines) {
				return 0, 0, false
			}
			hi = d.lines[next.Line-1]
		}
		return lo, hi, true
	}
	return 0, 0, false
}

// IsNull reports whether n is a null scalar ("", "~", "null").
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// MapGet returns the key and value nodes of key in mapping m, or nils.
// Of a key given twice, the last counts, as yaml.v3 decodes it.
func MapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			k, v = m.Content[i], m.Content[i+1]
		}
	}
	return k, v
}

// ScalarValue is the value of key in mapping m when it is a scalar other
// than null.
func ScalarValue(m *yaml.Node, key string) (string, bool) {
	_, v := MapGet(m, key)
	if v == nil || v.Kind != yaml.ScalarNode || IsNull(v) {
		return "", false
	}
	return v.Value, true
}

// off is the byte offset of a node position (1-based line, 1-based column
// counted in characters, as yaml.v3 counts them).
func (d *Doc) off(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(d.lines) {
		return len(d.Src)
	}
	i := d.lines[line-1]
	if line == 1 && bytes.HasPrefix(d.Src, []byte("\xef\xbb\xbf")) {
		i += 3
	}
	for c := 1; c < col && i < len(d.Src) && d.Src[i] != '\n'; c++ {
		_, size := utf8.DecodeRune(d.Src[i:])
		i += size
	}
	return i
}

// Start is the byte offset where the text of n starts (its anchor or tag,
// if any).
func (d *Doc) Start(n *yaml.Node) int { return d.off(n.Line, n.Column) }

// LineOf is the 1-based line of byte offset i.
func (d *Doc) LineOf(i int) int {
	return sort.Search(len(d.lines), func(l int) bool { return d.lines[l] > i })
}

// EOL is the offset of the line ending at or after i (of the '\r' of a
// "\r\n"), or len(Src).
func (d *Doc) EOL(i int) int {
	j := bytes.IndexByte(d.Src[i:], '\n')
	if j < 0 {
		return len(d.Src)
	}
	j += i
	if j > 0 && d.Src[j-1] == '\r' {
		j--
	}
	return j
}

// IndentOf is the number of leading spaces of the line holding offset i.
func (d *Doc) IndentOf(i int) int {
	ls := d.lines[d.LineOf(i)-1]
	n := 0
	for ls+n < len(d.Src) && d.Src[ls+n] == ' ' {
		n++
	}
	return n
}

// SpanError is a node whose text cannot be edited in place. It wraps
// ErrInPlace.
type SpanError struct {
	Line int
	Msg  string
}

func (e *SpanError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func (e *SpanError) Unwrap() error { return ErrInPlace }

// CheckPlain refuses nodes whose text does not start at their value:
// anchors, aliases and explicit tags. They are rare in kubeconfigs and
// editing around them could change other entries.
func CheckPlain(n *yaml.Node) error {
	switch {
	case n.Anchor != "":
		return &SpanError{n.Line, "anchors (&" + n.Anchor + ") are not supported in an entry ekstoken edits"}
	case n.Kind == yaml.AliasNode:
		return &SpanError{n.Line, "aliases (*" + n.Value + ") are not supported in an entry ekstoken edits"}
	case n.Style&yaml.TaggedStyle != 0:
		return &SpanError{n.Line, "explicit tags (" + n.Tag + ") are not supported in an entry ekstoken edits"}
	}
	return nil
}

// End is the offset just past the text of node n. indent is the
// indentation of the block that owns n (the column of its key or dash,
// 0-based), which bounds a block scalar.
func (d *Doc) End(n *yaml.Node, indent int) (int, error) {
	start := d.valueStart(n)
	switch n.Kind {
	case yaml.AliasNode:
		return start + 1 + len(n.Value), nil
	case yaml.ScalarNode:
		return d.scalarEnd(n, start, indent)
	case yaml.MappingNode, yaml.SequenceNode:
		var last int
		switch {
		case len(n.Content) == 0:
			if n.Style&yaml.FlowStyle == 0 {
				return 0, &SpanError{n.Line, "empty block collection"}
			}
			last = start + 1
		case n.Kind == yaml.MappingNode:
			k, v := n.Content[len(n.Content)-2], n.Content[len(n.Content)-1]
			e, err := d.End(v, k.Column-1)
			if err != nil {
				return 0, err
			}
			if e == d.Start(v) && IsNull(v) && v.Value == "" {
				// "key:" with nothing after it: end after the colon.
				if e, err = d.AfterColon(k); err != nil {
					return 0, err
				}
			}
			last = e
		default:
			e, err := d.End(n.Content[len(n.Content)-1], n.Column-1)
			if err != nil {
				return 0, err
			}
			last = e
		}
		if n.Style&yaml.FlowStyle == 0 {
			return last, nil
		}
		return d.closeBracket(last, n)
	}
	return 0, &SpanError{n.Line, "unexpected node"}
}

// valueStart is where the text of n starts after its anchor and tag.
func (d *Doc) valueStart(n *yaml.Node) int {
	i := d.Start(n)
	if n.Anchor == "" && n.Style&yaml.TaggedStyle == 0 {
		return i
	}
	for i < len(d.Src) && (d.Src[i] == '&' || d.Src[i] == '!') {
		for i < len(d.Src) && !isSpace(d.Src[i]) {
			i++
		}
		for i < len(d.Src) && (d.Src[i] == ' ' || d.Src[i] == '\t') {
			i++
		}
	}
	return i
}

// closeBracket finds the ']' or '}' that closes flow collection n after
// offset i, skipping whitespace, commas and comments.
func (d *Doc) closeBracket(i int, n *yaml.Node) (int, error) {
	want := byte(']')
	if n.Kind == yaml.MappingNode {
		want = '}'
	}
	for i < len(d.Src) {
		switch c := d.Src[i]; c {
		case want:
			return i + 1, nil
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '#':
			i = d.EOL(i)
		default:
			return 0, &SpanError{d.LineOf(i), fmt.Sprintf("expected %q closing the collection at line %d", want, n.Line)}
		}
	}
	return 0, &SpanError{n.Line, "unclosed flow collection"}
}

// AfterColon is the offset just past the ':' that follows key k.
func (d *Doc) AfterColon(k *yaml.Node) (int, error) {
	e, err := d.End(k, 0)
	if err != nil {
		return 0, err
	}
	for e < len(d.Src) && (d.Src[e] == ' ' || d.Src[e] == '\t') {
		e++
	}
	if e >= len(d.Src) || d.Src[e] != ':' {
		return 0, &SpanError{k.Line, "cannot find the ':' after key " + strconv.Quote(k.Value)}
	}
	return e + 1, nil
}

// ValueEnd is End of value v of key k, except that an empty value ("key:"
// and nothing) ends after the colon.
func (d *Doc) ValueEnd(k, v *yaml.Node) (int, error) {
	e, err := d.End(v, k.Column-1)
	if err != nil {
		return 0, err
	}
	if IsNull(v) && v.Value == "" {
		return d.AfterColon(k)
	}
	return e, nil
}

func (d *Doc) scalarEnd(n *yaml.Node, start, indent int) (int, error) {
	src := d.Src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		last := d.EOL(start)
		first := -1
		for l := d.LineOf(start) + 1; l <= len(d.lines); l++ {
			ls := d.lines[l-1]
			le := d.EOL(ls)
			text := src[ls:le]
			if len(bytes.TrimSpace(text)) == 0 {
				continue
			}
			ind := len(text) - len(bytes.TrimLeft(text, " "))
			if first < 0 {
				if ind <= indent {
					break
				}
				first = ind
			} else if ind < first {
				break
			}
			last = le
		}
		return last, nil
	default:
		if n.Value == "" && IsNull(n) {
			return start, nil
		}
		// A plain scalar is its value, except that line breaks inside it
		// (with the indentation around them) fold into spaces.
		i, j := start, 0
		v := n.Value
		for j < len(v) && i < len(src) {
			switch {
			case src[i] == v[j]:
				i++
				j++
			case isSpace(src[i]):
				for i < len(src) && isSpace(src[i]) {
					i++
				}
				for j < len(v) && (v[j] == ' ' || v[j] == '\n') {
					j++
				}
			default:
				return 0, &SpanError{n.Line, "cannot locate the text of " + strconv.Quote(truncate(v, 40))}
			}
		}
		if j == len(v) {
			return i, nil
		}
	}
	return 0, &SpanError{n.Line, "unterminated scalar"}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
