// Package kubeconfig edits kubeconfig files for `ekstoken setup` and
// `ekstoken update-kubeconfig` without disturbing what it does not own.
//
// Edits are splices: the file is parsed with yaml.v3 only to learn where
// things are (every node carries its line and column), and new text replaces
// exactly the byte ranges that change. Comments, key order, quoting and
// indentation everywhere else stay byte for byte. Every result is parsed
// again and compared with the intended tree before it is returned, so a
// splice that went wrong is an error, never a damaged kubeconfig.
package kubeconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ParseError is a kubeconfig that cannot be parsed or does not have the
// shape of a kubeconfig. Line is 1-based. Callers add the file path:
// fmt.Errorf("%s: %w", path, err).
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// doc is a parsed kubeconfig with what is needed to map nodes to bytes.
type doc struct {
	src   []byte
	root  *yaml.Node // the top-level mapping; nil for an empty document
	lines []int      // byte offset where each line starts (index 0 is line 1)
	nl    string     // the file's line ending: "\n" or "\r\n"
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// parse parses src. An empty document (no bytes, only whitespace or
// comments, or an explicit null) gives a doc with a nil root.
func parse(src []byte) (*doc, error) {
	d := &doc{src: src, lines: lineStarts(src), nl: "\n"}
	if bytes.Contains(src, []byte("\r\n")) {
		d.nl = "\r\n"
	}
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return nil, yamlError(src, err)
	}
	if n.Kind == 0 || len(n.Content) == 0 {
		return d, nil
	}
	root := n.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return d, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Line: root.Line, Msg: fmt.Sprintf("a kubeconfig is a mapping (apiVersion, clusters, contexts, users...), this document is %s", kindName(root))}
	}
	// Decoding the whole tree catches what the node parser lets through,
	// such as a key defined twice.
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, yamlError(src, err)
	}
	d.root = root
	for _, key := range []string{"clusters", "contexts", "users"} {
		_, seq := mapGet(root, key)
		if seq == nil || isNull(seq) {
			continue
		}
		if seq.Kind != yaml.SequenceNode {
			return nil, &ParseError{Line: seq.Line, Msg: fmt.Sprintf("%s must be a list, found %s", key, kindName(seq))}
		}
		for _, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				return nil, &ParseError{Line: item.Line, Msg: fmt.Sprintf("each entry of %s must be a mapping with a name, found %s", key, kindName(item))}
			}
			if _, name := mapGet(item, "name"); name != nil && name.Kind != yaml.ScalarNode {
				return nil, &ParseError{Line: name.Line, Msg: fmt.Sprintf("the name of an entry of %s must be a string, found %s", key, kindName(name))}
			}
		}
	}
	return d, nil
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

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
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

