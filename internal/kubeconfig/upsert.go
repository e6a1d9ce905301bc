package kubeconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Entry is what `ekstoken update-kubeconfig` writes for one cluster: a
// cluster, a user and a context joining them.
type Entry struct {
	ClusterName string // name of the cluster entry, e.g. the cluster ARN
	Server      string
	CAData      string // base64, as certificate-authority-data holds it
	UserName    string // default ClusterName
	Exec        Exec
	ContextName string // default ClusterName
	SetCurrent  bool   // make ContextName the current-context
}

// Exec is the exec credential plugin of a user entry.
type Exec struct {
	APIVersion      string // default client.authentication.k8s.io/v1beta1
	Command         string
	Args            []string
	Env             []EnvVar
	InteractiveMode string // omitted when empty
}

// Upsert adds the cluster, user and context of e to kubeconfig src, or
// replaces the entries of the same names, and sets current-context when
// e.SetCurrent. An entry that already holds exactly what e asks for is not
// touched, so Upsert(Upsert(x, e), e) == Upsert(x, e).
//
// In a block-style file everything else stays byte for byte: new entries
// are appended to their lists in the file's indentation style, replaced
// entries are rewritten in place. A flow-style (JSON) file is written back
// as JSON with its indentation. An empty src gives a new kubeconfig laid
// out like the one `aws eks update-kubeconfig` writes.
func Upsert(src []byte, e Entry) ([]byte, error) {
	out, _, err := UpsertOutcome(src, e)
	return out, err
}

// Outcome is what Upsert did to the context of an Entry.
type Outcome int

const (
	Unchanged Outcome = iota // everything already held what the entry asks
	Added                    // the context is new
	Updated                  // the context existed; it, its cluster or its user changed
)

// UpsertOutcome is Upsert, and says whether the context was added or
// updated. A user entry being replaced keeps its interactiveMode when e
// gives none: the person (or setup) chose it, for an MFA prompt or for an
// IDE without a terminal, and re-adding the cluster must not undo that.
func UpsertOutcome(src []byte, e Entry) ([]byte, Outcome, error) {
	if e.ClusterName == "" || e.Server == "" || e.Exec.Command == "" {
		return nil, Unchanged, errors.New("kubeconfig: Upsert needs ClusterName, Server and Exec.Command")
	}
	if e.UserName == "" {
		e.UserName = e.ClusterName
	}
	if e.ContextName == "" {
		e.ContextName = e.ClusterName
	}
	if e.Exec.APIVersion == "" {
		e.Exec.APIVersion = APIVersionV1Beta1
	}
	d, err := parse(src)
	if err != nil {
		return nil, Unchanged, err
	}
	existed := false
	if d.root != nil {
		_, contexts := mapGet(d.root, "contexts")
		existed = findEntry(contexts, e.ContextName) >= 0
		if e.Exec.InteractiveMode == "" {
			_, users := mapGet(d.root, "users")
			if i := findEntry(users, e.UserName); i >= 0 {
				_, user := mapGet(users.Content[i], "user")
				_, ex := mapGet(user, "exec")
				e.Exec.InteractiveMode, _ = scalarValue(ex, "interactiveMode")
			}
		}
	}
	ents := e.nodes()
	var out []byte
	switch {
	case d.root == nil || len(d.root.Content) == 0: // empty, or "{}": nothing to keep
		out = d.fresh(e, ents)
	case d.root.Style&yaml.FlowStyle != 0:
		out, err = d.upsertFlow(e, ents)
	default:
		out, err = d.upsertBlock(e, ents)
	}
	var se *spanError
	if errors.As(err, &se) {
		return nil, Unchanged, fmt.Errorf("%w: %w", ErrInPlace, se)
	}
	if err != nil {
		return nil, Unchanged, err
	}
	if err := verifyUpsert(d, out, e, ents); err != nil {
		return nil, Unchanged, err
	}
	switch {
	case bytes.Equal(out, src):
		return out, Unchanged, nil
	case existed:
		return out, Updated, nil
	}
	return out, Added, nil
}

