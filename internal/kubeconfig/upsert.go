package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/ekstoken/ekstoken/internal/yamledit"
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
// entries are rewritten in place. A flow-style (JSON) file is written out
// again as block YAML, every key and value kept in its order, as kubectl
// and `aws eks update-kubeconfig` write a JSON kubeconfig they change. An
// empty src gives a new kubeconfig laid out like the one the aws CLI
// writes.
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
	if d.Root != nil {
		_, contexts := yamledit.MapGet(d.Root, "contexts")
		existed = findEntry(contexts, e.ContextName) >= 0
		if e.Exec.InteractiveMode == "" {
			_, users := yamledit.MapGet(d.Root, "users")
			if i := findEntry(users, e.UserName); i >= 0 {
				_, user := yamledit.MapGet(users.Content[i], "user")
				_, ex := yamledit.MapGet(user, "exec")
				e.Exec.InteractiveMode, _ = yamledit.ScalarValue(ex, "interactiveMode")
			}
		}
	}
	ents := e.nodes()
	var out []byte
	switch {
	case d.Root == nil || len(d.Root.Content) == 0 || d.Root.Style&yaml.FlowStyle != 0:
		out = d.whole(e, ents)
	default:
		out, err = d.upsertBlock(e, ents)
	}
	var se *yamledit.SpanError
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
			env = append(env, yamledit.MapNode("name", v.Name, "value", v.Value))
		}
		exec = append(exec, "env", yamledit.SeqNode(env...))
	}
	if e.Exec.InteractiveMode != "" {
		exec = append(exec, "interactiveMode", e.Exec.InteractiveMode)
	}
	return []upsertList{
		{"clusters", e.ClusterName, yamledit.MapNode("cluster", yamledit.MapNode(cluster...), "name", e.ClusterName)},
		{"contexts", e.ContextName, yamledit.MapNode("context", yamledit.MapNode("cluster", e.ClusterName, "user", e.UserName), "name", e.ContextName)},
		{"users", e.UserName, yamledit.MapNode("name", e.UserName, "user", yamledit.MapNode("exec", yamledit.MapNode(exec...)))},
	}
}

// whole writes the kubeconfig out as a whole, laid out as the aws CLI
// writes one, with e's entries upserted. It serves an empty src (whose
// comments, if any, are kept above) and a flow-style one (JSON), which
// kubectl and the aws CLI also write back as block YAML when they change
// it: every key and value stays, in its order, but not the file's JSON
// form, its layout or comments inside it.
func (d *doc) whole(e Entry, ents []upsertList) []byte {
	var root *yaml.Node
	if d.Root == nil || len(d.Root.Content) == 0 {
		current := ""
		if e.SetCurrent {
			current = e.ContextName
		}
		root = yamledit.MapNode(
			"apiVersion", "v1",
			"clusters", yamledit.SeqNode(),
			"contexts", yamledit.SeqNode(),
			"current-context", current,
			"kind", "Config",
			"preferences", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"},
			"users", yamledit.SeqNode(),
		)
	} else {
		// A copy: verifyUpsert compares the result with d.Root as it was.
		root = plainCopy(d.Root)
	}
	for _, l := range ents {
		k, seq := yamledit.MapGet(root, l.key)
		switch i := findEntry(seq, l.name); {
		case k == nil:
			root.Content = append(root.Content, yamledit.MapNode(l.key, yamledit.SeqNode(l.node)).Content...)
		case seq.Kind != yaml.SequenceNode: // null
			*seq = *yamledit.SeqNode(l.node)
		case i >= 0:
			seq.Content[i] = l.node
		default:
			seq.Content = append(seq.Content, l.node)
		}
	}
	if e.SetCurrent {
		cur := yamledit.MapNode("current-context", e.ContextName)
		if k, v := yamledit.MapGet(root, "current-context"); k == nil {
			root.Content = append(root.Content, cur.Content...)
		} else {
			*v = *cur.Content[1]
		}
	}
	em := yamledit.Emitter{Layout: yamledit.Layout{MapStep: 2}, NL: d.NL}
	text := em.Node(root, 0) + d.NL
	var prefix []byte
	onlyComments := true
	for _, l := range strings.Split(string(d.Src), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			onlyComments = false
		}
	}
	if onlyComments && len(bytes.TrimSpace(d.Src)) > 0 {
		prefix = d.Src
		if !bytes.HasSuffix(prefix, []byte("\n")) {
			prefix = append(append([]byte{}, prefix...), d.NL...)
		}
	}
	return append(append([]byte{}, prefix...), text...)
}

// plainCopy is a deep copy of n with every scalar unquoted: the emitter
// quotes what needs it, and YAML's plain style is what the aws CLI writes.
func plainCopy(n *yaml.Node) *yaml.Node {
	c := *n
	if c.Kind == yaml.ScalarNode {
		c.Style = 0
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		c.Content[i] = plainCopy(it)
	}
	return &c
}

