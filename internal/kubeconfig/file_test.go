package kubeconfig

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var (
	t0       = time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)
	oldBytes = []byte("apiVersion: v1\n# before\nkind: Config\n")
	newBytes = []byte("apiVersion: v1\n# after\nkind: Config\n")
)

func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// noWiderThan checks that no file in dir has a permission bit the
// original did not.
func noWiderThan(t *testing.T, dir string, mode fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if m := modeOf(t, filepath.Join(dir, e.Name())); m&^mode != 0 {
			t.Errorf("%s has mode %v, wider than %v", e.Name(), m, mode)
		}
	}
}

func TestWriteUndo(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o644, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config")
			writeFile(t, path, oldBytes, mode)

			backup, err := Write(path, oldBytes, newBytes, t0)
			if err != nil {
				t.Fatal(err)
			}
			if want := path + ".ekstoken-backup-20261127T073000Z"; backup != want {
				t.Errorf("backup %s, want %s", backup, want)
			}
			if got := mustRead(t, path); !bytes.Equal(got, newBytes) {
				t.Errorf("file: %q", got)
			}
			if got := mustRead(t, backup); !bytes.Equal(got, oldBytes) {
				t.Errorf("backup: %q", got)
			}
			if runtime.GOOS != "windows" {
				for _, p := range []string{path, backup, backup + ".written"} {
					if m := modeOf(t, p); m != mode {
						t.Errorf("%s: mode %v, want %v", filepath.Base(p), m, mode)
					}
				}
			}
			if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("lock left behind: %v", err)
			}
			noWiderThan(t, dir, mode)

			from, err := Undo(path)
			if err != nil {
				t.Fatal(err)
			}
			if from != backup {
				t.Errorf("restored from %s, want %s", from, backup)
			}
			if got := mustRead(t, path); !bytes.Equal(got, oldBytes) {
				t.Errorf("after Undo: %q", got)
			}
			if runtime.GOOS != "windows" && modeOf(t, path) != mode {
				t.Errorf("after Undo: mode %v", modeOf(t, path))
			}
			noWiderThan(t, dir, mode)
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}
			if _, err := Undo(path); !errors.Is(err, ErrNoBackup) {
				t.Errorf("second Undo: %v", err)
			}
		})
	}
}

// Two writes (in the same second, even) undo one step at a time.
func TestUndoSteps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	v := [][]byte{[]byte("a: 1\n"), []byte("a: 2\n"), []byte("a: 3\n")}
	writeFile(t, path, v[0], 0o600)
	b1, err := Write(path, v[0], v[1], t0)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Write(path, v[1], v[2], t0)
	if err != nil {
		t.Fatal(err)
	}
	if b2 != b1+".1" {
		t.Errorf("second backup in the same second: %s", b2)
	}
	if bs, _ := Backups(path); len(bs) != 2 || bs[0] != b1 || bs[1] != b2 {
		t.Errorf("Backups: %v", bs)
	}
	for i, want := range []struct {
		from    string
		content []byte
	}{{b2, v[1]}, {b1, v[0]}} {
		from, err := Undo(path)
		if err != nil || from != want.from || !bytes.Equal(mustRead(t, path), want.content) {
			t.Errorf("Undo %d: %s %v %q", i, from, err, mustRead(t, path))
		}
	}
	if _, err := Undo(path); !errors.Is(err, ErrNoBackup) {
		t.Errorf("third Undo: %v", err)
	}
}

func TestUndoRefusesAfterForeignEdit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	writeFile(t, path, oldBytes, 0o600)
	backup, err := Write(path, oldBytes, newBytes, t0)
	if err != nil {
		t.Fatal(err)
	}
	edited := append(append([]byte{}, newBytes...), "current-context: by-hand\n"...)
	writeFile(t, path, edited, 0o600)

	_, err = Undo(path)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Undo: %v", err)
	}
	for _, want := range []string{"changed after ekstoken wrote it", "+current-context: by-hand", "cp " + backup + " " + path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if got := mustRead(t, path); !bytes.Equal(got, edited) {
		t.Errorf("file touched: %q", got)
	}
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("backup gone: %v", err)
	}

	// A removed file is not restored either.
	os.Remove(path)
	if _, err := Undo(path); !errors.Is(err, ErrChanged) {
		t.Errorf("Undo of a removed file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed file came back: %v", err)
	}
}