// upsertList names a list of the kubeconfig, the entry to put in it and
// its name.
type upsertList struct {
	key, name string
	node      *yaml.Node
}

func (e Entry) nodes() []upsertList {
	cluster := []any{"server", e.Server}
	if e.CAData != "" {
		cluster = append([]any{"certificate-authority-data", e.CAData}, cluster...)
	}
	exec := []any{"apiVersion", e.Exec.APIVersion}
	if len(e.Exec.Args) > 0 {
		exec = append(exec, "args", e.Exec.Args)
	}
	exec = append(exec, "command", e.Exec.Command)
	if len(e.Exec.Env) > 0 {
		var env []any
		for _, v := range e.Exec.Env {
			env = append(env, mapNode("name", v.Name, "value", v.Value))
		}
		exec = append(exec, "env", seqNode(env...))
	}
	if e.Exec.InteractiveMode != "" {
		exec = append(exec, "interactiveMode", e.Exec.InteractiveMode)
	}
	return []upsertList{
		{"clusters", e.ClusterName, mapNode("cluster", mapNode(cluster...), "name", e.ClusterName)},
		{"contexts", e.ContextName, mapNode("context", mapNode("cluster", e.ClusterName, "user", e.UserName), "name", e.ContextName)},
		{"users", e.UserName, mapNode("name", e.UserName, "user", mapNode("exec", mapNode(exec...)))},
	}
}

// toNode builds yaml nodes from strings, string slices and nodes.
func toNode(v any) *yaml.Node {
	switch v := v.(type) {
	case *yaml.Node:
		return v
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	case []string:
		var items []any
		for _, s := range v {
			items = append(items, s)
		}
		return seqNode(items...)
	}
	panic(fmt.Sprintf("toNode: %T", v))
}

func mapNode(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, v := range kv {
		n.Content = append(n.Content, toNode(v))
	}
	return n
}

func seqNode(items ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, v := range items {
		n.Content = append(n.Content, toNode(v))
	}
	return n
}

// fresh is a new kubeconfig with e's entries, laid out as the aws CLI
// writes one. Comments in an otherwise empty src are kept above it.
func (d *doc) fresh(e Entry, ents []upsertList) []byte {
	current := ""
	if e.SetCurrent {
		current = e.ContextName
	}
	root := mapNode(
		"apiVersion", "v1",
		"clusters", seqNode(ents[0].node),
		"contexts", seqNode(ents[1].node),
		"current-context", current,
		"kind", "Config",
		"preferences", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"},
		"users", seqNode(ents[2].node),
	)
	em := emitter{layout: layout{mapStep: 2}, nl: d.nl}
	text := em.node(root, 0) + d.nl
	var prefix []byte
	onlyComments := true
	for _, l := range strings.Split(string(d.src), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			onlyComments = false
		}
	}
	if onlyComments && len(bytes.TrimSpace(d.src)) > 0 {
		prefix = d.src
		if !bytes.HasSuffix(prefix, []byte("\n")) {
			prefix = append(append([]byte{}, prefix...), d.nl...)
		}
	}
	return append(append([]byte{}, prefix...), text...)
}

func findEntry(seq *yaml.Node, name string) int {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return -1
	}
	for i, it := range seq.Content {
		if n, ok := scalarValue(it, "name"); ok && n == name {
			return i
		}
	}
	return -1
}

