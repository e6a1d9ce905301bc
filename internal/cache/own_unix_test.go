//go:build unix

package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherUID is a user that is not the one running the tests.
const otherUID = 65534

func chownOther(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	if err := os.Lchown(path, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
}

func fullMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

// TestDirModeNeverChanged: an existing directory keeps its mode, sticky and
// setgid bits included. One that others can write is refused with a
// message naming what to pass instead; one that others can only read is
// used as it is.
func TestDirModeNeverChanged(t *testing.T) {
	withUmask(t, 0)
	for _, mode := range []fs.FileMode{
		0o777, 0o777 | fs.ModeSticky, 0o775, 0o770, 0o730, 0o722, 0o702, 0o775 | fs.ModeSetgid,
		0o755, 0o750, 0o711, 0o700, 0o705,
	} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "shared")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			before := fullMode(t, dir)
			s := Store{Dir: dir}
			werr := s.Write(K, entry{Token: "t"})
			l, lerr := s.Lock(context.Background(), K, forever)
			if lerr == nil {
				l.Unlock()
			}
			if after := fullMode(t, dir); after != before {
				t.Errorf("directory mode changed from %v to %v", before, after)
			}
			othersWrite := mode.Perm()&0o022 != 0
			for what, err := range map[string]error{"Write": werr, "Lock": lerr} {
				switch {
				case othersWrite && err == nil:
					t.Errorf("%s in a directory others can write succeeded", what)
				case othersWrite && !strings.Contains(err.Error(), "--cache-dir "+filepath.Join(dir, "ekstoken")):
					t.Errorf("%s: %v; want a message naming the --cache-dir to pass", what, err)
				case !othersWrite && err != nil:
					t.Errorf("%s in a directory of ours that others cannot write: %v", what, err)
				}
			}
			if othersWrite {
				// The suggested directory works, and is made private.
				sub := Store{Dir: filepath.Join(dir, "ekstoken")}
				if err := sub.Write(K, entry{Token: "t"}); err != nil {
					t.Fatalf("Write in the suggested directory: %v", err)
				}
				if got := fullMode(t, sub.Dir).Perm(); got != 0o700 {
					t.Errorf("suggested directory created %v, want 0700", got)
				}
			}
		})
	}
}

// TestDirOfAnotherUser: a directory another user owns is refused and left
// as it is, whether others can write it or not.
func TestDirOfAnotherUser(t *testing.T) {
	for _, mode := range []fs.FileMode{0o755, 0o700, 0o777 | fs.ModeSticky} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "theirs")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			chownOther(t, dir)
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			before := fullMode(t, dir)
			err := Store{Dir: dir}.Write(K, entry{Token: "t"})
			if err == nil || !strings.Contains(err.Error(), "--cache-dir") {
				t.Errorf("Write = %v, want a refusal that names --cache-dir", err)
			}
			if after := fullMode(t, dir); after != before {
				t.Errorf("directory mode changed from %v to %v", before, after)
			}
		})
	}
}

// TestRemoveOnlyOurs: Remove deletes nothing that is not a regular file of
// ours with ekstoken's name, whatever the name asked for.
func TestRemoveOnlyOurs(t *testing.T) {
	s := newStore(t)
	if err := s.Write(K, entry{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"package", "tsconfig", "../x", "token-zz", "token-0123"} {
		writeRaw(t, filepath.Join(s.Dir, n+".json"), []byte(`{"format":"ekstoken/token/v2"}`))
		if err := s.Remove(n); err == nil {
			t.Errorf("Remove(%q) succeeded", n)
		}
		if _, err := os.Lstat(filepath.Join(s.Dir, n+".json")); err != nil {
			t.Errorf("Remove(%q) removed it: %v", n, err)
		}
	}
	// A symlink and a file of another user with entry names stay.
	target := filepath.Join(t.TempDir(), "precious")
	writeRaw(t, target, []byte("x"))
	if err := os.Symlink(target, s.Path(K0)); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, s.Path(otherN), []byte(`{"format":"ekstoken/token/v2"}`))
	if os.Geteuid() == 0 {
		chownOther(t, s.Path(otherN))
	}
	for _, n := range []string{K0, otherN} {
		_ = s.Remove(n)
		if _, err := os.Lstat(s.Path(n)); err != nil && !(n == otherN && os.Geteuid() != 0) {
			t.Errorf("Remove(%s) removed a file that is not ours: %v", n, err)
		}
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("symlink target gone: %v", err)
	}
	names, _ := s.Names()
	if !slices.Equal(names, []string{K}) {
		t.Errorf("Names = %v, want only %s", names, K)
	}
}

