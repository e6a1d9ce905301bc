package background

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The flag goes at the end of a token command, and right after `exec`,
// before the wrapped plugin's arguments, where it would be the plugin's.
func TestArgvPlacesFlag(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		flagAt int
		want   []string
	}{
		{[]string{"token", "--cluster-name", "prod"}, 0, []string{"ekstoken", "token", "--cluster-name", "prod", Flag}},
		{[]string{"exec", "--", "plugin", "--x"}, 1, []string{"ekstoken", "exec", Flag, "--", "plugin", "--x"}},
		{[]string{"exec", "--ttl", "5m", "plugin"}, 1, []string{"ekstoken", "exec", Flag, "--ttl", "5m", "plugin"}},
		{[]string{"exec"}, 1, []string{"ekstoken", "exec", Flag}},
		{[]string{"exec"}, 5, []string{"ekstoken", "exec", Flag}},
	} {
		r := Request{Executable: "ekstoken", Args: tc.args, FlagAt: tc.flagAt}
		if d := cmp.Diff(tc.want, r.argv()); d != "" {
			t.Errorf("%q at %d: %s", tc.args, tc.flagAt, d)
		}
	}
}