func findEntry(seq *yaml.Node, name string) int {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return -1
	}
	for i, it := range seq.Content {
		if n, ok := yamledit.ScalarValue(it, "name"); ok && n == name {
			return i
		}
	}
	return -1
}

func (d *doc) upsertBlock(e Entry, ents []upsertList) ([]byte, error) {
	lay := d.DetectLayout()
	em := yamledit.Emitter{Layout: lay, NL: d.NL}
	root := d.Root
	rootInd := root.Content[0].Column - 1
	lk, lv := root.Content[len(root.Content)-2], root.Content[len(root.Content)-1]
	rootEnd, err := d.ValueEnd(lk, lv)
	if err != nil {
		return nil, err
	}
	rootEnd = d.EOL(rootEnd)
	pad := func(n int) string { return strings.Repeat(" ", n) }
	// list renders items as a block list under a key at indentation ind.
	list := func(items []*yaml.Node, ind int) string {
		var b strings.Builder
		for _, it := range items {
			b.WriteString(d.NL + pad(ind+lay.SeqIndent) + "- " + em.Node(it, ind+lay.SeqIndent+2))
		}
		return b.String()
	}
	var edits []yamledit.Edit
	for _, l := range ents {
		k, seq := yamledit.MapGet(root, l.key)
		switch {
		case k == nil:
			edits = append(edits, yamledit.InsertLast(rootEnd, d.NL+pad(rootInd)+l.key+":"+list([]*yaml.Node{l.node}, rootInd)))
		case seq.Kind == yaml.SequenceNode && seq.Style&yaml.FlowStyle == 0:
			if err := yamledit.CheckPlain(seq); err != nil {
				return nil, err
			}
			prefix := "- "
			if p := string(d.Src[d.Start(seq):d.Start(seq.Content[0])]); !strings.ContainsAny(p, "\r\n") {
				prefix = p
			}
			ind := seq.Column - 1 + len(prefix)
			if i := findEntry(seq, l.name); i >= 0 {
				it := seq.Content[i]
				if yamledit.SameNode(it, l.node) {
					continue
				}
				if err := yamledit.CheckPlain(it); err != nil {
					return nil, err
				}
				end, err := d.End(it, seq.Column-1)
				if err != nil {
					return nil, err
				}
				edits = append(edits, yamledit.Replace(d.Start(it), end, em.Node(l.node, it.Column-1)))
				continue
			}
			last := seq.Content[len(seq.Content)-1]
			end, err := d.End(last, seq.Column-1)
			if err != nil {
				return nil, err
			}
			at := d.EOL(end)
			edits = append(edits, yamledit.Replace(at, at, d.NL+pad(seq.Column-1)+prefix+em.Node(l.node, ind)))
		default:
			// null, [] or a flow list: rewrite the value as a block list.
			items := []*yaml.Node{}
			replaced := false
			if seq.Kind == yaml.SequenceNode {
				for _, it := range seq.Content {
					if n, _ := yamledit.ScalarValue(it, "name"); n == l.name && !replaced {
						it, replaced = l.node, true
					}
					items = append(items, it)
				}
			}
			if !replaced {
				items = append(items, l.node)
			}
			start, err := d.AfterColon(k)
			if err != nil {
				return nil, err
			}
			end, err := d.End(seq, k.Column-1)
			if err != nil {
				return nil, err
			}
			end = max(end, start)
			edits = append(edits, yamledit.Replace(start, end, list(items, k.Column-1)))
		}
	}
	if e.SetCurrent {
		k, v := yamledit.MapGet(root, "current-context")
		switch {
		case k == nil:
			edits = append(edits, yamledit.InsertLast(rootEnd, d.NL+pad(rootInd)+"current-context: "+yamledit.Scalar(e.ContextName, yamledit.Plain, false)))
		case v.Kind != yaml.ScalarNode:
			return nil, &ParseError{Line: v.Line, Msg: "current-context must be a string, found " + yamledit.KindName(v)}
		case yamledit.IsNull(v) || v.Value != e.ContextName:
			ed, err := d.ReplaceScalar(v, k, e.ContextName, false)
			if err != nil {
				return nil, err
			}
			edits = append(edits, ed)
		}
	}
	return yamledit.Apply(d.Src, edits)
}

// verifyUpsert checks that out is src with exactly e's entries upserted.
func verifyUpsert(d *doc, out []byte, e Entry, ents []upsertList) error {
	// The tree parse already built, rather than a second parse of src: a
	// kubeconfig of thousands of entries costs a second or more to parse.
	want := map[string]any{}
	if d.Root == nil || d.Root.Decode(&want) != nil || len(want) == 0 {
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
