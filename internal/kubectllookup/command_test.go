package app

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// execCommand writes the bare name only when kubectl's PATH lookup would
// find this very binary, and otherwise the path PATH gives for it (never
// the symlink-resolved one), saying why on one line.
func TestExecCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks and exec bits")
	}
	root := t.TempDir()
	dir := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	file := func(path string, mode os.FileMode) string {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+path+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// self is where os.Executable may point: a versioned, resolved path.
	self := file(filepath.Join(dir("Cellar", "ekstoken", "1.2.0", "bin"), "ekstoken"), 0o755)
	brew := dir("brew", "bin") // a symlink to self, as Homebrew links it
	if err := os.Symlink(self, filepath.Join(brew, "ekstoken")); err != nil {
		t.Fatal(err)
	}
	hard := dir("hard") // a hard link: the same file under another name
	if err := os.Link(self, filepath.Join(hard, "ekstoken")); err != nil {
		t.Fatal(err)
	}
	other := dir("other") // an older ekstoken: a different file
	file(filepath.Join(other, "ekstoken"), 0o755)
	noexec := dir("noexec")
	file(filepath.Join(noexec, "ekstoken"), 0o644)
	isDir := dir("isdir")
	dir("isdir", "ekstoken")
	selfDir := filepath.Dir(self)
	rel, err := filepath.Rel(mustGetwd(t), selfDir)
	if err != nil {
		t.Fatal(err)
	}
	path := func(dirs ...string) string { return strings.Join(dirs, string(os.PathListSeparator)) }

	for _, tc := range []struct {
		name     string
		path     string
		absolute bool
		forced   string
		want     string
		note     string // a substring of the note; "" means no note
	}{
		{name: "link on PATH", path: path(other+"-missing", brew), want: "ekstoken"},
		{name: "hard link on PATH", path: path(hard), want: "ekstoken"},
		{name: "self dir on PATH", path: path(selfDir), want: "ekstoken"},
		{name: "empty PATH", path: "", want: self, note: "`ekstoken` is not on PATH"},
		{name: "unrelated PATH", path: path(dir("empty"), "/nonexistent"), want: self, note: "`ekstoken` is not on PATH"},
		{name: "another ekstoken first", path: path(other), want: self, note: filepath.Join(other, "ekstoken") + ", not this binary"},
		{name: "another ekstoken before the link", path: path(other, brew), want: filepath.Join(brew, "ekstoken"), note: "not this binary"},
		{name: "not executable", path: path(noexec), want: self, note: "not on PATH"},
		{name: "a directory", path: path(isDir), want: self, note: "not on PATH"},
		{name: "relative dir", path: path(rel), want: self, note: "not on PATH"},
		{name: "absolute, link on PATH", path: path(brew), absolute: true, want: filepath.Join(brew, "ekstoken")},
		{name: "absolute, behind another", path: path(other, brew), absolute: true, want: filepath.Join(brew, "ekstoken")},
		{name: "absolute, not on PATH", path: path(other), absolute: true, want: self},
		{name: "forced", path: "", forced: "ekstoken", want: "ekstoken"},
		{name: "forced path", path: path(brew), forced: "/usr/local/bin/ekstoken", want: "/usr/local/bin/ekstoken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &Env{
				Getenv:     func(k string) string { return map[string]string{"PATH": tc.path}[k] },
				Executable: func() (string, error) { return self, nil },
			}
			got, err := execCommand(env, tc.forced, tc.absolute)
			if err != nil {
				t.Fatal(err)
			}
			if got.command != tc.want {
				t.Errorf("command %q, want %q", got.command, tc.want)
			}
			switch {
			case tc.note == "" && got.note != "":
				t.Errorf("unexpected note %q", got.note)
			case tc.note != "" && !strings.Contains(got.note, tc.note):
				t.Errorf("note %q, want it to contain %q", got.note, tc.note)
			case tc.note != "" && (strings.Contains(got.note, "\n") || !strings.Contains(got.note, got.command) || !strings.Contains(got.note, "PATH")):
				t.Errorf("note %q: want one line naming the path written and how to get the bare name", got.note)
			}
		})
	}

	// A binary that cannot say where it is: the bare name only when PATH
	// has one, else an error that says what to pass.
	unknown := &Env{
		Getenv:     func(k string) string { return map[string]string{"PATH": brew}[k] },
		Executable: func() (string, error) { return "", errors.New("no /proc") },
	}
	if got, err := execCommand(unknown, "", false); err != nil || got.command != "ekstoken" {
		t.Errorf("unknown executable, ekstoken on PATH: %+v, %v", got, err)
	}
	unknown.Getenv = func(string) string { return "" }
	for _, abs := range []bool{false, true} {
		if _, err := execCommand(unknown, "", abs); err == nil || !strings.Contains(err.Error(), "--command") {
			t.Errorf("unknown executable, absolute=%v: %v, want an error naming --command", abs, err)
		}
	}
}

