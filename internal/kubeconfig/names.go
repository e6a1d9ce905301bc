package kubeconfig

import (
	"github.com/ekstoken/ekstoken/internal/yamledit"
	"gopkg.in/yaml.v3"
)

// Names says which contexts kubeconfig src defines, with the user each
// one uses, and which users it defines. A file that cannot be parsed gives
// a *ParseError naming the line.
func Names(src []byte) (contextUsers map[string]string, users []string, err error) {
	d, err := parse(src)
	if err != nil {
		return nil, nil, err
	}
	contextUsers = map[string]string{}
	if d.Root == nil {
		return contextUsers, nil, nil
	}
	if _, seq := yamledit.MapGet(d.Root, "contexts"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, e := range seq.Content {
			name, _ := yamledit.ScalarValue(e, "name")
			_, ctx := yamledit.MapGet(e, "context")
			user, _ := yamledit.ScalarValue(ctx, "user")
			if _, seen := contextUsers[name]; !seen {
				contextUsers[name] = user
			}
		}
	}
	return contextUsers, entryNames(d, "users"), nil
}
