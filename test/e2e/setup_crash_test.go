//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// staleLockRE is what setup and undo say about a lock left by a killed
// ekstoken: the exact command that removes it.
var staleLockRE = regexp.MustCompile("which is no longer running. kubectl refuses to change the file while it exists: remove it with `rm ([^`]+)`")

// setup killed at every system call that creates, writes, syncs, renames
// or removes a file leaves the kubeconfig whole (the original or what
// setup writes), every undo record complete, and a way back that the
// messages spell out: undo names the stale lock to remove, then restores
// the original; no advice ever copies an empty or partial file.
func TestSetupKilledAnywhere(t *testing.T) {
	t.Parallel()
	strace := testenv.RequireStrace(t)
	s := startSetupEKS(t)
	original := awsKubeconfig(s.URL, s.CAData, "", "p")
	var written string
	{
		_, env := setupSandbox(t)
		kc := filepath.Join(t.TempDir(), "config")
		writeFile(t, kc, original)
		mustEkstoken(t, env, "setup", "--kubeconfig", kc)
		written = string(readFile(t, kc))
	}

	killed := 0
	for _, sys := range []string{"openat", "mkdirat", "write", "fsync", "renameat", "unlinkat"} {
		for n := 1; n <= 60; n++ {
			_, env := setupSandbox(t)
			dir := t.TempDir()
			kc := filepath.Join(dir, "config")
			writeFile(t, kc, original)
			r := run(t, env, strace, "-f", "-qq", "-o", "/dev/null",
				"-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", sys, n), ekstokenBin, "setup", "--kubeconfig", kc)
			if !strings.Contains(r.stderr, "rewrote 1 user") && r.code() == 0 {
				t.Fatalf("%s #%d: setup exited 0 without rewriting:\n%s", sys, n, r.stderr)
			}
			done := r.code() == 0
			if !done {
				killed++
			}
			where := fmt.Sprintf("killed at %s #%d", sys, n)

			// The kubeconfig is whole, and every record complete.
			if got := string(readFile(t, kc)); got != original && got != written {
				t.Fatalf("%s: the kubeconfig is torn:\n%s", where, got)
			}
			for _, rec := range undoRecords(t, env) {
				var v struct{ Original, Written []byte }
				if err := json.Unmarshal(readFile(t, rec), &v); err != nil || string(v.Original) != original || string(v.Written) != written {
					t.Fatalf("%s: undo record %s is incomplete: %v", where, rec, err)
				}
			}

			// The way back, following only what ekstoken says.
			r = ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			if m := staleLockRE.FindStringSubmatch(r.stderr); r.code() != 0 && m != nil {
				if m[1] != kc+".lock" {
					t.Fatalf("%s: undo names lock %s, want %s.lock", where, m[1], kc)
				}
				if err := os.Remove(m[1]); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				r = ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			}
			if r.code() != 0 {
				t.Fatalf("%s: undo fails: exit %d\n%s", where, r.code(), r.stderr)
			}
			if strings.Contains(r.stderr, "cp ") {
				t.Errorf("%s: undo advises a copy:\n%s", where, r.stderr)
			}
			if got := string(readFile(t, kc)); got != original {
				t.Fatalf("%s: after undo the kubeconfig is not the original:\n%s\n%s", where, got, r.stderr)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"config"}) {
				t.Errorf("%s: beside the kubeconfig after undo: %v", where, names)
			}
			if recs := undoRecords(t, env); len(recs) != 0 {
				t.Errorf("%s: undo records left: %v", where, recs)
			}
			// And setup works again.
			mustEkstoken(t, env, "setup", "--kubeconfig", kc)
			if names, _ := filepath.Glob(filepath.Join(undoDir(env), ".*")); len(names) != 0 {
				t.Errorf("%s: temp files left in the undo directory after another setup: %v", where, names)
			}
			if done {
				break // no later call of this kind to kill at
			}
		}
	}
	if killed < 10 {
		t.Errorf("only %d runs were killed: the injection does not reach setup", killed)
	}
	t.Logf("%d setups killed", killed)

	// The same for undo, after a context switch made by hand, so that it
	// splices rather than puts the whole file back.
	switched := strings.Replace(written, "current-context: "+eksARN, "current-context: elsewhere", 1)
	want := strings.Replace(original, "current-context: "+eksARN, "current-context: elsewhere", 1)
	if switched == written || want == original {
		t.Fatal("no current-context line to switch")
	}
	killed = 0
	for _, sys := range []string{"openat", "write", "fsync", "renameat", "unlinkat"} {
		for n := 1; n <= 60; n++ {
			_, env := setupSandbox(t)
			dir := t.TempDir()
			kc := filepath.Join(dir, "config")
			writeFile(t, kc, original)
			mustEkstoken(t, env, "setup", "--kubeconfig", kc)
			writeFile(t, kc, switched)
			r := run(t, env, strace, "-f", "-qq", "-o", "/dev/null",
				"-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", sys, n), ekstokenBin, "setup", "--undo", "--kubeconfig", kc)
			done := r.code() == 0
			if !done {
				killed++
			}
			where := fmt.Sprintf("undo killed at %s #%d", sys, n)
			if got := string(readFile(t, kc)); got != switched && got != want {
				t.Fatalf("%s: the kubeconfig is torn:\n%s", where, got)
			}
			r = ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			if m := staleLockRE.FindStringSubmatch(r.stderr); r.code() != 0 && m != nil {
				os.Remove(m[1])
				r = ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			}
			if r.code() != 0 || strings.Contains(r.stderr, "cp ") {
				t.Fatalf("%s: the next undo: exit %d\n%s", where, r.code(), r.stderr)
			}
			if got := string(readFile(t, kc)); got != want {
				t.Fatalf("%s: after undo the kubeconfig is not the original with the switch:\n%s", where, got)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"config"}) {
				t.Errorf("%s: beside the kubeconfig: %v", where, names)
			}
			if recs := undoRecords(t, env); len(recs) != 0 {
				t.Errorf("%s: undo records left: %v", where, recs)
			}
			if done {
				break
			}
		}
	}
	if killed < 5 {
		t.Errorf("only %d undos were killed: the injection does not reach undo", killed)
	}
	t.Logf("%d undos killed", killed)
}

