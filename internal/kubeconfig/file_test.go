package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
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

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Write replaces the file, keeps its mode, and leaves nothing beside it:
// no backup, no temp file, no lock.
func TestWrite(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o644, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := tmpdir.New(t)
			path := filepath.Join(dir, "config")
			writeFile(t, path, oldBytes, mode)
			if err := Write(path, oldBytes, newBytes); err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, newBytes) {
				t.Errorf("file: %q", got)
			}
			if runtime.GOOS != "windows" && modeOf(t, path) != mode {
				t.Errorf("mode %v, want %v", modeOf(t, path), mode)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("left beside the kubeconfig: %v", names)
			}
		})
	}
}

func TestWriteRefusesWhileLocked(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 200 * time.Millisecond
	dir := tmpdir.New(t)
	path := filepath.Join(dir, "config")
	writeFile(t, path, oldBytes, 0o600)
	writeFile(t, path+".lock", nil, 0o600)

	start := time.Now()
	err := Write(path, oldBytes, newBytes)
	if err == nil || !strings.Contains(err.Error(), "another kubectl or ekstoken is editing it") {
		t.Fatalf("Write under a lock: %v", err)
	}
	if time.Since(start) < lockWait {
		t.Errorf("gave up after %v, before waiting %v", time.Since(start), lockWait)
	}
	if got := mustRead(t, path); !bytes.Equal(got, oldBytes) {
		t.Errorf("file touched: %q", got)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("someone else's lock removed: %v", err)
	}

	// A lock released while waiting is taken.
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.Remove(path + ".lock")
	}()
	if err := Write(path, oldBytes, newBytes); err != nil {
		t.Errorf("Write after the lock went: %v", err)
	}
}

// A lock left behind says whose it is and exactly what to do, and is
// never removed by ekstoken: kubectl's locks are empty, and a pid may be
// reused.
func TestLockMessages(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 10 * time.Millisecond
	host, _ := os.Hostname()
	dead := deadPID(t)
	for _, tc := range []struct {
		name, lock string
		want       []string
	}{
		{"kubectl's, empty", "", []string{"another kubectl or ekstoken is editing it", "rm LOCK"}},
		{"ekstoken's, process gone", fmt.Sprintf("ekstoken pid=%d host=%s\n", dead, host), []string{fmt.Sprintf("left by ekstoken (pid %d), which is no longer running", dead), "kubectl refuses", "`rm LOCK`"}},
		{"ekstoken's, running", fmt.Sprintf("ekstoken pid=%d host=%s\n", os.Getpid(), host), []string{fmt.Sprintf("ekstoken (pid %d) is still editing it", os.Getpid()), "Wait"}},
		{"ekstoken's, other host", fmt.Sprintf("ekstoken pid=%d host=%s-elsewhere\n", dead, host), []string{"on host " + host + "-elsewhere", "`rm LOCK`"}},
		{"garbage", "pid=12 host=x\n", []string{"another kubectl or ekstoken is editing it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []string{"Write", "Undo"} {
				dir := tmpdir.New(t)
				path := filepath.Join(dir, "config")
				writeFile(t, path, oldBytes, 0o600)
				writeFile(t, path+".lock", []byte(tc.lock), 0o600)
				var err error
				if op == "Write" {
					err = Write(path, oldBytes, newBytes)
				} else {
					log := UndoLog{Dir: tmpdir.New(t)}
					fakeRecord(t, log, path)
					_, err = log.Undo(path)
				}
				if err == nil {
					t.Fatalf("%s under a lock succeeded", op)
				}
				for _, w := range tc.want {
					w = strings.ReplaceAll(w, "LOCK", path+".lock")
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error does not say %q:\n%v", op, w, err)
					}
				}
				if got := mustRead(t, path+".lock"); string(got) != tc.lock {
					t.Errorf("%s: the lock changed: %q", op, got)
				}
				if got := mustRead(t, path); !bytes.Equal(got, oldBytes) {
					t.Errorf("%s: file touched: %q", op, got)
				}
			}
		})
	}
}

