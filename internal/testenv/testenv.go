// Package testenv is the one place where the project's tests decide what to
// do when an external tool they need (kubectl, the aws CLI, moto_server,
// strace, git) is missing, and what -short leaves out.
//
// A missing tool must never turn into a quiet `ok`: outside CI it fails the
// test with the tool's name and how to install it, unless the person running
// the tests opts out with EKSTOKEN_TEST_SKIP_MISSING=1, which skips instead
// (and still names the tool). Under CI=true a missing tool always fails.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// SkipMissingVar is the variable that turns a missing tool from a failure
// into a skip, outside CI.
const SkipMissingVar = "EKSTOKEN_TEST_SKIP_MISSING"

// installHints says how to get each tool the suites use.
var installHints = map[string]string{
	"kubectl":     "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
	"aws":         "install the aws CLI: pip install awscli",
	"moto_server": "install it with: pip install 'moto[server]'",
	"strace":      "install it with: apt-get install strace",
	"git":         "install git",
	"go":          "install Go (https://go.dev/dl/)",
}

// verdict is what a test does about a tool.
type verdict int

const (
	found verdict = iota
	fail
	skip
)

// InCI reports whether the tests run under CI (CI=true, as CI services
// set it).
func InCI() bool { return inCI(os.Getenv) }

func inCI(getenv func(string) string) bool {
	ok, _ := strconv.ParseBool(getenv("CI"))
	return ok
}

// decide looks name up and says what the test does about it, with the
// message it gives.
func decide(name string, lookPath func(string) (string, error), getenv func(string) string) (string, verdict, string) {
	p, err := lookPath(name)
	if err == nil {
		return p, found, ""
	}
	hint := installHints[name]
	if hint == "" {
		hint = "install it"
	}
	v, msg := unusable(fmt.Sprintf("%s is not on PATH (%v): %s", name, err, hint), getenv)
	return "", v, msg
}

// unusable says what a test does when what it needs is not there, and
// completes the message with why.
func unusable(msg string, getenv func(string) string) (verdict, string) {
	if inCI(getenv) {
		return fail, msg + "; under CI=true every tool is required"
	}
	if optOut, _ := strconv.ParseBool(getenv(SkipMissingVar)); optOut {
		return skip, msg + " (skipped: " + SkipMissingVar + " is set)"
	}
	return fail, msg + ", or set " + SkipMissingVar + "=1 to skip the tests that need it"
}

// RequireStrace returns the path of strace once it has traced a program
// here: in a container without ptrace, strace is installed but cannot
// work, and that is decided like a missing tool.
func RequireStrace(t testing.TB) string {
	t.Helper()
	p := RequireTool(t, "strace")
	out, err := exec.Command(p, "-f", "-qq", "-o", os.DevNull, p, "-V").CombinedOutput()
	if err == nil {
		return p
	}
	v, msg := unusable(fmt.Sprintf("strace cannot trace here (%v: %s): run the tests where ptrace is allowed (a container needs --cap-add SYS_PTRACE)",
		err, strings.TrimSpace(string(out))), os.Getenv)
	switch v {
	case fail:
		t.Fatal(msg)
	case skip:
		t.Skip(msg)
	}
	return p
}

// RequireTool returns the path of the tool name on PATH. When it is missing
// the test fails, or skips if the person opted out (see the package
// comment).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, v, msg := decide(name, exec.LookPath, os.Getenv)
	switch v {
	case fail:
		t.Fatal(msg)
	case skip:
		t.Skip(msg)
	}
	return p
}

// SkipIfShort skips a slow test under -short: it names what the test needs
// (a binary build, kubectl, moto_server...) that the fast unit tests do not.
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: " + what)
	}
}

// PlainKubectl returns the real kubectl binary. On machines with the Google
// Cloud SDK, the kubectl on PATH is a dispatcher that picks a versioned
// kubectl.X.Y beside it and runs the exec plugin twice per command; the
// highest kubectl.X.Y in the folder where the PATH entry resolves is the
// plain kubectl it would run. Elsewhere it is the kubectl on PATH.
func PlainKubectl(t testing.TB) string {
	t.Helper()
	p := RequireTool(t, "kubectl")
	return plainKubectl(p)
}

func plainKubectl(onPath string) string {
	real, err := filepath.EvalSymlinks(onPath)
	if err != nil {
		return onPath
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(real), "kubectl.[0-9]*.[0-9]*"))
	best, bestVer := "", []int(nil)
	for _, m := range matches {
		ver := parseVersion(strings.TrimPrefix(filepath.Base(m), "kubectl."))
		if ver == nil {
			continue
		}
		if best == "" || slices.Compare(ver, bestVer) > 0 {
			best, bestVer = m, ver
		}
	}
	if best == "" {
		return onPath
	}
	return best
}

// parseVersion reads "1.33" as [1 33]; anything else is nil.
func parseVersion(s string) []int {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

// Missing decides a test, as a missing tool does, for something else it
// needs that is not there: msg says what and how to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	switch v, m := unusable(msg, os.Getenv); v {
	case fail:
		t.Fatal(m)
	case skip:
		t.Skip(m)
	}
}