// A kubeconfig that cannot be replaced by rename (a bind mount: EBUSY) is
// written in place. Killed at any call of that write, it is still one
// kubectl can load: the original, or the rewrite, maybe followed by blank
// lines while it is being cut to length. Never the new text with the old
// one's tail.
func TestSetupInPlaceKilledAnywhere(t *testing.T) {
	t.Parallel()
	strace := testenv.RequireStrace(t)
	// Flow-style args that the rewrite makes shorter, so that the old
	// content's tail would outlive a write that is not cut.
	original := "apiVersion: v1\nkind: Config\nclusters: [{name: c1, cluster: {server: \"https://a.eks.amazonaws.com\"}}]\n" +
		"contexts: [{name: x, context: {cluster: c1, user: u1}}]\ncurrent-context: x\nusers:\n- name: u1\n  user:\n    exec:\n" +
		"      apiVersion: client.authentication.k8s.io/v1beta1\n      interactiveMode: Never\n      command: aws\n" +
		"      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod, --output, json, --profile, a-rather-long-profile-name]\n"
	var written string
	{
		_, env := setupSandbox(t)
		kc := filepath.Join(t.TempDir(), "config")
		writeFile(t, kc, original)
		mustEkstoken(t, env, "setup", "--kubeconfig", kc, "--command", "ekstoken")
		written = string(readFile(t, kc))
	}
	if len(written) >= len(original) {
		t.Fatalf("the rewrite is not shorter than the original (%d >= %d): this test needs one", len(written), len(original))
	}
	killed := 0
	for _, sys := range []string{"pwrite64", "fsync", "ftruncate", "close"} {
		for n := 1; n <= 4; n++ {
			_, env := setupSandbox(t)
			kc := filepath.Join(t.TempDir(), "config")
			writeFile(t, kc, original)
			r := run(t, env, strace, "-f", "-qq", "-o", "/dev/null", "-P", kc,
				"-e", "inject=rename,renameat,renameat2:error=EBUSY",
				"-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", sys, n),
				ekstokenBin, "setup", "--kubeconfig", kc, "--command", "ekstoken")
			if r.code() != 0 {
				killed++
			}
			got := strings.TrimRight(string(readFile(t, kc)), "\n")
			if got != strings.TrimRight(original, "\n") && got != strings.TrimRight(written, "\n") {
				t.Fatalf("killed at %s #%d (exit %d): the kubeconfig is torn:\n%s\nstderr:\n%s", sys, n, r.code(), readFile(t, kc), r.stderr)
			}
			if r.code() == 0 {
				break
			}
		}
	}
	if killed == 0 {
		t.Error("no run was killed: the injection does not reach the in-place write")
	}
	t.Logf("%d in-place setups killed", killed)
}