func TestWriteRefusesWhileLocked(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 200 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	writeFile(t, path, oldBytes, 0o600)
	writeFile(t, path+".lock", nil, 0o600)

	start := time.Now()
	_, err := Write(path, oldBytes, newBytes, t0)
	if err == nil || !strings.Contains(err.Error(), "another kubectl or ekstoken is editing it") {
		t.Fatalf("Write under a lock: %v", err)
	}
	if time.Since(start) < lockWait {
		t.Errorf("gave up after %v, before waiting %v", time.Since(start), lockWait)
	}
	if got := mustRead(t, path); !bytes.Equal(got, oldBytes) {
		t.Errorf("file touched: %q", got)
	}
	if bs, _ := Backups(path); len(bs) != 0 {
		t.Errorf("backups made: %v", bs)
	}
	if _, err := Undo(path); err == nil || !strings.Contains(err.Error(), "is locked") {
		t.Errorf("Undo under a lock: %v", err)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("someone else's lock removed: %v", err)
	}

	// A lock released while waiting is taken.
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.Remove(path + ".lock")
	}()
	if _, err := Write(path, oldBytes, newBytes, t0); err != nil {
		t.Errorf("Write after the lock went: %v", err)
	}
}

func TestWriteRefusesChangedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	writeFile(t, path, []byte("edited meanwhile\n"), 0o600)
	if _, err := Write(path, oldBytes, newBytes, t0); !errors.Is(err, ErrChanged) {
		t.Errorf("Write: %v", err)
	}
	if got := mustRead(t, path); string(got) != "edited meanwhile\n" {
		t.Errorf("file touched: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	// Expected a file that is gone.
	if _, err := Write(filepath.Join(dir, "gone"), oldBytes, newBytes, t0); !errors.Is(err, ErrChanged) {
		t.Errorf("Write of a removed file: %v", err)
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub-config")
	backup, err := Write(path, nil, newBytes, t0)
	if err != nil || backup != "" {
		t.Fatalf("%q %v", backup, err)
	}
	if got := mustRead(t, path); !bytes.Equal(got, newBytes) {
		t.Errorf("%q", got)
	}
	if runtime.GOOS != "windows" && modeOf(t, path) != 0o600 {
		t.Errorf("new file mode %v", modeOf(t, path))
	}
	// Same content again: nothing written, no backup.
	if backup, err := Write(path, newBytes, newBytes, t0); err != nil || backup != "" {
		t.Errorf("no-op Write: %q %v", backup, err)
	}
}

// A kubeconfig that is a symlink (dotfiles) stays a symlink.
func TestWriteSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles-kubeconfig")
	writeFile(t, target, oldBytes, 0o640)
	link := filepath.Join(dir, "config")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(link, oldBytes, newBytes, t0); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced: %v %v", fi, err)
	}
	if got := mustRead(t, target); !bytes.Equal(got, newBytes) || modeOf(t, target) != 0o640 {
		t.Errorf("target: %q %v", got, modeOf(t, target))
	}
	if _, err := Undo(link); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, target); !bytes.Equal(got, oldBytes) {
		t.Errorf("target after Undo: %q", got)
	}
}

// Rewrite, Write and Undo together on every input: the original comes
// back byte for byte.
func TestSetupRoundTrip(t *testing.T) {
	for _, in := range inputs(t) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config")
		src := read(t, in)
		writeFile(t, path, src, 0o600)
		out, changes, err := Rewrite(mustRead(t, path), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 {
			continue
		}
		if _, err := Write(path, src, out, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := Undo(path); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, path); !bytes.Equal(got, src) {
			t.Errorf("%s: not restored byte for byte", in)
		}
	}
}