// TestRemoveStaleTemps: only ekstoken's temp files, of ours, private and
// at least StaleAfter old, are removed; a live writer's temp file stays.
// Write sweeps them too.
func TestRemoveStaleTemps(t *testing.T) {
	for _, viaWrite := range []bool{false, true} {
		t.Run(fmt.Sprint("viaWrite=", viaWrite), func(t *testing.T) {
			s := newStore(t)
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			old := now.Add(-StaleAfter - time.Second)
			type file struct {
				name  string
				mtime time.Time
				mode  fs.FileMode
				other bool
				gone  bool
			}
			files := []file{
				{name: "." + K + ".123456.tmp", mtime: old, mode: 0o600, gone: true},
				{name: "." + keepN + ".9.tmp", mtime: old.Add(-time.Hour), mode: 0o600, gone: true},
				{name: "." + K0 + ".77.tmp", mtime: now, mode: 0o600},                         // a live writer's
				{name: "." + otherN + ".5.tmp", mtime: now.Add(-StaleAfter / 2), mode: 0o600}, // still young
				{name: ".package.json.123.tmp", mtime: old, mode: 0o600},
				{name: ".token-xyz.1.tmp", mtime: old, mode: 0o600},
				{name: "." + K + ".tmp", mtime: old, mode: 0o600},
				{name: K + ".1.tmp", mtime: old, mode: 0o600},
				{name: "." + K + ".1.tmp.keep", mtime: old, mode: 0o600},
				{name: "." + K + ".42.tmp", mtime: old, mode: 0o644}, // not made by CreateTemp
				{name: "." + K + ".43.tmp", mtime: old, mode: 0o600, other: true},
			}
			for _, f := range files {
				p := filepath.Join(s.Dir, f.name)
				writeRaw(t, p, []byte("secret"))
				if err := os.Chmod(p, f.mode); err != nil {
					t.Fatal(err)
				}
				if f.other {
					chownOther(t, p)
				}
				if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
					t.Fatal(err)
				}
			}
			if viaWrite {
				if err := s.Write(K, entry{Token: "t"}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := s.RemoveStaleTemps(now); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				_, err := os.Lstat(filepath.Join(s.Dir, f.name))
				if gone := errors.Is(err, fs.ErrNotExist); gone != f.gone {
					t.Errorf("%s: removed = %v, want %v", f.name, gone, f.gone)
				}
			}
		})
	}
}

// TestRemoveStaleLocks: a lock file nobody holds is removed; a held one, and
// files that only look like lock files, stay.
func TestRemoveStaleLocks(t *testing.T) {
	s := newStore(t)
	for _, n := range []string{K, K0} {
		l, err := s.Lock(context.Background(), n, forever)
		if err != nil {
			t.Fatal(err)
		}
		if n == K {
			l.Unlock()
		} else {
			t.Cleanup(func() { l.Unlock() })
		}
	}
	writeRaw(t, filepath.Join(s.Dir, "build.lock"), nil)
	writeRaw(t, filepath.Join(s.Dir, "token-xyz.lock"), nil)
	n, err := s.RemoveStaleLocks()
	if err != nil || n != 1 {
		t.Errorf("RemoveStaleLocks = %d, %v; want 1", n, err)
	}
	want := []string{"build.lock", K0 + ".lock", "token-xyz.lock"}
	if got := dirNames(t, s.Dir); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// TestProbe reads the format of entries of ours only.
func TestProbe(t *testing.T) {
	s := newStore(t)
	if err := s.Write(K, map[string]string{"format": "ekstoken/token/v2"}); err != nil {
		t.Fatal(err)
	}
	if f, err := s.Probe(K); err != nil || f != "ekstoken/token/v2" {
		t.Errorf("Probe = %q, %v", f, err)
	}
	// Wider than 0600 but ours: still ekstoken's, so clear can remove it.
	if err := os.Chmod(s.Path(K), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := s.Probe(K); err != nil || f != "ekstoken/token/v2" {
		t.Errorf("Probe of a 0644 entry of ours = %q, %v", f, err)
	}
	writeRaw(t, s.Path(K0), []byte("not json"))
	if _, err := s.Probe(K0); err == nil {
		t.Error("Probe of a non-JSON file succeeded")
	}
	target := filepath.Join(t.TempDir(), "t.json")
	writeRaw(t, target, []byte(`{"format":"ekstoken/token/v2"}`))
	if err := os.Symlink(target, s.Path(otherN)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Probe(otherN); err == nil {
		t.Error("Probe followed a symlink")
	}
	if err := syscall.Mkfifo(s.Path(keepN), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Probe(keepN); err == nil {
		t.Error("Probe of a FIFO succeeded")
	}
}