// sameNode reports whether two nodes hold the same data, formatting aside.
func sameNode(a, b *yaml.Node) bool {
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func (d *doc) upsertBlock(e Entry, ents []upsertList) ([]byte, error) {
	lay := d.detectLayout()
	em := emitter{layout: lay, nl: d.nl}
	root := d.root
	rootInd := root.Content[0].Column - 1
	lk, lv := root.Content[len(root.Content)-2], root.Content[len(root.Content)-1]
	rootEnd, err := d.end(lv, lk.Column-1)
	if err != nil {
		return nil, err
	}
	if isNull(lv) && lv.Value == "" {
		if rootEnd, err = d.afterColon(lk); err != nil {
			return nil, err
		}
	}
	rootEnd = d.eol(rootEnd)
	pad := func(n int) string { return strings.Repeat(" ", n) }
	// list renders items as a block list under a key at indentation ind.
	list := func(items []*yaml.Node, ind int) string {
		var b strings.Builder
		for _, it := range items {
			b.WriteString(d.nl + pad(ind+lay.seqIndent) + "- " + em.node(it, ind+lay.seqIndent+2))
		}
		return b.String()
	}
	var edits []edit
	for _, l := range ents {
		k, seq := mapGet(root, l.key)
		switch {
		case k == nil:
			edits = append(edits, lateEdit(rootEnd, rootEnd, d.nl+pad(rootInd)+l.key+":"+list([]*yaml.Node{l.node}, rootInd)))
		case seq.Kind == yaml.SequenceNode && seq.Style&yaml.FlowStyle == 0:
			if err := checkPlain(seq); err != nil {
				return nil, err
			}
			prefix := "- "
			if p := string(d.src[d.start(seq):d.start(seq.Content[0])]); !strings.ContainsAny(p, "\r\n") {
				prefix = p
			}
			ind := seq.Column - 1 + len(prefix)
			if i := findEntry(seq, l.name); i >= 0 {
				it := seq.Content[i]
				if sameNode(it, l.node) {
					continue
				}
				if err := checkPlain(it); err != nil {
					return nil, err
				}
				end, err := d.end(it, seq.Column-1)
				if err != nil {
					return nil, err
				}
				edits = append(edits, mkEdit(d.start(it), end, em.node(l.node, it.Column-1)))
				continue
			}
			last := seq.Content[len(seq.Content)-1]
			end, err := d.end(last, seq.Column-1)
			if err != nil {
				return nil, err
			}
			at := d.eol(end)
			edits = append(edits, mkEdit(at, at, d.nl+pad(seq.Column-1)+prefix+em.node(l.node, ind)))
		default:
			// null, [] or a flow list: rewrite the value as a block list.
			items := []*yaml.Node{}
			replaced := false
			if seq.Kind == yaml.SequenceNode {
				for _, it := range seq.Content {
					if n, _ := scalarValue(it, "name"); n == l.name && !replaced {
						it, replaced = l.node, true
					}
					items = append(items, it)
				}
			}
			if !replaced {
				items = append(items, l.node)
			}
			start, err := d.afterColon(k)
			if err != nil {
				return nil, err
			}
			end, err := d.end(seq, k.Column-1)
			if err != nil {
				return nil, err
			}
			end = max(end, start)
			edits = append(edits, mkEdit(start, end, list(items, k.Column-1)))
		}
	}
	if e.SetCurrent {
		k, v := mapGet(root, "current-context")
		switch {
		case k == nil:
			edits = append(edits, lateEdit(rootEnd, rootEnd, d.nl+pad(rootInd)+"current-context: "+scalar(e.ContextName, plainQ, false)))
		case v.Kind != yaml.ScalarNode:
			return nil, &ParseError{Line: v.Line, Msg: "current-context must be a string, found " + kindName(v)}
		case isNull(v) || v.Value != e.ContextName:
			ed, err := d.replaceScalar(v, k, e.ContextName, false)
			if err != nil {
				return nil, err
			}
			edits = append(edits, ed)
		}
	}
	return apply(d.src, edits)
}

// upsertFlow splices e's entries into a flow-style (JSON) kubeconfig,
// written as JSON in the file's indentation; the rest stays byte for byte.
func (d *doc) upsertFlow(e Entry, ents []upsertList) ([]byte, error) {
	root := d.root
	// The indentation unit is what the second line starts with; a
	// one-line file stays on one line.
	unit := ""
	if len(d.lines) > 1 {
		l2 := string(d.src[d.lines[1]:d.eol(d.lines[1])])
		unit = l2[:len(l2)-len(strings.TrimLeft(l2, " \t"))]
		if unit == "" {
			unit = "  "
		}
	}
	colon, comma := d.flowSpacing(root)
	render := func(n *yaml.Node, base string) string {
		var b strings.Builder
		writeJSON(&b, n, unit, d.nl, base, colon, comma)
		return b.String()
	}
	// baseOf is the indentation of the line holding node n.
	baseOf := func(n *yaml.Node) string { return strings.Repeat(" ", d.indentOf(d.start(n))) }
	// sepAfter separates a new element from the one before it, n.
	sepAfter := func(n *yaml.Node, parentLine int) string {
		if unit == "" || n.Line == parentLine {
			return comma
		}
		return "," + d.nl + baseOf(n)
	}
	jsonString := func(s string) string { return scalar(s, doubleQ, true) }

	lk, lv := root.Content[len(root.Content)-2], root.Content[len(root.Content)-1]
	rootEnd, err := d.end(lv, 0)
	if err != nil {
		return nil, err
	}
	var edits []edit
	for _, l := range ents {
		k, seq := mapGet(root, l.key)
		switch {
		case k == nil:
			edits = append(edits, lateEdit(rootEnd, rootEnd, sepAfter(lk, root.Line)+jsonString(l.key)+colon+render(seqNode(l.node), baseOf(lk))))
		case seq.Kind != yaml.SequenceNode || len(seq.Content) == 0:
			end, err := d.end(seq, 0)
			if err != nil {
				return nil, err
			}
			edits = append(edits, mkEdit(d.start(seq), end, render(seqNode(l.node), baseOf(k))))
		default:
			if i := findEntry(seq, l.name); i >= 0 {
				it := seq.Content[i]
				if sameNode(it, l.node) {
					continue
				}
				if err := checkPlain(it); err != nil {
					return nil, err
				}
				end, err := d.end(it, 0)
				if err != nil {
					return nil, err
				}
				edits = append(edits, mkEdit(d.start(it), end, render(l.node, baseOf(it))))
				continue
			}
			last := seq.Content[len(seq.Content)-1]
			end, err := d.end(last, 0)
			if err != nil {
				return nil, err
			}
			edits = append(edits, mkEdit(end, end, sepAfter(last, seq.Line)+render(l.node, baseOf(last))))
		}
	}
	if e.SetCurrent {
		k, v := mapGet(root, "current-context")
		switch {
		case k == nil:
			edits = append(edits, lateEdit(rootEnd, rootEnd, sepAfter(lk, root.Line)+jsonString("current-context")+colon+jsonString(e.ContextName)))
		case v.Kind != yaml.ScalarNode || isNull(v) || v.Value != e.ContextName:
			end, err := d.end(v, 0)
			if err != nil {
				return nil, err
			}
			edits = append(edits, mkEdit(d.start(v), end, jsonString(e.ContextName)))
		}
	}
	return apply(d.src, edits)
}

// writeJSON writes n as JSON. With an indentation unit, nested lines start
// with base plus one unit per level; without one, all is on one line.
func writeJSON(b *strings.Builder, n *yaml.Node, unit, nl, base, colon, comma string) {
	switch n.Kind {
	case yaml.AliasNode:
		writeJSON(b, n.Alias, unit, nl, base, colon, comma)
	case yaml.ScalarNode:
		var v any
		if n.Tag != "!!str" && n.Decode(&v) == nil {
			if j, err := json.Marshal(v); err == nil {
				b.Write(j)
				return
			}
		}
		b.WriteString(scalar(n.Value, doubleQ, true))
	case yaml.MappingNode, yaml.SequenceNode:
		open, close, step := "[", "]", 1
		if n.Kind == yaml.MappingNode {
			open, close, step = "{", "}", 2
		}
		b.WriteString(open)
		for i := 0; i < len(n.Content); i += step {
			switch {
			case unit != "":
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(nl + base + unit)
			case i > 0:
				b.WriteString(comma)
			}
			if step == 2 {
				b.WriteString(scalar(n.Content[i].Value, doubleQ, true) + colon)
			}
			writeJSON(b, n.Content[i+step-1], unit, nl, base+unit, colon, comma)
		}
		if unit != "" && len(n.Content) > 0 {
			b.WriteString(nl + base)
		}
		b.WriteString(close)
	}
}

// verifyUpsert checks that out is src with exactly e's entries upserted.
func verifyUpsert(d *doc, out []byte, e Entry, ents []upsertList) error {
	// The tree parse already built, rather than a second parse of src: a
	// kubeconfig of thousands of entries costs a second or more to parse.
	want := map[string]any{}
	if d.root == nil || d.root.Decode(&want) != nil || len(want) == 0 {
		want = map[string]any{"apiVersion": "v1", "kind": "Config", "preferences": map[string]any{}, "current-context": ""}
	}
	for _, l := range ents {
		var v any
		if err := l.node.Decode(&v); err != nil {
			return err
		}
		list, _ := want[l.key].([]any)
		found := false
		for i, it := range list {
			if m, ok := it.(map[string]any); ok && m["name"] == l.name {
				list[i], found = v, true
				break
			}
		}
		if !found {
			list = append(list, v)
		}
		want[l.key] = list
	}
	if e.SetCurrent {
		want["current-context"] = e.ContextName
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("%w: the result would not parse (%w); nothing was changed", ErrInPlace, err)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%w: the result would differ in more than the three entries; nothing was changed", ErrInPlace)
	}
	return nil
}

// layout is the indentation style of a block-style file.
type layout struct {
	mapStep   int // columns a nested mapping is indented under its key
	seqIndent int // columns a list's dashes are indented under its key
}

func (d *doc) detectLayout() layout {
	lay := layout{mapStep: -1, seqIndent: -1}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Style&yaml.FlowStyle != 0 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
					switch {
					case v.Kind == yaml.MappingNode && lay.mapStep < 0:
						lay.mapStep = v.Column - k.Column
					case v.Kind == yaml.SequenceNode && lay.seqIndent < 0:
						lay.seqIndent = v.Column - k.Column
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(d.root)
	if lay.mapStep <= 0 {
		lay.mapStep = 2
	}
	if lay.seqIndent < 0 {
		lay.seqIndent = 0
	}
	return lay
}

// emitter writes yaml nodes in block style.
type emitter struct {
	layout
	nl string
}

// node renders n for a position at column ind whose first line is already
// indented: later lines get the indentation.
func (em emitter) node(n *yaml.Node, ind int) string {
	pad := func(n int) string { return strings.Repeat(" ", n) }
	switch n.Kind {
	case yaml.AliasNode:
		return em.node(n.Alias, ind)
	case yaml.ScalarNode:
		if n.Tag != "!!str" && n.Tag != "" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return n.Value
		}
		return scalar(n.Value, quotingOf(n), false)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "[]"
		}
		var parts []string
		for _, it := range n.Content {
			parts = append(parts, "- "+em.node(it, ind+2))
		}
		return strings.Join(parts, em.nl+pad(ind))
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "{}"
		}
		var b strings.Builder
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if i > 0 {
				b.WriteString(em.nl + pad(ind))
			}
			b.WriteString(scalar(k.Value, quotingOf(k), false) + ":")
			switch {
			case v.Kind == yaml.MappingNode && len(v.Content) > 0:
				b.WriteString(em.nl + pad(ind+em.mapStep) + em.node(v, ind+em.mapStep))
			case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
				b.WriteString(em.nl + pad(ind+em.seqIndent) + em.node(v, ind+em.seqIndent))
			default:
				b.WriteString(" " + em.node(v, ind))
			}
		}
		return b.String()
	}
	return ""
}
