package yamledit

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// spliceDocs are documents with every kind of scalar text End must find
// the end of: plain on one line and folded over several, single quotes
// with doubled quotes, double quotes with escapes and a continued line,
// literal and folded blocks (with more-indented and blank lines), empty
// values, comments, flow collections nested in block ones, JSON, a
// byte-order mark, CRLF, and characters wider than one byte before a
// value (yaml.v3 counts columns in characters).
var spliceDocs = []string{
	"a: plain\nb: 'it''s'\nc: \"q\\\"uo\\\\te\\\" \\\n  continued\"\nd: |\n  line one\n\n    indented\n  last\ne: >-\n  folded\n  text\nf:\ng: ~ # comment\nh: two\n  lines of plain\ni:\n  - item # c\n  -   'spaced'\n  - \"x\"\nz: end\n",
	"list:\n- k: v\n  l: [1, \"two\", 'th''ree', four]\n  m: {n: o, p: \"q\"}\n- [nested, [deep, er]]\nlast: |+\n  keep\n\n",
	"{\n  \"apiVersion\": \"v1\",\n  \"users\": [\n    {\"name\": \"u\", \"user\": {\"exec\": {\"args\": [\"a\", \"b\"], \"command\": \"aws\"}}}\n  ],\n  \"n\": 1\n}\n",
	"\xef\xbb\xbfkey: value\nüñï: 'wide' # ü\nkëy2: \"ü\"\n",
	"a: one\r\nb:\r\n  - 'two'\r\n  - three\r\nc: |\r\n  four\r\n",
}

// newValues are the strings put in, each needing a different quoting.
var newValues = []string{"x", "true", "a: b", "", "multi\nline", "ünï", "#no comment", "[x]", "it's", "-- flag", "1.5"}

// Replacing any one scalar of any document changes that value and nothing
// else: the bytes before and after its span are untouched, and the
// result parses to the same tree but for that value.
func TestSpliceEveryScalar(t *testing.T) {
	for di, src := range spliceDocs {
		d, err := Parse([]byte(src))
		if err != nil {
			t.Fatalf("doc %d: %v", di, err)
		}
		type site struct {
			n      *yaml.Node
			indent int
			flow   bool
		}
		var sites []site
		var walk func(n *yaml.Node, flow bool)
		walk = func(n *yaml.Node, flow bool) {
			flow = flow || n.Style&yaml.FlowStyle != 0
			switch n.Kind {
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					k, v := n.Content[i], n.Content[i+1]
					if v.Kind == yaml.ScalarNode {
						sites = append(sites, site{v, k.Column - 1, flow})
					}
					walk(v, flow)
				}
			case yaml.SequenceNode:
				for _, it := range n.Content {
					if it.Kind == yaml.ScalarNode {
						sites = append(sites, site{it, n.Column - 1, flow})
					}
					walk(it, flow)
				}
			}
		}
		walk(d.Root, false)
		if len(sites) < 3 {
			t.Fatalf("doc %d: only %d scalars", di, len(sites))
		}
		for si, s := range sites {
			val := newValues[(di+si)%len(newValues)]
			t.Run(fmt.Sprintf("doc%d/%d:%q->%q", di, si, s.n.Value, val), func(t *testing.T) {
				start := d.Start(s.n)
				end, err := d.End(s.n, s.indent)
				if err != nil {
					t.Fatal(err)
				}
				text := Scalar(val, QuotingOf(s.n), s.flow)
				if IsNull(s.n) && s.n.Value == "" {
					text = " " + text // "key:" with nothing: the value needs its space
				}
				out, err := Apply(d.Src, []Edit{Replace(start, end, text)})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, d.Src[:start]) || !bytes.HasSuffix(out, d.Src[end:]) {
					t.Fatalf("bytes outside the span changed:\n%q", out)
				}
				nd, err := Parse(out)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				// Walk both trees in step: the same shape, the same
				// scalars, but the replaced one.
				var got []*yaml.Node
				var collect func(n *yaml.Node)
				collect = func(n *yaml.Node) {
					got = append(got, n)
					for _, c := range n.Content {
						collect(c)
					}
				}
				collect(nd.Root)
				var want []*yaml.Node
				var collectOld func(n *yaml.Node)
				collectOld = func(n *yaml.Node) {
					want = append(want, n)
					for _, c := range n.Content {
						collectOld(c)
					}
				}
				collectOld(d.Root)
				if len(got) != len(want) {
					t.Fatalf("the tree changed shape:\n%s", out)
				}
				for i := range want {
					w, g := want[i], got[i]
					if w == s.n {
						var v any
						if err := g.Decode(&v); err != nil || v != val {
							t.Errorf("the new value reads as %#v (%v):\n%s", v, err, out)
						}
						continue
					}
					if w.Kind != g.Kind || w.Kind == yaml.ScalarNode && (w.Value != g.Value || w.Tag != g.Tag) {
						t.Errorf("node %d changed from %q to %q:\n%s", i, w.Value, g.Value, out)
					}
				}
			})
		}
	}
}

// Edits that overlap are an error, not a guess; insertions at one place
// keep their order, a late one last.
func TestApply(t *testing.T) {
	src := []byte("0123456789")
	if _, err := Apply(src, []Edit{Replace(2, 5, "x"), Replace(4, 6, "y")}); err == nil {
		t.Error("overlapping edits applied")
	}
	got, err := Apply(src, []Edit{InsertLast(3, "L"), Replace(3, 3, "a"), Replace(8, 10, ""), Replace(3, 3, "b")})
	if err != nil || string(got) != "012abL34567" {
		t.Errorf("got %q, %v", got, err)
	}
	if strings.Contains(string(got), "89") {
		t.Error("the replaced range is still there")
	}
}
