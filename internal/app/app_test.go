package app

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{
		Args: args, Getenv: func(string) string { return "" },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now: time.Now, Home: t.TempDir(), Version: "v1.2.3",
	})
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !regexp.MustCompile(`^ekstoken v1\.2\.3 \(go\S+ \w+/\w+\)\n$`).MatchString(out) {
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
		"token --cluster-name a --refresh-margin 20m": "--refresh-margin 20m0s: must be between 0s and 14m",
		"update-kubeconfig":                           "give either --name or --all",
		"setup --undo --dry-run":                      "--undo takes no other flag",
		"status -o yaml":                              `--output "yaml": use table or json`,
	} {
		out, errOut, code := run(t, strings.Fields(args)...)
		if code == 0 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--help") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q and a pointer to --help", args, code, out, errOut, want)
		}
	}
}
