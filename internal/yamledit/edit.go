package yamledit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Edit replaces Src[Start:End] with Text. Insertions have Start == End;
// of two at the same place, a Late one goes after the other.
type Edit struct {
	Start, End int
	Text       string
	Late       bool
}

// Apply makes the edits to src, which must not overlap, and copies every
// byte outside them unchanged.
func Apply(src []byte, edits []Edit) ([]byte, error) {
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].Start != edits[j].Start {
			return edits[i].Start < edits[j].Start
		}
		return !edits[i].Late && edits[j].Late
	})
	var b bytes.Buffer
	cur := 0
	for _, e := range edits {
		if e.Start < cur || e.End < e.Start || e.End > len(src) {
			return nil, fmt.Errorf("internal error: overlapping edits at byte %d", e.Start)
		}
		b.Write(src[cur:e.Start])
		b.WriteString(e.Text)
		cur = e.End
	}
	b.Write(src[cur:])
	return b.Bytes(), nil
}

// Quoting is how a scalar is written.
type Quoting int

// The quoting styles Scalar writes.
const (
	Plain Quoting = iota
	Double
	Single
)

// QuotingOf is the quoting of scalar n (Plain for nil).
func QuotingOf(n *yaml.Node) Quoting {
	switch {
	case n == nil:
		return Plain
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return Double
	case n.Style&yaml.SingleQuotedStyle != 0:
		return Single
	}
	return Plain
}

