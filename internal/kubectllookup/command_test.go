package kubectllookup

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Command writes the bare name only when kubectl's PATH lookup would
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
	krew := dir("krew", "bin") // krew links the plugin name to self
	if err := os.Symlink(self, filepath.Join(krew, PluginName)); err != nil {
		t.Fatal(err)
	}
	otherKrew := dir("otherkrew") // another build's krew link
	file(filepath.Join(otherKrew, PluginName), 0o755)
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
		{name: "krew link on PATH", path: path(krew), want: filepath.Join(krew, PluginName), note: "krew's link"},
		{name: "krew link behind another ekstoken", path: path(other, krew), want: filepath.Join(krew, PluginName), note: "not this binary"},
		{name: "an ekstoken link wins over the krew link", path: path(krew, brew), want: "ekstoken"},
		{name: "absolute, krew link on PATH", path: path(otherKrew, krew), absolute: true, want: filepath.Join(krew, PluginName)},
		{name: "another build's krew link", path: path(otherKrew), want: self, note: "not on PATH"},
		{name: "forced", path: "", forced: "ekstoken", want: "ekstoken"},
		{name: "forced path", path: path(brew), forced: "/usr/local/bin/ekstoken", want: "/usr/local/bin/ekstoken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := Self{
				Getenv:     func(k string) string { return map[string]string{"PATH": tc.path}[k] },
				Executable: func() (string, error) { return self, nil },
			}
			got, err := Command(env, tc.forced, tc.absolute)
			if err != nil {
				t.Fatal(err)
			}
			if got.Command != tc.want {
				t.Errorf("command %q, want %q", got.Command, tc.want)
			}
			switch {
			case tc.note == "" && got.Note != "":
				t.Errorf("unexpected note %q", got.Note)
			case tc.note != "" && !strings.Contains(got.Note, tc.note):
				t.Errorf("note %q, want it to contain %q", got.Note, tc.note)
			case tc.note != "" && (strings.Contains(got.Note, "\n") || !strings.Contains(got.Note, got.Command) || !strings.Contains(got.Note, "PATH")):
				t.Errorf("note %q: want one line naming the path written and how to get the bare name", got.Note)
			}
		})
	}

	// A binary that cannot say where it is: the bare name only when PATH
	// has one, else an error that says what to pass.
	unknown := Self{
		Getenv:     func(k string) string { return map[string]string{"PATH": brew}[k] },
		Executable: func() (string, error) { return "", errors.New("no /proc") },
	}
	if got, err := Command(unknown, "", false); err != nil || got.Command != "ekstoken" {
		t.Errorf("unknown executable, ekstoken on PATH: %+v, %v", got, err)
	}
	unknown.Getenv = func(string) string { return "" }
	for _, abs := range []bool{false, true} {
		if _, err := Command(unknown, "", abs); err == nil || !strings.Contains(err.Error(), "--command") {
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
		env := Self{Getenv: func(string) string { return "" }, Executable: func() (string, error) { return self, nil }}
		if got, err := Command(env, "", abs); err == nil || !strings.Contains(err.Error(), "go install") {
			t.Errorf("absolute=%v: %+v, %v; want an error saying to install it", abs, got, err)
		}
	}
	env := Self{Getenv: func(k string) string { return map[string]string{"PATH": tmp}[k] }, Executable: func() (string, error) { return self, nil }}
	if got, err := Command(env, "", false); err != nil || got.Command != "ekstoken" {
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

// CheckFlags refuses both flags at once and a --command with space
// around it, which kubectl would look up as written.
func TestCheckFlags(t *testing.T) {
	for _, tc := range []struct {
		command  string
		absolute bool
		ok       bool
	}{
		{"", false, true}, {"", true, true}, {"ekstoken", false, true}, {"/usr/local/bin/ekstoken", false, true},
		{"ekstoken", true, false}, {" ekstoken", false, false}, {"ekstoken\t", false, false}, {"/bin/ekstoken\n", false, false},
	} {
		if err := CheckFlags(tc.command, tc.absolute); (err == nil) != tc.ok {
			t.Errorf("CheckFlags(%q, %v) = %v, want ok=%v", tc.command, tc.absolute, err, tc.ok)
		}
	}
}

// Kubeconfigs reads as kubectl does: the flag alone, else each file of
// KUBECONFIG once in order (empty entries dropped), else ~/.kube/config.
func TestKubeconfigs(t *testing.T) {
	sep := string(os.PathListSeparator)
	home := filepath.Join("home", "me")
	for _, tc := range []struct {
		name, flag, kubeconfig, home string
		want                         []string
		err                          bool
	}{
		{name: "flag beats KUBECONFIG", flag: "x", kubeconfig: "a" + sep + "b", home: home, want: []string{"x"}},
		{name: "list", kubeconfig: "a" + sep + sep + "b" + sep + "a" + sep + "c", home: home, want: []string{"a", "b", "c"}},
		{name: "empty list", kubeconfig: sep, home: home, want: []string{filepath.Join(home, ".kube", "config")}},
		{name: "default", home: home, want: []string{filepath.Join(home, ".kube", "config")}},
		{name: "no home", err: true},
		{name: "no home, flag", flag: "x", want: []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Kubeconfigs(tc.flag, func(k string) string { return map[string]string{"KUBECONFIG": tc.kubeconfig}[k] }, tc.home)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error=%v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}
