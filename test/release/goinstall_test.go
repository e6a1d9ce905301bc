package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

// A plain `go install ./cmd/ekstoken` in a clone, stamped by nobody,
// reports Go's pseudo-version of the commit, the full commit hash and its
// time, not "dev". The clone is of HEAD: Go records no VCS information in
// a linked git worktree (golang/go#58218), which this checkout may be.
func TestGoInstallReportsCommit(t *testing.T) {
	testenv.SkipIfShort(t, "clones the repository and builds the binary")
	testenv.RequireTool(t, "go")
	testenv.RequireTool(t, "git")
	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	head := git(t, root, "rev-parse", "HEAD")
	when, err := time.Parse(time.RFC3339, git(t, root, "show", "-s", "--format=%cI", "HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "ekstoken")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-checkout", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if out, err := exec.Command("git", "-C", clone, "checkout", "--quiet", head).CombinedOutput(); err != nil {
		t.Fatalf("git checkout: %v\n%s", err, out)
	}
	gobin := t.TempDir()
	install := exec.Command("go", "install", "./cmd/ekstoken")
	install.Dir = clone
	// Plain: GOFLAGS is Go's default. This machine may set another, in the
	// environment or in go env's file (-buildvcs=false, say), which is not
	// what a person who runs go install has.
	install.Env = append(harness.Without(os.Environ(), "GOFLAGS", "GOOS", "GOARCH"), "GOFLAGS=-buildvcs=auto", "GOBIN="+gobin, devbin.StaticEnv)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/ekstoken: %v\n%s", err, out)
	}
	sb := harness.New(t, harness.Options{})
	res := harness.Proc{Env: sb.Env()}.Run(t, filepath.Join(gobin, "ekstoken"), "version", "-o", "json")
	var v struct {
		Version, Commit, Date string
		Modified              bool
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil || res.Code() != 0 {
		t.Fatalf("version -o json: exit %d, %v, %q, stderr %q", res.Code(), err, res.Stdout, res.Stderr)
	}
	// v0.0.0-20261129145012-27b0bbaf720d with no tag before it, or
	// vX.Y.(Z+1)-0.<time>-<commit> after one, or the tag itself.
	pseudo := regexp.MustCompile(`^v\d+\.\d+\.\d+(-.*)?[.-]` + when.UTC().Format("20060102150405") + `-` + head[:12] + `$`)
	tag := strings.TrimSpace(gitOr(root, "describe", "--tags", "--exact-match", "HEAD"))
	if got, err := time.Parse(time.RFC3339, v.Date); err != nil || !got.Equal(when) ||
		v.Commit != head || v.Modified || !(pseudo.MatchString(v.Version) || tag != "" && v.Version == tag) {
		t.Errorf("version -o json: %+v; want the pseudo-version of %s, that commit, its time %s, not modified", v, head, when.Format(time.RFC3339))
	}
}

// gitOr is git's output, or "" when it fails (no tag, say).
func gitOr(root string, args ...string) string {
	out, _ := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
	return string(out)
}
