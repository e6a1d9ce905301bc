package yamledit

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// MapNode builds a mapping from keys and values: strings, string slices
// and nodes.
func MapNode(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, v := range kv {
		n.Content = append(n.Content, toNode(v))
	}
	return n
}

// SeqNode builds a list of strings, string slices and nodes.
func SeqNode(items ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, v := range items {
		n.Content = append(n.Content, toNode(v))
	}
	return n
}

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
		return SeqNode(items...)
	}
	panic(fmt.Sprintf("yamledit: cannot make a node of %T", v))
}

// SameNode reports whether two nodes hold the same data, formatting aside.
func SameNode(a, b *yaml.Node) bool {
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// Layout is the indentation style of a block-style document.
type Layout struct {
	MapStep   int // columns a nested mapping is indented under its key
	SeqIndent int // columns a list's dashes are indented under its key
}

// DetectLayout is the layout of the first nested mapping and the first
// nested list of the document; 2 and 0 (as kubectl and the aws CLI write)
// where it has none.
func (d *Doc) DetectLayout() Layout {
	lay := Layout{MapStep: -1, SeqIndent: -1}
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
					case v.Kind == yaml.MappingNode && lay.MapStep < 0:
						lay.MapStep = v.Column - k.Column
					case v.Kind == yaml.SequenceNode && lay.SeqIndent < 0:
						lay.SeqIndent = v.Column - k.Column
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	if d.Root != nil {
		walk(d.Root)
	}
	if lay.MapStep <= 0 {
		lay.MapStep = 2
	}
	if lay.SeqIndent < 0 {
		lay.SeqIndent = 0
	}
	return lay
}

// Emitter writes yaml nodes in block style, in a layout, with a line
// ending. Comments on the nodes are not written.
type Emitter struct {
	Layout
	NL string
}

// Node renders n for a position at column ind whose first line is already
// indented: later lines get the indentation.
func (em Emitter) Node(n *yaml.Node, ind int) string {
	pad := func(n int) string { return strings.Repeat(" ", n) }
	switch n.Kind {
	case yaml.AliasNode:
		return em.Node(n.Alias, ind)
	case yaml.ScalarNode:
		if n.Tag != "!!str" && n.Tag != "" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return n.Value
		}
		return Scalar(n.Value, QuotingOf(n), false)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "[]"
		}
		var parts []string
		for _, it := range n.Content {
			parts = append(parts, "- "+em.Node(it, ind+2))
		}
		return strings.Join(parts, em.NL+pad(ind))
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "{}"
		}
		var b strings.Builder
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			for v.Kind == yaml.AliasNode {
				v = v.Alias // written out in full: the emitter writes no anchors
			}
			if i > 0 {
				b.WriteString(em.NL + pad(ind))
			}
			b.WriteString(Scalar(k.Value, QuotingOf(k), false) + ":")
			switch {
			case v.Kind == yaml.MappingNode && len(v.Content) > 0:
				b.WriteString(em.NL + pad(ind+em.MapStep) + em.Node(v, ind+em.MapStep))
			case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
				b.WriteString(em.NL + pad(ind+em.SeqIndent) + em.Node(v, ind+em.SeqIndent))
			default:
				b.WriteString(" " + em.Node(v, ind))
			}
		}
		return b.String()
	}
	return ""
}

// JSON renders n as JSON on one line, keeping its key order, with colon
// between a key and its value and comma between items (as FlowSpacing
// finds them).
func JSON(n *yaml.Node, colon, comma string) string {
	var b strings.Builder
	writeJSON(&b, n, colon, comma)
	return b.String()
}

func writeJSON(b *strings.Builder, n *yaml.Node, colon, comma string) {
	switch n.Kind {
	case yaml.AliasNode:
		writeJSON(b, n.Alias, colon, comma)
	case yaml.ScalarNode:
		var v any
		if n.Tag != "!!str" && n.Decode(&v) == nil {
			if j, err := json.Marshal(v); err == nil {
				b.Write(j)
				return
			}
		}
		b.WriteString(Scalar(n.Value, Double, true))
	case yaml.MappingNode, yaml.SequenceNode:
		open, close, step := "[", "]", 1
		if n.Kind == yaml.MappingNode {
			open, close, step = "{", "}", 2
		}
		b.WriteString(open)
		for i := 0; i < len(n.Content); i += step {
			if i > 0 {
				b.WriteString(comma)
			}
			if step == 2 {
				b.WriteString(Scalar(n.Content[i].Value, Double, true) + colon)
			}
			writeJSON(b, n.Content[i+step-1], colon, comma)
		}
		b.WriteString(close)
	}
}