// A binary from `go run` is deleted when it exits: its path is never
// written, though the bare name still is when PATH has ekstoken.
func TestExecCommandRefusesGoRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("exec bits")
	}
	root := t.TempDir()
	tmp := filepath.Join(root, "go-build2301", "b001", "exe")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(tmp, "ekstoken")
	if err := os.WriteFile(self, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, abs := range []bool{false, true} {
		env := &Env{Getenv: func(string) string { return "" }, Executable: func() (string, error) { return self, nil }}
		if got, err := execCommand(env, "", abs); err == nil || !strings.Contains(err.Error(), "go install") {
			t.Errorf("absolute=%v: %+v, %v; want an error saying to install it", abs, got, err)
		}
	}
	env := &Env{Getenv: func(k string) string { return map[string]string{"PATH": tmp}[k] }, Executable: func() (string, error) { return self, nil }}
	if got, err := execCommand(env, "", false); err != nil || got.command != "ekstoken" {
		t.Errorf("go run binary on PATH: %+v, %v", got, err)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// setup and update-kubeconfig refuse --command together with --absolute.
func TestCommandFlagConflicts(t *testing.T) {
	for _, args := range [][]string{
		{"setup", "--command", "ekstoken", "--absolute"},
		{"update-kubeconfig", "--name", "x", "--command", "/bin/ekstoken", "--absolute"},
		{"setup", "--undo", "--command", "ekstoken"},
	} {
		out, errOut, code := run(t, args...)
		if code == 0 || out != "" || !strings.Contains(errOut, "--help") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	got := []string{}
	for _, s := range []string{"ekstoken", " ekstoken"} {
		if err := checkCommandFlags(s, false); err != nil {
			got = append(got, s)
		}
	}
	if diff := cmp.Diff([]string{" ekstoken"}, got); diff != "" {
		t.Errorf("refused --command values (-want +got):\n%s", diff)
	}
}

// A user that an earlier setup pointed at the bare name, on a machine
// where kubectl will not find it, is named with what to do; a user that
// runs ekstoken by its path is left alone quietly.
func TestSetupNamesBareUsersKubectlCannotRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("exec bits")
	}
	dir := t.TempDir()
	self := filepath.Join(dir, "bin", "ekstoken")
	if err := os.MkdirAll(filepath.Dir(self), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(self, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "config")
	user := func(name, command string) string {
		return "- name: " + name + "\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: " + command + "\n      args: [token, --cluster-name, c, --region, eu-west-1]\n"
	}
	src := "apiVersion: v1\nusers:\n" + user("bare", "ekstoken") + user("abs", "/usr/local/bin/ekstoken")
	if err := os.WriteFile(kc, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", filepath.Dir(self)} {
		var out, errb strings.Builder
		code := Run(t.Context(), Env{
			Args: []string{"setup", "--kubeconfig", kc}, Getenv: func(k string) string { return map[string]string{"PATH": path}[k] },
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Now: time.Now, Home: dir,
			Executable: func() (string, error) { return self, nil },
		})
		warned := strings.Contains(errb.String(), `"bare" alone: already runs ekstoken, but`) && strings.Contains(errb.String(), "command to "+self)
		if code != 0 || warned != (path == "") || strings.Contains(errb.String(), `"abs" alone: already runs ekstoken, but`) {
			t.Errorf("PATH %q: exit %d, stderr:\n%s", path, code, errb.String())
		}
	}
}
