package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/google/go-cmp/cmp"
)

// fileMode is the permission bits of path.
func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// --undo gives back the original, bytes and mode, and forgets its record;
// a second --undo has nothing to do and says so, successfully, as a
// second setup does.
func TestSetupUndo(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	for _, perm := range []os.FileMode{0o600, 0o644} {
		t.Run(perm.String(), func(t *testing.T) {
			_, env := setupSandbox(t)
			kc := filepath.Join(t.TempDir(), "config")
			original := awsKubeconfig(s.URL, s.CAData, "", "")
			writeFile(t, kc, original)
			if err := os.Chmod(kc, perm); err != nil {
				t.Fatal(err)
			}
			mustEkstoken(t, env, "setup", "--kubeconfig", kc)
			if m := fileMode(t, kc); m != perm {
				t.Errorf("setup changed the mode from %v to %v", perm, m)
			}
			recs := undoRecords(t, env)
			if len(recs) != 1 {
				t.Fatalf("undo records %v, want one", recs)
			}
			if m := fileMode(t, recs[0]); m != 0o600 {
				t.Errorf("the undo record has mode %v, want 0600: it holds kubeconfig content", m)
			}
			if m := fileMode(t, undoDir(env)); m != 0o700 {
				t.Errorf("the undo directory has mode %v, want 0700", m)
			}

			r := mustEkstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			if !strings.Contains(r.stderr, kc+": restored the original, byte for byte") {
				t.Errorf("setup --undo stderr does not say it restored the original:\n%s", r.stderr)
			}
			if got := readFile(t, kc); string(got) != original {
				t.Errorf("setup --undo did not restore the original:\n%s", got)
			}
			if m := fileMode(t, kc); m != perm {
				t.Errorf("after --undo the mode is %v, want %v", m, perm)
			}
			if recs := undoRecords(t, env); len(recs) != 0 {
				t.Errorf("setup --undo left its records: %v", recs)
			}
			if names := dirNames(t, filepath.Dir(kc)); !slices.Equal(names, []string{"config"}) {
				t.Errorf("after --undo the directory holds %v", names)
			}

			r = ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			if r.code() != 0 || !strings.Contains(r.stderr, kc+": nothing to undo") {
				t.Errorf("a second --undo: exit %d, want 0 and \"nothing to undo\":\n%s", r.code(), r.stderr)
			}
			if got := readFile(t, kc); string(got) != original {
				t.Errorf("a second --undo changed the file:\n%s", got)
			}
		})
	}

	t.Run("several setups", func(t *testing.T) {
		// Two setups, each of one context: one undo puts both users back.
		_, env := setupSandbox(t)
		kc := filepath.Join(t.TempDir(), "config")
		original := string(s.Kubeconfig(
			fakeeks.User{Name: "a", Command: "aws", Args: dropInArgs},
			fakeeks.User{Name: "b", Command: "aws", Args: dropInArgs}))
		writeFile(t, kc, original)
		mustEkstoken(t, env, "setup", "--kubeconfig", kc, "--context", "a")
		mustEkstoken(t, env, "setup", "--kubeconfig", kc, "--context", "b")
		if recs := undoRecords(t, env); len(recs) != 2 {
			t.Errorf("undo records %v, want one per setup", recs)
		}
		mustEkstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
		if got := readFile(t, kc); string(got) != original {
			t.Errorf("--undo did not go back to the original:\n%s", got)
		}
		if recs := undoRecords(t, env); len(recs) != 0 {
			t.Errorf("setup --undo left its records: %v", recs)
		}
	})

	t.Run("restored by hand", func(t *testing.T) {
		_, env := setupSandbox(t)
		kc := filepath.Join(t.TempDir(), "config")
		original := awsKubeconfig(s.URL, s.CAData, "", "")
		writeFile(t, kc, original)
		mustEkstoken(t, env, "setup", "--kubeconfig", kc)
		writeFile(t, kc, original)
		r := mustEkstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
		if !strings.Contains(r.stderr, kc+": already restored") || strings.Contains(r.stderr, "changed") {
			t.Errorf("--undo after a manual restore does not say it is already restored:\n%s", r.stderr)
		}
		if got := readFile(t, kc); string(got) != original {
			t.Errorf("--undo changed the file:\n%s", got)
		}
	})
}

