package kubeconfig

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Remove takes out exactly the named entries, in every layout of block
// list kubectl and people write (dash at the key's column or indented,
// \r\n line ends, comments between entries, the last entry of a list),
// keeps every other byte, and refuses a flow-style list rather than
// rewrite the file.
func TestRemove(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		rm              map[string][]string
		err             error
	}{
		{
			name: "middle entry, dash at the key's column",
			src:  "clusters:\n- name: a\n  cluster: {server: https://a}\n- name: b # b\n  cluster:\n    server: https://b\n# keep me\n- name: c\n  cluster: {server: https://c}\nusers: []\n",
			rm:   map[string][]string{"clusters": {"b"}},
			want: "clusters:\n- name: a\n  cluster: {server: https://a}\n# keep me\n- name: c\n  cluster: {server: https://c}\nusers: []\n",
		},
		{
			name: "indented dashes, last entry, no final newline",
			src:  "contexts:\n  - name: x\n    context: {cluster: a, user: u}\n  - name: y\n    context: {cluster: b, user: v}",
			rm:   map[string][]string{"contexts": {"y"}},
			want: "contexts:\n  - name: x\n    context: {cluster: a, user: u}\n",
		},
		{
			name: "crlf",
			src:  "users:\r\n- name: u\r\n  user: {token: t}\r\n- name: v\r\n  user: {token: s}\r\nkind: Config\r\n",
			rm:   map[string][]string{"users": {"u"}},
			want: "users:\r\n- name: v\r\n  user: {token: s}\r\nkind: Config\r\n",
		},
		{
			name: "every entry of a list",
			src:  "users:\n- name: u\n  user: {token: t}\nkind: Config\n",
			rm:   map[string][]string{"users": {"u"}, "contexts": {"absent"}},
			want: "users: []\nkind: Config\n",
		},
		{
			name: "flow list",
			src:  "users: [{name: u, user: {token: t}}, {name: v}]\n",
			rm:   map[string][]string{"users": {"u"}},
			err:  ErrInPlace,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Remove([]byte(tc.src), tc.rm)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