// Scalar renders s in style q, falling back to double quotes (which are
// also JSON's) when plain or single-quoted text would not read back as
// the same string. flow is for text inside a flow collection, where
// ",[]{}" need quotes.
func Scalar(s string, q Quoting, flow bool) string {
	switch q {
	case Single:
		if !strings.ContainsAny(s, "\n\r") && utf8.ValidString(s) {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
	case Plain:
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

// ReplaceScalar replaces the value v of key k with s, quoted as v was.
func (d *Doc) ReplaceScalar(v, k *yaml.Node, s string, flow bool) (Edit, error) {
	if err := CheckPlain(v); err != nil {
		return Edit{}, err
	}
	start := d.Start(v)
	end, err := d.End(v, k.Column-1)
	if err != nil {
		return Edit{}, err
	}
	if IsNull(v) && v.Value == "" {
		return Replace(start, end, " "+Scalar(s, Plain, flow)), nil
	}
	return Replace(start, end, Scalar(s, QuotingOf(v), flow)), nil
}

// ReplaceList replaces list node n (the value of key k) with items, in the
// same layout: a block list keeps its dash column and item prefix, its
// full-line comments (moved before the items) and its line comments (kept
// on the item with the same value); a flow list keeps one-line or
// one-item-per-line layout. Items that span lines, and comments inside a
// flow list, are refused.
func (d *Doc) ReplaceList(n, k *yaml.Node, items []string) (Edit, error) {
	if err := CheckPlain(n); err != nil {
		return Edit{}, err
	}
	start := d.Start(n)
	end, err := d.End(n, k.Column-1)
	if err != nil {
		return Edit{}, err
	}
	q := Plain
	for _, it := range n.Content {
		if qq := QuotingOf(it); qq != Plain && q != Double {
			q = qq
		}
	}
	type span struct{ s, e int }
	spans := make([]span, len(n.Content))
	for i, it := range n.Content {
		if err := CheckPlain(it); err != nil {
			return Edit{}, err
		}
		s := d.Start(it)
		e, err := d.End(it, n.Column-1)
		if err != nil {
			return Edit{}, err
		}
		if d.LineOf(s) != d.LineOf(e) {
			return Edit{}, &SpanError{it.Line, "an argument spans several lines"}
		}
		spans[i] = span{s, e}
	}

	if n.Style&yaml.FlowStyle != 0 {
		// Between the items there may be only brackets, commas and space.
		cur := start
		for _, sp := range append(spans, span{end, end}) {
			if strings.Trim(string(d.Src[cur:sp.s]), "[], \t\r\n") != "" {
				return Edit{}, &SpanError{d.LineOf(cur), "comments inside a flow list"}
			}
			cur = sp.e
		}
		rendered := make([]string, len(items))
		for i, it := range items {
			rendered[i] = Scalar(it, q, true)
		}
		if len(spans) > 0 && d.LineOf(spans[0].s) != n.Line {
			ind := strings.Repeat(" ", n.Content[0].Column-1)
			closing := "]"
			if ls := d.lines[d.LineOf(end-1)-1]; strings.TrimSpace(string(d.Src[ls:end-1])) == "" {
				closing = d.NL + strings.Repeat(" ", d.IndentOf(end-1)) + "]"
			}
			return Replace(start, end, "["+d.NL+ind+strings.Join(rendered, ","+d.NL+ind)+closing), nil
		}
		sep := ", "
		if len(spans) > 1 && string(d.Src[spans[0].e:spans[1].s]) == "," {
			sep = ","
		}
		return Replace(start, end, "["+strings.Join(rendered, sep)+"]"), nil
	}

	// Block list: every line of the span is an item, blank or a comment.
	itemLine := map[int]int{}
	for i, sp := range spans {
		itemLine[d.LineOf(sp.s)] = i
	}
	var comments []string
	lineComment := map[int]string{}
	for l := n.Line; l <= d.LineOf(end); l++ {
		ls := d.lines[l-1]
		text := strings.TrimSpace(string(d.Src[ls:d.EOL(ls)]))
		if i, ok := itemLine[l]; ok {
			rest := strings.TrimRight(string(d.Src[spans[i].e:d.EOL(spans[i].e)]), " \t")
			if strings.HasPrefix(strings.TrimSpace(rest), "#") {
				lineComment[i] = rest
			}
			continue
		}
		switch {
		case text == "":
		case strings.HasPrefix(text, "#"):
			comments = append(comments, text)
		default:
			return Edit{}, &SpanError{l, "unexpected text inside the args list"}
		}
	}
	if _, ok := lineComment[len(spans)-1]; ok {
		// The list ends at its last item's text; the comment after it would
		// stay behind the new last item on top of the copy placed below.
		end = d.EOL(end)
	}
	prefix := "- "
	if len(spans) > 0 {
		if p := string(d.Src[start:spans[0].s]); !strings.ContainsAny(p, "\r\n") {
			prefix = p
		}
	}
	used := map[int]bool{}
	lines := append([]string{}, comments...)
	newComment := map[int]string{}
	for i, it := range n.Content {
		c, ok := lineComment[i]
		if !ok {
			continue
		}
		j := -1
		for k, s := range items {
			if s == it.Value && !used[k] {
				j = k
				break
			}
		}
		if j < 0 {
			lines = append(lines, strings.TrimSpace(c))
			continue
		}
		used[j] = true
		newComment[j] = c
	}
	for j, it := range items {
		lines = append(lines, prefix+Scalar(it, q, false)+newComment[j])
	}
	return Replace(start, end, strings.Join(lines, d.NL+strings.Repeat(" ", n.Column-1))), nil
}

// InsertKey adds key: value to mapping m: in alphabetical place when m's
// keys are sorted (as kubectl and the aws CLI write them), else last. The
// value is quoted valQ, or double when m's keys are (JSON).
func (d *Doc) InsertKey(m *yaml.Node, key, val string, valQ Quoting) (Edit, error) {
	return d.insertPair(m, key, valQ, func(q Quoting, flow bool, _, _ string) (string, bool) {
		return Scalar(val, q, flow), false
	})
}

// InsertListKey adds key with the list items as its value to mapping m,
// placed as InsertKey places a key. In a block mapping the list is a
// block list with its dashes at the key's column (as kubectl writes
// lists); in a flow mapping (JSON) it is a one-line flow list spaced as
// m's pairs are. Items are quoted valQ, or double when m's keys are.
func (d *Doc) InsertListKey(m *yaml.Node, key string, items []string, valQ Quoting) (Edit, error) {
	return d.insertPair(m, key, valQ, func(q Quoting, flow bool, ind, comma string) (string, bool) {
		rendered := make([]string, len(items))
		for i, it := range items {
			rendered[i] = Scalar(it, q, flow)
		}
		if flow || len(items) == 0 {
			return "[" + strings.Join(rendered, comma) + "]", false
		}
		return d.NL + ind + "- " + strings.Join(rendered, d.NL+ind+"- "), true
	})
}

// insertPair is InsertKey with the value rendered by val, given the
// quoting, whether m is flow, the keys' indentation and the pair
// separator. A block value (a block list, starting on the next line) goes
// right after the colon, with no space before its line break.
func (d *Doc) insertPair(m *yaml.Node, key string, valQ Quoting, val func(q Quoting, flow bool, ind, comma string) (text string, block bool)) (Edit, error) {
	flow := m.Style&yaml.FlowStyle != 0
	var keys []string
	for i := 0; i < len(m.Content); i += 2 {
		keys = append(keys, m.Content[i].Value)
	}
	idx := len(keys)
	if slices.IsSorted(keys) {
		idx, _ = slices.BinarySearch(keys, key)
	}
	if len(keys) == 0 {
		return Edit{}, &SpanError{m.Line, "empty mapping"}
	}
	ref := m.Content[0]
	if idx > 0 {
		ref = m.Content[2*idx-2]
	}
	kq := QuotingOf(ref)
	if kq == Double {
		valQ = Double
	}
	colon, comma := ": ", ", "
	if flow {
		colon, comma = d.FlowSpacing(m)
	}
	ind := strings.Repeat(" ", ref.Column-1)
	v, block := val(valQ, flow, ind, comma)
	if block {
		colon = ":"
	}
	pair := Scalar(key, kq, flow) + colon + v
	sep := d.NL + ind
	if flow && ref.Line == m.Line {
		sep = strings.TrimPrefix(comma, ",")
	}
	if idx == 0 {
		at := d.Start(ref)
		if flow {
			return Replace(at, at, pair+","+sep), nil
		}
		return Replace(at, at, pair+d.NL+ind), nil
	}
	pk, pv := m.Content[2*idx-2], m.Content[2*idx-1]
	if !flow && pv.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// Text after a block scalar can change its value (trailing line
		// breaks belong to it); go before its key instead.
		at := d.Start(pk)
		return Replace(at, at, pair+d.NL+ind), nil
	}
	e, err := d.ValueEnd(pk, pv)
	if err != nil {
		return Edit{}, err
	}
	if flow {
		return Replace(e, e, ","+sep+pair), nil
	}
	at := d.EOL(e)
	return Replace(at, at, d.NL+ind+pair), nil
}

// FlowSpacing is how flow mapping m writes its pairs: the text between a
// key and its value (":" in compact JSON, ": " usually) and between one
// pair and the next on the same line ("," or ", ").
func (d *Doc) FlowSpacing(m *yaml.Node) (colon, comma string) {
	colon, comma = ": ", ", "
	if len(m.Content) < 2 {
		return
	}
	k0, v0 := m.Content[0], m.Content[1]
	if e, err := d.End(k0, 0); err == nil {
		if gap := string(d.Src[e:d.Start(v0)]); strings.Contains(gap, ":") && !strings.ContainsAny(gap, "\r\n") {
			colon = gap
		}
	}
	if len(m.Content) >= 4 {
		if e, err := d.End(v0, 0); err == nil {
			if gap := string(d.Src[e:d.Start(m.Content[2])]); strings.HasPrefix(gap, ",") && !strings.ContainsAny(gap, "\r\n") {
				comma = gap
			}
		}
	}
	return colon, comma
}

// Reindent moves every line of text after the first by delta columns, so
// that a block cut from one indentation fits at another.
func Reindent(text []byte, delta int) string {
	if delta == 0 {
		return string(text)
	}
	lines := strings.SplitAfter(string(text), "\n")
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if delta > 0 {
			lines[i] = strings.Repeat(" ", delta) + l
		} else {
			lead := len(l) - len(strings.TrimLeft(l, " "))
			lines[i] = l[min(lead, -delta):]
		}
	}
	return strings.Join(lines, "")
}

// ParseMapping parses text, a mapping cut from a document whose first line
// was cut at column col: the indentation is put back for the rest to fit.
func ParseMapping(text []byte, col int) (*yaml.Node, error) {
	var n yaml.Node
	// A span ends where its last value does, before the line break that a
	// block scalar there needs to read as it does in the document.
	if err := yaml.Unmarshal(slices.Concat(bytes.Repeat([]byte(" "), col), text, []byte("\n")), &n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping")
	}
	return n.Content[0], nil
}

// Replace is the edit that puts text in place of Src[start:end].
func Replace(start, end int, text string) Edit { return Edit{Start: start, End: end, Text: text} }

// InsertLast is the insertion of text at offset at, after any other
// insertion there.
func InsertLast(at int, text string) Edit { return Edit{Start: at, End: at, Text: text, Late: true} }

// PrependList inserts items before the first item of list n, leaving every
// byte of the items already there (their quoting and comments) as it is.
// New items are quoted as the first item is (Scalar falls back to double
// quotes where that one's style cannot hold them). An empty list is
// refused: ReplaceList writes those.
func (d *Doc) PrependList(n *yaml.Node, items []string) (Edit, error) {
	if err := CheckPlain(n); err != nil {
		return Edit{}, err
	}
	if len(n.Content) == 0 {
		return Edit{}, &SpanError{n.Line, "empty list"}
	}
	first := n.Content[0]
	if err := CheckPlain(first); err != nil {
		return Edit{}, err
	}
	flow := n.Style&yaml.FlowStyle != 0
	q := QuotingOf(first)
	at := d.Start(first)
	rendered := make([]string, len(items))
	for i, it := range items {
		rendered[i] = Scalar(it, q, flow)
	}
	if flow {
		sep := ", "
		if len(n.Content) > 1 {
			if e, err := d.End(first, n.Column-1); err == nil && e <= d.Start(n.Content[1]) {
				sep = string(d.Src[e:d.Start(n.Content[1])])
			}
		}
		if strings.Trim(sep, ", \t\r\n") != "" || !strings.Contains(sep, ",") {
			sep = ", "
		}
		if d.LineOf(at) != d.LineOf(d.Start(n)) {
			sep = "," + d.NL + strings.Repeat(" ", first.Column-1)
		}
		return Replace(at, at, strings.Join(rendered, sep)+sep), nil
	}
	dash := d.Start(n)
	prefix := string(d.Src[dash:at])
	if strings.ContainsAny(prefix, "\r\n") || !strings.HasPrefix(prefix, "-") {
		return Edit{}, &SpanError{first.Line, "the first item does not follow its dash on the same line"}
	}
	next := d.NL + strings.Repeat(" ", n.Column-1) + prefix
	return Replace(at, at, strings.Join(rendered, next)+next), nil
}