// topLevelSection is the byte range of the top-level entry key of a
// block-style kubeconfig, from the start of the key's line to the start of
// the next top-level key's line (or the end of the file), when both keys
// start their lines. ok is false otherwise.
func (d *doc) topLevelSection(key string) (lo, hi int, ok bool) {
	m := d.root
	if m == nil || m.Style&yaml.FlowStyle != 0 {
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
		lo, hi = d.lines[k.Line-1], len(d.src)
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

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// mapGet returns the key and value nodes of key in mapping m, or nils.
func mapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
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

func scalarValue(m *yaml.Node, key string) (string, bool) {
	_, v := mapGet(m, key)
	if v == nil || v.Kind != yaml.ScalarNode || isNull(v) {
		return "", false
	}
	return v.Value, true
}

// off is the byte offset of a node position (1-based line, 1-based column
// counted in characters, as yaml.v3 counts them).
func (d *doc) off(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(d.lines) {
		return len(d.src)
	}
	i := d.lines[line-1]
	if line == 1 && bytes.HasPrefix(d.src, []byte("\xef\xbb\xbf")) {
		i += 3
	}
	for c := 1; c < col && i < len(d.src) && d.src[i] != '\n'; c++ {
		_, size := utf8.DecodeRune(d.src[i:])
		i += size
	}
	return i
}

func (d *doc) start(n *yaml.Node) int { return d.off(n.Line, n.Column) }

// lineOf is the 1-based line of byte offset i.
func (d *doc) lineOf(i int) int {
	return sort.Search(len(d.lines), func(l int) bool { return d.lines[l] > i })
}

// eol is the offset of the line ending at or after i (of the '\r' of a
// "\r\n"), or len(src).
func (d *doc) eol(i int) int {
	j := bytes.IndexByte(d.src[i:], '\n')
	if j < 0 {
		return len(d.src)
	}
	j += i
	if j > 0 && d.src[j-1] == '\r' {
		j--
	}
	return j
}

// indentOf is the number of leading spaces of the line holding offset i.
func (d *doc) indentOf(i int) int {
	ls := d.lines[d.lineOf(i)-1]
	n := 0
	for ls+n < len(d.src) && d.src[ls+n] == ' ' {
		n++
	}
	return n
}

type spanError struct {
	line int
	msg  string
}

func (e *spanError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func (e *spanError) Unwrap() error { return ErrInPlace }

// checkPlain refuses nodes whose text does not start at their value:
// anchors, aliases and explicit tags. They are rare in kubeconfigs and
// editing around them could change other entries.
func checkPlain(n *yaml.Node) error {
	switch {
	case n.Anchor != "":
		return &spanError{n.Line, "anchors (&" + n.Anchor + ") are not supported in an entry ekstoken edits"}
	case n.Kind == yaml.AliasNode:
		return &spanError{n.Line, "aliases (*" + n.Value + ") are not supported in an entry ekstoken edits"}
	case n.Style&yaml.TaggedStyle != 0:
		return &spanError{n.Line, "explicit tags (" + n.Tag + ") are not supported in an entry ekstoken edits"}
	}
	return nil
}

// end is the offset just past the text of node n. indent is the
// indentation of the block that owns n (the column of its key or dash,
// 0-based), which bounds a block scalar.
func (d *doc) end(n *yaml.Node, indent int) (int, error) {
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
				return 0, &spanError{n.Line, "empty block collection"}
			}
			last = start + 1
		case n.Kind == yaml.MappingNode:
			k, v := n.Content[len(n.Content)-2], n.Content[len(n.Content)-1]
			e, err := d.end(v, k.Column-1)
			if err != nil {
				return 0, err
			}
			if e == d.start(v) && isNull(v) && v.Value == "" {
				// "key:" with nothing after it: end after the colon.
				if e, err = d.afterColon(k); err != nil {
					return 0, err
				}
			}
			last = e
		default:
			e, err := d.end(n.Content[len(n.Content)-1], n.Column-1)
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
	return 0, &spanError{n.Line, "unexpected node"}
}

// valueStart is where the text of n starts after its anchor and tag.
func (d *doc) valueStart(n *yaml.Node) int {
	i := d.start(n)
	if n.Anchor == "" && n.Style&yaml.TaggedStyle == 0 {
		return i
	}
	for i < len(d.src) && (d.src[i] == '&' || d.src[i] == '!') {
		for i < len(d.src) && !isSpace(d.src[i]) {
			i++
		}
		for i < len(d.src) && (d.src[i] == ' ' || d.src[i] == '\t') {
			i++
		}
	}
	return i
}

// closeBracket finds the ']' or '}' that closes flow collection n after
// offset i, skipping whitespace, commas and comments.
func (d *doc) closeBracket(i int, n *yaml.Node) (int, error) {
	want := byte(']')
	if n.Kind == yaml.MappingNode {
		want = '}'
	}
	for i < len(d.src) {
		switch c := d.src[i]; c {
		case want:
			return i + 1, nil
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '#':
			i = d.eol(i)
		default:
			return 0, &spanError{d.lineOf(i), fmt.Sprintf("expected %q closing the collection at line %d", want, n.Line)}
		}
	}
	return 0, &spanError{n.Line, "unclosed flow collection"}
}

// afterColon is the offset just past the ':' that follows key k.
func (d *doc) afterColon(k *yaml.Node) (int, error) {
	e, err := d.end(k, 0)
	if err != nil {
		return 0, err
	}
	for e < len(d.src) && (d.src[e] == ' ' || d.src[e] == '\t') {
		e++
	}
	if e >= len(d.src) || d.src[e] != ':' {
		return 0, &spanError{k.Line, "cannot find the ':' after key " + strconv.Quote(k.Value)}
	}
	return e + 1, nil
}

func (d *doc) scalarEnd(n *yaml.Node, start, indent int) (int, error) {
	src := d.src
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
		last := d.eol(start)
		first := -1
		for l := d.lineOf(start) + 1; l <= len(d.lines); l++ {
			ls := d.lines[l-1]
			le := d.eol(ls)
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
		if n.Value == "" && isNull(n) {
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
				return 0, &spanError{n.Line, "cannot locate the text of " + strconv.Quote(truncate(v, 40))}
			}
		}
		if j == len(v) {
			return i, nil
		}
	}
	return 0, &spanError{n.Line, "unterminated scalar"}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// edit replaces src[start:end] with text. Insertions have start == end;
// of two at the same place, a late one goes after the other.
type edit struct {
	start, end int
	text       string
	late       bool
}

func mkEdit(start, end int, text string) edit { return edit{start: start, end: end, text: text} }

func lateEdit(start, end int, text string) edit {
	return edit{start: start, end: end, text: text, late: true}
}

func apply(src []byte, edits []edit) ([]byte, error) {
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start < edits[j].start
		}
		return !edits[i].late && edits[j].late
	})
	var b bytes.Buffer
	cur := 0
	for _, e := range edits {
		if e.start < cur || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("internal error: overlapping edits at byte %d", e.start)
		}
		b.Write(src[cur:e.start])
		b.WriteString(e.text)
		cur = e.end
	}
	b.Write(src[cur:])
	return b.Bytes(), nil
}

// quoting is how a scalar is written.
type quoting int

const (
	plainQ quoting = iota
	doubleQ
	singleQ
)

func quotingOf(n *yaml.Node) quoting {
	switch {
	case n == nil:
		return plainQ
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return doubleQ
	case n.Style&yaml.SingleQuotedStyle != 0:
		return singleQ
	}
	return plainQ
}

// scalar renders s in style q, falling back to double quotes when plain
// (or single-quoted) text would not read back as the same string.
func scalar(s string, q quoting, flow bool) string {
	switch q {
	case singleQ:
		if !strings.ContainsAny(s, "\n\r") && utf8.ValidString(s) {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
	case plainQ:
		if plainSafe(s, flow) {
			return s
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// plainSafe reports whether s can be written unquoted and still read back
// as the string s: yaml.v3 quotes anything that would not.
func plainSafe(s string, flow bool) bool {
	if s == "" || flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	if simpleWord(s) {
		return true
	}
	out, err := yaml.Marshal(s)
	return err == nil && string(out) == s+"\n"
}

// simpleWord reports, without the cost of yaml.Marshal (which setup would
// pay for every argument of thousands of users), that s is a word YAML
// reads as that string when written plain: "--" or nothing, a letter,
// then letters, digits and "-_./", and not a word YAML 1.1 or 1.2 reads
// as a bool or null. Anything else is left to yaml.Marshal;
// TestSimpleWordAgreesWithYAML holds the two together.
func simpleWord(s string) bool {
	s = strings.TrimPrefix(s, "--") // a flag: --region
	if s == "" || len(s) > 200 || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' && c != '/' {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