// The lock ekstoken takes names it, so that a later run can tell a lock
// of a killed ekstoken.
func TestLockNamesOwner(t *testing.T) {
	path := filepath.Join(tmpdir.New(t), "config")
	err := locked(path, func() error {
		b := mustRead(t, path+".lock")
		pid, host, ok := parseLockOwner(string(b))
		me, _ := os.Hostname()
		if !ok || pid != os.Getpid() || host != me {
			t.Errorf("lock holds %q", b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock left behind: %v", err)
	}
}

func TestWriteRefusesChangedFile(t *testing.T) {
	dir := tmpdir.New(t)
	path := filepath.Join(dir, "config")
	writeFile(t, path, []byte("edited meanwhile\n"), 0o600)
	if err := Write(path, oldBytes, newBytes); !errors.Is(err, ErrChanged) {
		t.Errorf("Write: %v", err)
	}
	if got := mustRead(t, path); string(got) != "edited meanwhile\n" {
		t.Errorf("file touched: %q", got)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
	// Expected a file that is gone.
	if err := Write(filepath.Join(dir, "gone"), oldBytes, newBytes); !errors.Is(err, ErrChanged) {
		t.Errorf("Write of a removed file: %v", err)
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := tmpdir.New(t)
	path := filepath.Join(dir, "sub-config")
	if err := Write(path, nil, newBytes); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); !bytes.Equal(got, newBytes) {
		t.Errorf("%q", got)
	}
	if runtime.GOOS != "windows" && modeOf(t, path) != 0o600 {
		t.Errorf("new file mode %v", modeOf(t, path))
	}
	if err := Write(path, newBytes, newBytes); err != nil {
		t.Errorf("no-op Write: %v", err)
	}
}

// A kubeconfig that is a symlink (dotfiles) stays a symlink.
func TestWriteSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := tmpdir.New(t)
	target := filepath.Join(dir, "dotfiles-kubeconfig")
	writeFile(t, target, oldBytes, 0o640)
	link := filepath.Join(dir, "config")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, oldBytes, newBytes); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced: %v %v", fi, err)
	}
	if got := mustRead(t, target); !bytes.Equal(got, newBytes) || modeOf(t, target) != 0o640 {
		t.Errorf("target: %q %v", got, modeOf(t, target))
	}
}

// failRename makes replace's rename fail with errno, as it does on a
// bind-mounted file (EBUSY) or across devices (EXDEV).
func failRename(t *testing.T, errno syscall.Errno) {
	t.Helper()
	saved := rename
	t.Cleanup(func() { rename = saved })
	rename = func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: errno}
	}
}

// A file that cannot be replaced by rename is written in place: same
// inode, mode and owner, longer and shorter content alike, no temp file
// left. Any other rename failure is an error and changes nothing.
func TestWriteInPlaceWhenRenameCannotReplace(t *testing.T) {
	long := bytes.Repeat([]byte("x: 1\n"), 100)
	for _, errno := range []syscall.Errno{syscall.EBUSY, syscall.EXDEV} {
		for _, tc := range []struct{ name, from, to []byte }{
			{[]byte("longer"), oldBytes, long},
			{[]byte("shorter"), long, newBytes},
		} {
			t.Run(fmt.Sprintf("%v/%s", errno, tc.name), func(t *testing.T) {
				failRename(t, errno)
				dir := tmpdir.New(t)
				path := filepath.Join(dir, "config")
				writeFile(t, path, tc.from, 0o640)
				before, _ := os.Stat(path)
				if err := Write(path, tc.from, tc.to); err != nil {
					t.Fatal(err)
				}
				if got := mustRead(t, path); !bytes.Equal(got, tc.to) {
					t.Errorf("content %q, want %q", got, tc.to)
				}
				after, _ := os.Stat(path)
				if !os.SameFile(before, after) {
					t.Error("the file was replaced, not written in place")
				}
				if runtime.GOOS != "windows" && after.Mode().Perm() != 0o640 {
					t.Errorf("mode %v, want 0640", after.Mode().Perm())
				}
				if names := dirNames(t, dir); len(names) != 1 {
					t.Errorf("left beside the kubeconfig: %v", names)
				}
			})
		}
	}
	t.Run("other errors", func(t *testing.T) {
		for _, errno := range []syscall.Errno{syscall.EACCES, syscall.ENOSPC, syscall.EIO} {
			failRename(t, errno)
			dir := tmpdir.New(t)
			path := filepath.Join(dir, "config")
			writeFile(t, path, oldBytes, 0o600)
			if err := Write(path, oldBytes, newBytes); !errors.Is(err, errno) {
				t.Errorf("%v: Write = %v", errno, err)
			}
			if got := mustRead(t, path); !bytes.Equal(got, oldBytes) {
				t.Errorf("%v: file touched: %q", errno, got)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("%v: left behind: %v", errno, names)
			}
		}
	})
}

// A lock whose ekstoken is gone is reported at once: waiting for it to
// go away would only delay the advice.
func TestStaleLockNoWait(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = time.Hour
	host, _ := os.Hostname()
	path := filepath.Join(tmpdir.New(t), "config")
	writeFile(t, path, oldBytes, 0o600)
	writeFile(t, path+".lock", fmt.Appendf(nil, "ekstoken pid=%d host=%s\n", deadPID(t), host), 0o600)
	start := time.Now()
	if err := Write(path, oldBytes, newBytes); err == nil || !strings.Contains(err.Error(), "no longer running") {
		t.Fatalf("Write = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("waited %v for a lock whose holder is gone", d)
	}
}