// Edits made after setup are kept: a note anywhere stays, and a user
// edited since setup is left alone and named, while the others come back.
func TestSetupUndoKeepsEdits(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	kc := filepath.Join(t.TempDir(), "config")
	original := string(s.Kubeconfig(
		fakeeks.User{Name: "a", Command: "aws", Args: dropInArgs},
		fakeeks.User{Name: "b", Command: "aws", Args: dropInArgs},
		fakeeks.User{Name: "c", Command: "aws", Args: dropInArgs}))
	writeFile(t, kc, original)
	mustEkstoken(t, env, "setup", "--kubeconfig", kc)
	written := string(readFile(t, kc))
	// b now runs another ekstoken, and the file gets a note.
	users := strings.Index(written, `"users"`)
	i := users + strings.Index(written[users:], `"name": "b"`)
	j := i + strings.Index(written[i:], `"command": "ekstoken"`)
	edited := written[:j] + `"command": "/opt/ekstoken"` + written[j+len(`"command": "ekstoken"`):] + "# my own note\n"
	writeFile(t, kc, edited)

	for run := 1; run <= 2; run++ {
		r := ekstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
		if r.code() == 0 {
			t.Errorf("--undo %d leaving a user alone exits 0:\n%s", run, r.stderr)
		}
		rec := undoRecords(t, env)
		for _, want := range []string{
			kc + `: left user "b" alone: it was changed after setup rewrote it`,
			"rm " + strings.Join(rec, " "),
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("--undo %d: stderr does not say %q:\n%s", run, want, r.stderr)
			}
		}
		got := readFile(t, kc)
		d := parseKubeconfig(t, got)
		for _, u := range []string{"a", "c"} {
			if c := d.exec(t, u).Command; c != "aws" {
				t.Errorf("--undo %d: user %s runs %q, want aws back", run, u, c)
			}
		}
		if c := d.exec(t, "b").Command; c != "/opt/ekstoken" {
			t.Errorf("--undo %d: user b runs %q, want the edit kept", run, c)
		}
		if !strings.HasSuffix(string(got), "# my own note\n") {
			t.Errorf("--undo %d lost the note:\n%s", run, got)
		}
		if len(rec) != 1 {
			t.Errorf("--undo %d: undo records %v, want the one holding b kept", run, rec)
		}
	}
}

// realKubectl is the newest versioned kubectl beside the kubectl on PATH
// (a dispatcher on some machines), else that kubectl.
func realKubectl(t *testing.T) string {
	t.Helper()
	k := kubectlPath(t)
	resolved, err := filepath.EvalSymlinks(k)
	if err != nil {
		t.Fatal(err)
	}
	versions, _ := filepath.Glob(filepath.Join(filepath.Dir(resolved), "kubectl.1.*"))
	slices.SortFunc(versions, func(a, b string) int {
		return cmpVersion(strings.TrimPrefix(filepath.Base(a), "kubectl."), strings.TrimPrefix(filepath.Base(b), "kubectl."))
	})
	if len(versions) > 0 {
		return versions[len(versions)-1]
	}
	return k
}

// cmpVersion compares dotted numbers: 1.9 < 1.33.
func cmpVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if len(as[i]) != len(bs[i]) {
			return len(as[i]) - len(bs[i])
		}
		if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return len(as) - len(bs)
}

