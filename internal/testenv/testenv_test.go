package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	notFound := func(name string) (string, error) {
		return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
	}
	foundAt := func(name string) (string, error) { return "/opt/bin/" + name, nil }
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	type want struct {
		path    string
		verdict verdict
		says    []string
	}
	for _, tool := range []string{"kubectl", "aws", "moto_server", "strace", "some-new-tool"} {
		hint := installHints[tool]
		if hint == "" {
			hint = "install it"
		}
		for _, tc := range []struct {
			name   string
			look   func(string) (string, error)
			getenv func(string) string
			want   want
		}{
			{"found", foundAt, env(), want{"/opt/bin/" + tool, found, nil}},
			{"found in CI", foundAt, env("CI", "true"), want{"/opt/bin/" + tool, found, nil}},
			{"missing fails by default", notFound, env(), want{"", fail, []string{tool, hint, SkipMissingVar + "=1"}}},
			{"missing with CI=false fails", notFound, env("CI", "false"), want{"", fail, []string{tool, hint}}},
			{"missing with opt-out skips", notFound, env(SkipMissingVar, "1"), want{"", skip, []string{tool, hint, SkipMissingVar}}},
			{"opt-out true skips", notFound, env(SkipMissingVar, "true"), want{"", skip, []string{tool}}},
			{"opt-out 0 still fails", notFound, env(SkipMissingVar, "0"), want{"", fail, []string{tool}}},
			{"CI fails", notFound, env("CI", "true"), want{"", fail, []string{tool, hint, "CI=true"}}},
			{"CI=1 fails", notFound, env("CI", "1"), want{"", fail, []string{tool}}},
			{"CI beats the opt-out", notFound, env("CI", "true", SkipMissingVar, "1"), want{"", fail, []string{tool, "CI=true"}}},
		} {
			t.Run(tool+"/"+tc.name, func(t *testing.T) {
				path, v, msg := decide(tool, tc.look, tc.getenv)
				if diff := cmp.Diff(tc.want.path, path); diff != "" {
					t.Errorf("path (-want +got):\n%s", diff)
				}
				if v != tc.want.verdict {
					t.Errorf("verdict %d, want %d (%s)", v, tc.want.verdict, msg)
				}
				for _, s := range tc.want.says {
					if !strings.Contains(msg, s) {
						t.Errorf("message %q does not say %q", msg, s)
					}
				}
			})
		}
	}
}

// recorder is a testing.TB that records instead of stopping the test.
type recorder struct {
	testing.TB
	fatal, skipped string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatal(args ...any)         { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recorder) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }

// RequireTool itself, against a real PATH that holds one tool and not the
// other, and the real environment variables.
func TestRequireToolOnPATH(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a tool on a Windows PATH needs an executable extension")
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		name, ci, optOut    string
		tool                string
		wantPath            string
		wantFatal, wantSkip bool
	}{
		{"present", "", "", "kubectl", tool, false, false},
		{"missing", "", "", "moto_server", "", true, false},
		{"missing, opted out", "", "1", "moto_server", "", false, true},
		{"missing in CI, opted out", "true", "1", "aws", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(SkipMissingVar, tc.optOut)
			r := &recorder{}
			got := RequireTool(r, tc.tool)
			if got != tc.wantPath || (r.fatal != "") != tc.wantFatal || (r.skipped != "") != tc.wantSkip {
				t.Errorf("RequireTool(%s) = %q, fatal %q, skip %q", tc.tool, got, r.fatal, r.skipped)
			}
			if msg := r.fatal + r.skipped; msg != "" && !strings.Contains(msg, tc.tool) {
				t.Errorf("the message does not name %s: %s", tc.tool, msg)
			}
		})
	}
}

func TestPlainKubectl(t *testing.T) {
	// gcloud's layout: PATH has a symlink to a dispatcher beside
	// versioned binaries.
	sdk := filepath.Join(t.TempDir(), "sdk", "bin")
	bin := filepath.Join(t.TempDir(), "bin")
	for _, d := range []string{sdk, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"kubectl", "kubectl.1.9", "kubectl.1.33", "kubectl.1.28", "kubectl.1.x", "kubectl.1.33.bak"} {
		if err := os.WriteFile(filepath.Join(sdk, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(sdk, "kubectl"), filepath.Join(bin, "kubectl")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(sdk, "kubectl.1.33"))
	if err != nil {
		t.Fatal(err)
	}
	if got := plainKubectl(filepath.Join(bin, "kubectl")); filepath.Clean(got) != filepath.Join(filepath.Dir(real), "kubectl.1.33") {
		t.Errorf("plainKubectl = %s, want kubectl.1.33 beside the dispatcher", got)
	}
	// A plain install has no versioned siblings: the kubectl on PATH.
	plain := filepath.Join(t.TempDir(), "kubectl")
	if err := os.WriteFile(plain, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := plainKubectl(plain); got != plain {
		t.Errorf("plainKubectl = %s, want %s", got, plain)
	}
}

// A strace that cannot trace (here: a program that fails like strace
// without ptrace) is decided like a missing one.
func TestRequireStraceThatCannotTrace(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a shell script stands in for strace")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "strace")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		ci, optOut          string
		wantFatal, wantSkip bool
	}{
		{"", "", true, false},
		{"", "1", false, true},
		{"true", "1", true, false},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv(SkipMissingVar, tc.optOut)
		r := &recorder{}
		RequireStrace(r)
		if (r.fatal != "") != tc.wantFatal || (r.skipped != "") != tc.wantSkip {
			t.Errorf("CI=%q opt-out=%q: fatal %q, skip %q", tc.ci, tc.optOut, r.fatal, r.skipped)
		}
		if msg := r.fatal + r.skipped; msg != "" && !strings.Contains(msg, "Operation not permitted") {
			t.Errorf("the message does not say why: %s", msg)
		}
	}
}

// Missing decides as a missing tool does: fail, skip when opted out, and
// fail under CI whatever the opt-out says; the message is kept.
func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		name, ci, optOut    string
		wantFatal, wantSkip bool
	}{
		{"default", "", "", true, false},
		{"opted out", "", "1", false, true},
		{"in CI, opted out", "true", "1", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(SkipMissingVar, tc.optOut)
			r := &recorder{}
			Missing(r, "goreleaser is not built: run release/tools.sh goreleaser")
			if (r.fatal != "") != tc.wantFatal || (r.skipped != "") != tc.wantSkip || !strings.Contains(r.fatal+r.skipped, "release/tools.sh goreleaser") {
				t.Errorf("fatal %q, skip %q", r.fatal, r.skipped)
			}
		})
	}
}
