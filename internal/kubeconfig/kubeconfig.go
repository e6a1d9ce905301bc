// Package kubeconfig is what `ekstoken setup` and `ekstoken
// update-kubeconfig` do to kubeconfig files: which users run EKS tokens
// and what they become (Rewrite), the cluster, context and user entries
// of a cluster (Upsert), setup's undo records (UndoLog), and writing the
// file under kubectl's lock (Write).
//
// The edits themselves are internal/yamledit's splices: only the byte
// ranges that change are replaced, and comments, key order, quoting and
// indentation everywhere else stay byte for byte. Every result is parsed
// again here and compared with the kubeconfig that was meant before it is
// returned, so a splice that went wrong is an error, never a damaged
// kubeconfig.
package kubeconfig

import (
	"fmt"

	"github.com/ekstoken/ekstoken/internal/yamledit"
	"gopkg.in/yaml.v3"
)

// ParseError is a kubeconfig that cannot be parsed or does not have the
// shape of a kubeconfig. Line is 1-based. Callers add the file path:
// fmt.Errorf("%s: %w", path, err).
type ParseError = yamledit.ParseError

// ErrInPlace is returned (wrapped) when an edit cannot be spliced into the
// file without changing something else, which Rewrite and Upsert check by
// parsing their result. Nothing is returned but the error.
var ErrInPlace = yamledit.ErrInPlace

// doc is a parsed kubeconfig.
type doc struct{ *yamledit.Doc }

// parse parses src and checks that it has the shape of a kubeconfig. An
// empty document (no bytes, only whitespace or comments, or an explicit
// null) gives a doc with a nil Root.
func parse(src []byte) (*doc, error) {
	yd, err := yamledit.Parse(src)
	if err != nil {
		return nil, err
	}
	d := &doc{yd}
	root := d.Root
	if root == nil {
		return d, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Line: root.Line, Msg: fmt.Sprintf("a kubeconfig is a mapping (apiVersion, clusters, contexts, users...), this document is %s", yamledit.KindName(root))}
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	for _, key := range []string{"clusters", "contexts", "users"} {
		_, seq := yamledit.MapGet(root, key)
		if seq == nil || yamledit.IsNull(seq) {
			continue
		}
		if seq.Kind != yaml.SequenceNode {
			return nil, &ParseError{Line: seq.Line, Msg: fmt.Sprintf("%s must be a list, found %s", key, yamledit.KindName(seq))}
		}
		for _, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				return nil, &ParseError{Line: item.Line, Msg: fmt.Sprintf("each entry of %s must be a mapping with a name, found %s", key, yamledit.KindName(item))}
			}
			if _, name := yamledit.MapGet(item, "name"); name != nil && name.Kind != yaml.ScalarNode {
				return nil, &ParseError{Line: name.Line, Msg: fmt.Sprintf("the name of an entry of %s must be a string, found %s", key, yamledit.KindName(name))}
			}
		}
	}
	return d, nil
}

// Diff is a unified diff (3 lines of context) from old to new, both headed
// with name; "" when they are equal.
func Diff(name string, old, new []byte) string { return yamledit.Diff(name, old, new) }