// What kubectx users do all day: after setup, `kubectl config
// use-context` rewrites the whole file in kubectl's own layout. --undo
// still puts the users back, keeps the switch, and kubectl reads the
// result.
func TestSetupUndoAfterKubectlUseContext(t *testing.T) {
	t.Parallel()
	kubectl := realKubectl(t)
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	for _, tc := range []struct{ name, original string }{
		{"aws eks update-kubeconfig", awsKubeconfig(s.URL, s.CAData, "", "p") + "- name: other\n  user:\n    token: static\n"},
		{"eksctl", eksctlKubeconfig(s.URL, s.CAData, eksctlV1alpha1)},
		{"JSON", string(s.Kubeconfig(
			fakeeks.User{Name: "a", Command: "aws", Args: dropInArgs},
			fakeeks.User{Name: "other", Token: "static"}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := filepath.Join(t.TempDir(), "config")
			writeFile(t, kc, tc.original)
			mustEkstoken(t, env, "setup", "--kubeconfig", kc)
			written := readFile(t, kc)

			// A context of its own to switch to, added by kubectl.
			for _, args := range [][]string{
				{"config", "set-context", "elsewhere", "--cluster", parseKubeconfig(t, written).Clusters[0].Name, "--user", "someone"},
				{"config", "use-context", "elsewhere"},
			} {
				r := run(t, env, kubectl, append([]string{"--kubeconfig", kc}, args...)...)
				if r.code() != 0 {
					t.Fatalf("kubectl %v: %v\n%s", args, r.err, r.stderr)
				}
			}
			if bytes.Equal(readFile(t, kc), written) {
				t.Fatal("kubectl did not change the file")
			}
			r := mustEkstoken(t, env, "setup", "--undo", "--kubeconfig", kc)
			if !strings.Contains(r.stderr, "everything else is kept as it is now") {
				t.Errorf("--undo does not say it kept the rest:\n%s", r.stderr)
			}
			got := parseKubeconfig(t, readFile(t, kc))
			want := parseKubeconfig(t, []byte(tc.original))
			if diff := cmp.Diff(want.Users, got.Users); diff != "" {
				t.Errorf("users after --undo are not the original ones (-want +got):\n%s", diff)
			}
			if got.CurrentContext != "elsewhere" {
				t.Errorf("current-context %q after --undo, want kubectl's switch to elsewhere kept", got.CurrentContext)
			}
			if !slices.ContainsFunc(got.Contexts, func(c contextEntry) bool { return c.Name == "elsewhere" }) {
				t.Errorf("the context kubectl added is gone: %+v", got.Contexts)
			}
			// kubectl reads what undo wrote.
			if r := run(t, env, kubectl, "--kubeconfig", kc, "config", "view", "-o", "name"); r.code() != 0 {
				t.Errorf("kubectl cannot read the file after --undo: %s", r.stderr)
			}
			if recs := undoRecords(t, env); len(recs) != 0 {
				t.Errorf("undo records left: %v", recs)
			}
		})
	}
}

// kubectl skips the files of a KUBECONFIG list that do not exist, even in
// a directory that does not exist: so do setup, its dry run and its undo,
// and none creates anything there.
func TestSetupUndoMissingFileInList(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	original := awsKubeconfig(s.URL, s.CAData, "", "")
	writeFile(t, a, original)
	for _, missing := range []string{filepath.Join(dir, "missing-dir", "x"), filepath.Join(dir, "missing")} {
		for _, list := range [][]string{{missing, a}, {a, missing}} {
			env := append(slices.Clone(env), "KUBECONFIG="+strings.Join(list, string(os.PathListSeparator)))
			mustEkstoken(t, env, "setup", "--dry-run")
			mustEkstoken(t, env, "setup")
			if got := parseKubeconfig(t, readFile(t, a)).exec(t, eksARN).Command; got != "ekstoken" {
				t.Fatalf("setup with %v: command %q", list, got)
			}
			r := mustEkstoken(t, env, "setup", "--undo")
			if got := readFile(t, a); string(got) != original {
				t.Errorf("setup --undo with %v did not restore %s:\n%s", list, a, r.stderr)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"a"}) {
				t.Errorf("with %v, %s now holds %v", list, dir, names)
			}
		}
	}
}

// A kubeconfig bind-mounted into a container cannot be replaced by
// rename (EBUSY): setup and undo write it in place. This needs root and a
// private mount namespace; without them the test is skipped, and says so.
func TestSetupUndoBindMounted(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a file (the in-place write is also tested through a seam in internal/kubeconfig)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) for a private mount namespace")
	}
	if out, err := exec.Command(unshare, "-m", "mount", "--bind", "/", "/mnt").CombinedOutput(); err != nil {
		t.Skipf("mounts are not allowed here: %v %s", err, out)
	}
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	dir := t.TempDir()
	host, kc, afterSetup := filepath.Join(dir, "host-config"), filepath.Join(dir, "config"), filepath.Join(dir, "after-setup")
	original := awsKubeconfig(s.URL, s.CAData, "", "")
	writeFile(t, host, original)
	writeFile(t, kc, "")
	script := `set -e
mount --bind "$1" "$2"
"$3" setup --kubeconfig "$2"
cat "$2" > "$4"
"$3" setup --undo --kubeconfig "$2"
`
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	// mount(8) needs the system's PATH; ekstoken is on it too, so setup
	// writes the bare name.
	env = append(env, "PATH="+filepath.Dir(ekstokenBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	r := run(t, env, unshare, "-m", sh, "-c", script, "sh", host, kc, ekstokenBin, afterSetup)
	if r.code() != 0 {
		t.Fatalf("setup and undo of a bind-mounted file: exit %d\n%s", r.code(), r.stderr)
	}
	if got := parseKubeconfig(t, readFile(t, afterSetup)).exec(t, eksARN).Command; got != "ekstoken" {
		t.Errorf("setup did not rewrite the bind-mounted file: command %q\n%s", got, r.stderr)
	}
	if got := readFile(t, host); string(got) != original {
		t.Errorf("undo did not restore the bind-mounted file:\n%s", got)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"after-setup", "config", "host-config"}) {
		t.Errorf("left behind: %v", names)
	}
}
