package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/setup"
	"github.com/ekstoken/ekstoken/internal/updatekubeconfig"
	"github.com/google/go-cmp/cmp"
)

// parsed runs a command line with setup and update-kubeconfig replaced,
// and returns the Input the one reached got (nil when none was).
func parsed(t *testing.T, args ...string) (in any, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(), Version: "v1.2.3",
		Setup: func(_ context.Context, _ setup.Env, i setup.Input) error { in = i; return nil },
		UpdateKubeconfig: func(_ context.Context, _ updatekubeconfig.Env, i updatekubeconfig.Input) error {
			in = i
			return nil
		},
	})
	if out.Len() > 0 {
		t.Errorf("%q: stdout %q", args, out.String())
	}
	return in, errb.String(), code
}

// The commands only parse: every flag lands in the use case's Input, and
// update-kubeconfig's --set-current defaults as the aws CLI's does (on
// with --name, off with --all).
func TestKubeconfigCommandsParseIntoInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want any
	}{
		{[]string{"setup"}, setup.Input{}},
		{[]string{"setup", "--kubeconfig", "/k", "--context", "a,b", "--context", "c", "--user", "u", "--dry-run", "--absolute"},
			setup.Input{Kubeconfig: "/k", Contexts: []string{"a", "b", "c"}, Users: []string{"u"}, DryRun: true, Absolute: true}},
		{[]string{"setup", "--command", "/opt/bin/ekstoken"}, setup.Input{Command: "/opt/bin/ekstoken"}},
		{[]string{"setup", "--undo", "--kubeconfig", "/k"}, setup.Input{Undo: true, Kubeconfig: "/k"}},
		{[]string{"update-kubeconfig", "--name", "prod"}, updatekubeconfig.Input{Name: "prod", SetCurrent: true}},
		{[]string{"update-kubeconfig", "--name", "prod", "--set-current=false"}, updatekubeconfig.Input{Name: "prod"}},
		{[]string{"update-kubeconfig", "--all"}, updatekubeconfig.Input{All: true}},
		{[]string{"update-kubeconfig", "--all", "--set-current"}, updatekubeconfig.Input{All: true, SetCurrent: true}},
		{[]string{"--region", "eu-west-1", "--profile", "dev", "update-kubeconfig", "--name", "p", "--alias", "a", "--user-alias", "u",
			"--role-arn", "arn:aws:iam::111122223333:role/r", "--kubeconfig", "/k", "--endpoint-url", "https://eks.example", "--dry-run", "--absolute"},
			updatekubeconfig.Input{Name: "p", Region: "eu-west-1", Profile: "dev", Alias: "a", UserAlias: "u", RoleARN: "arn:aws:iam::111122223333:role/r",
				Kubeconfig: "/k", Endpoint: "https://eks.example", DryRun: true, Absolute: true, SetCurrent: true}},
		{[]string{"update-kubeconfig", "--all", "--command", "ekstoken", "--region", "us-east-1"},
			updatekubeconfig.Input{All: true, Command: "ekstoken", Region: "us-east-1"}},
	} {
		got, stderr, code := parsed(t, tc.args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", tc.args, code, stderr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.args, diff)
		}
	}
}

// Flag combinations that cannot mean anything are usage errors, and the
// use case is not reached.
func TestKubeconfigCommandsRefuse(t *testing.T) {
	for _, args := range [][]string{
		{"setup", "--command", "ekstoken", "--absolute"},
		{"setup", "--command", " ekstoken"},
		{"update-kubeconfig", "--name", "x", "--command", "/bin/ekstoken", "--absolute"},
		{"update-kubeconfig", "--name", "x", "--command", "ekstoken\n"},
		{"setup", "--undo", "--command", "ekstoken"},
		{"setup", "--undo", "--dry-run"},
		{"setup", "--undo", "--absolute"},
		{"setup", "--undo", "--context", "a"},
		{"setup", "--undo", "--user", "a"},
		{"update-kubeconfig"},
		{"update-kubeconfig", "--name", "x", "--all"},
		{"update-kubeconfig", "--all", "--alias", "a"},
		{"update-kubeconfig", "--all", "--user-alias", "a"},
		{"setup", "extra"},
	} {
		in, errOut, code := parsed(t, args...)
		if code == 0 || in != nil || !strings.Contains(errOut, "--help") {
			t.Errorf("%q: exit %d, reached with %+v, stderr %q", args, code, in, errOut)
		}
	}
}
