package kubeconfig

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"

	"github.com/ekstoken/ekstoken/internal/yamledit"
	"gopkg.in/yaml.v3"
)

// ContextRef is a context and the cluster and user it joins.
type ContextRef struct{ Name, Cluster, User string }

// ExecUser is a user entry that runs an exec credential plugin.
type ExecUser struct {
	Name string
	Env  []EnvVar
}

// Refs lists the contexts of kubeconfig src, and its users that run an
// exec plugin with the environment they give it: what a caller needs to
// tell its own entries (by a variable it set) from the rest.
func Refs(src []byte) (contexts []ContextRef, users []ExecUser, err error) {
	var kc struct {
		Contexts []struct {
			Name    string `yaml:"name"`
			Context struct {
				Cluster string `yaml:"cluster"`
				User    string `yaml:"user"`
			} `yaml:"context"`
		} `yaml:"contexts"`
		Users []struct {
			Name string `yaml:"name"`
			User struct {
				Exec *struct {
					Env []EnvVar `yaml:"env"`
				} `yaml:"exec"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if _, err := parse(src); err != nil {
		return nil, nil, err
	}
	if err := yaml.Unmarshal(src, &kc); err != nil {
		return nil, nil, err
	}
	for _, c := range kc.Contexts {
		contexts = append(contexts, ContextRef{Name: c.Name, Cluster: c.Context.Cluster, User: c.Context.User})
	}
	for _, u := range kc.Users {
		if u.User.Exec != nil {
			users = append(users, ExecUser{Name: u.Name, Env: u.User.Exec.Env})
		}
	}
	return contexts, users, nil
}

// Remove takes the entries named in remove ("clusters", "contexts",
// "users" to the names to take out of that list) out of kubeconfig src,
// every other byte kept. A list left empty becomes []. It edits block
// lists whose entries start on their dash's line, as kubectl and the aws
// CLI write them; anything else (a JSON kubeconfig) is refused with
// ErrInPlace rather than rewritten. The result is parsed and compared
// with src less those entries before it is returned.
func Remove(src []byte, remove map[string][]string) ([]byte, error) {
	d, err := parse(src)
	if err != nil {
		return nil, err
	}
	if d.Root == nil {
		return src, nil
	}
	var edits []yamledit.Edit
	for _, key := range []string{"clusters", "contexts", "users"} {
		names := map[string]bool{}
		for _, n := range remove[key] {
			names[n] = true
		}
		k, seq := yamledit.MapGet(d.Root, key)
		if len(names) == 0 || seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		var gone []*yaml.Node
		for _, it := range seq.Content {
			if n, _ := yamledit.ScalarValue(it, "name"); names[n] {
				gone = append(gone, it)
			}
		}
		if len(gone) == 0 {
			continue
		}
		if seq.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("%w: the %s list is in flow style (JSON); have kubectl write the file once (kubectl config view --raw > new) and run again", ErrInPlace, key)
		}
		if len(gone) == len(seq.Content) {
			s, err := d.AfterColon(k)
			if err != nil {
				return nil, err
			}
			e, err := d.ValueEnd(k, seq)
			if err != nil {
				return nil, err
			}
			edits = append(edits, yamledit.Replace(s, e, " []"))
			continue
		}
		for _, it := range gone {
			start := d.Start(it)
			ls := bytes.LastIndexByte(d.Src[:start], '\n') + 1
			if string(bytes.TrimSpace(d.Src[ls:start])) != "-" {
				return nil, fmt.Errorf("%w: line %d: the entry does not start on its dash's line", ErrInPlace, it.Line)
			}
			end, err := d.End(it, seq.Column-1)
			if err != nil {
				return nil, err
			}
			end = d.EOL(end)
			if end < len(d.Src) && d.Src[end] == '\r' {
				end++
			}
			if end < len(d.Src) && d.Src[end] == '\n' {
				end++
			}
			edits = append(edits, yamledit.Replace(ls, end, ""))
		}
	}
	if len(edits) == 0 {
		return src, nil
	}
	out, err := yamledit.Apply(src, edits)
	if err != nil {
		return nil, err
	}
	if err := verifyRemove(src, out, remove); err != nil {
		return nil, err
	}
	return out, nil
}

// verifyRemove checks that out is src without the named entries, and
// nothing else changed in meaning.
func verifyRemove(src, out []byte, remove map[string][]string) error {
	var want, got map[string]any
	if err := yaml.Unmarshal(src, &want); err != nil {
		return err
	}
	if _, err := parse(out); err != nil {
		return fmt.Errorf("%w: the result does not parse: %w", ErrInPlace, err)
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("%w: %w", ErrInPlace, err)
	}
	for key, names := range remove {
		list, ok := want[key].([]any)
		if !ok {
			continue
		}
		kept := []any{}
		for _, it := range list {
			m, _ := it.(map[string]any)
			n, _ := m["name"].(string)
			if !slices.Contains(names, n) {
				kept = append(kept, it)
			}
		}
		want[key] = kept
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%w: removing the entries would change more than them", ErrInPlace)
	}
	return nil
}
