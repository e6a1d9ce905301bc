package app

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/gettoken"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(), Version: "v1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z",
	})
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !regexp.MustCompile(`^ekstoken v1\.2\.3 \(commit abc, 2026-01-02T03:04:05Z, go\S+ \w+/\w+\)\n$`).MatchString(out) {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _, code := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "ekstoken") || len(out) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}

// Mistakes on the command line: nothing on stdout, one message that says
// what to do, and a pointer to --help.
func TestUsageErrors(t *testing.T) {
	for args, want := range map[string]string{
		"token --bogus":                               "unknown flag: --bogus",
		"token --region eu-west-1":                    "either --cluster-name or --cluster-id must be given",
		"token --cluster-name a --cluster-id b":       "--cluster-name and --cluster-id cannot be used together",
		"token --cluster-name a --output yaml":        `--output "yaml": only json is supported`,
		"token --cluster-name a --refresh-margin 20m": "--refresh-margin 20m0s: must be at least 0s and less than 14m",
		"update-kubeconfig":                           "give either --name or --all",
		"setup --undo --dry-run":                      "--undo takes no other flag",
		"status -o yaml":                              `--output "yaml": use table or json`,
		"version -o yaml":                             `--output "yaml": use text or json`,
		"version extra":                               `unexpected argument "extra"`,
	} {
		out, errOut, code := run(t, strings.Fields(args)...)
		if code == 0 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--help") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q and a pointer to --help", args, code, out, errOut, want)
		}
	}
}

// runToken runs a token command line with the use case replaced, and
// reports whether it was reached.
func runToken(t *testing.T, args ...string) (reached bool, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(), Version: "v1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z",
		GetToken: func(context.Context, gettoken.Env, gettoken.Input) error { reached = true; return nil },
	})
	return reached, errb.String(), code
}

// The --refresh-margin message states the bounds it enforces: every value
// it refuses lies outside them, every value inside them is accepted.
func TestRefreshMarginBounds(t *testing.T) {
	for _, m := range []time.Duration{-time.Second, tokencache.MaxMargin, tokencache.MaxMargin + time.Second, 20 * time.Minute} {
		reached, stderr, code := runToken(t, "token", "--cluster-name", "a", "--refresh-margin", m.String())
		if reached || code == 0 || !strings.Contains(stderr, "must be at least 0s and less than 14m ") {
			t.Errorf("--refresh-margin %v: reached %v, exit %d, stderr %q", m, reached, code, stderr)
		}
	}
	for _, m := range []time.Duration{0, time.Minute, tokencache.MaxMargin - time.Second} {
		if reached, stderr, _ := runToken(t, "token", "--cluster-name", "a", "--refresh-margin", m.String()); !reached {
			t.Errorf("--refresh-margin %v refused: %s", m, stderr)
		}
	}
}

// Role flags without the role: a usage error, never silently ignored; with
// --role-arn (or its alias) they pass, as does the default session name.
func TestRoleFlagsNeedRole(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // "" means accepted
	}{
		{[]string{"--external-id", "x"}, "--external-id is sent only when assuming a role"},
		{[]string{"--external-id=ext-4711"}, "--external-id is sent only when assuming a role"},
		{[]string{"--session-name", "alice"}, "--session-name names the session of --role-arn"},
		{[]string{"--session-name", "alice", "--external-id", "x"}, "add --role-arn"},
		{[]string{"--session-name", tokencache.DefaultSessionName}, ""},
		{[]string{"--role-arn", "arn:aws:iam::1:role/r", "--external-id", "x", "--session-name", "alice"}, ""},
		{[]string{"--role", "arn:aws:iam::1:role/r", "--external-id", "x"}, ""},
	} {
		for _, form := range [][]string{{"token"}, {"eks", "get-token"}} {
			args := append(append(form, "--cluster-name", "a"), tt.args...)
			reached, stderr, code := runToken(t, args...)
			switch {
			case tt.want == "" && !reached:
				t.Errorf("%v refused: %s", args, stderr)
			case tt.want != "" && (reached || code == 0 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "--help")):
				t.Errorf("%v: reached %v, exit %d, stderr %q; want a usage error with %q", args, reached, code, stderr, tt.want)
			}
		}
	}
}

func TestVersionFlag(t *testing.T) {
	want, _, _ := run(t, "version")
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		out, stderr, code := run(t, args...)
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, out, stderr, want)
		}
	}
}

// `ekstoken eks update-kubeconfig` points to ekstoken's own command, and
// the help names no aws eks command beyond get-token.
func TestEksSubcommands(t *testing.T) {
	out, stderr, code := run(t, "eks", "update-kubeconfig", "--name", "a")
	if code == 0 || out != "" || !strings.Contains(stderr, "`ekstoken update-kubeconfig`") {
		t.Errorf("eks update-kubeconfig: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	help, _, _ := run(t, "--help")
	for _, line := range strings.Split(help, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "eks" && !strings.Contains(line, "get-token") {
			t.Errorf("root help claims more of aws eks than get-token: %q", line)
		}
	}
	if strings.Contains(help, "`eks` commands") {
		t.Errorf("root help claims the aws CLI's eks commands: %s", help)
	}
}

// pflag turns a backquoted word in a flag's usage into its value name, so
// `--sso-login aws sso login` would read as taking an argument. No flag of
// any command may get a value name that is a phrase, and a bool none.
func TestFlagUsageHasNoPhraseValueNames(t *testing.T) {
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				name, _ := pflag.UnquoteUsage(f)
				if strings.Contains(name, " ") || (f.Value.Type() == "bool" && name != "") {
					t.Errorf("%s --%s shows value name %q", c.CommandPath(), f.Name, name)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
