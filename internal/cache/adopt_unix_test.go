//go:build unix

package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// lockedFile opens path and takes its lock as a hit does before it hands
// the file down to a background refresh.
func lockedFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	return f
}

// An adopted lock is the entry's lock: nobody else takes it until its
// Unlock, which releases it; while it is held and the process waits for a
// person, it says so to waiters like a lock taken here.
func TestAdoptHoldsUntilUnlock(t *testing.T) {
	for _, name := range []string{K, K0} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			h := &Holds{}
			s := Store{Dir: dir, Holds: h}
			// A holder that died while it waited for a person left its mark.
			writeRaw(t, filepath.Join(dir, name+".lock"), []byte("\x00"+personMark+"the MFA code\n"))
			f := lockedFile(t, filepath.Join(dir, name+".lock"))
			l, err := s.Adopt(name, f)
			if err != nil {
				t.Fatalf("Adopt of the entry's own locked lock file: %v", err)
			}
			if what, ok := readMark(filepath.Join(dir, name+".lock")); ok {
				t.Errorf("an adopted lock keeps a crashed holder's mark %q: waiters would wait for a person", what)
			}
			if _, err := (Store{Dir: dir}).Lock(context.Background(), name, Wait{}); !errors.Is(err, ErrLockBusy) {
				t.Fatalf("Lock while adopted: %v, want ErrLockBusy", err)
			}
			done := h.WaitingForPerson("aws sso login --profile dev")
			if what, ok := readMark(filepath.Join(dir, name+".lock")); !ok || what != "aws sso login --profile dev" {
				t.Errorf("adopted lock's mark while waiting for a person: %q, %v", what, ok)
			}
			done()
			l.Unlock()
			other, err := (Store{Dir: dir}).Lock(context.Background(), name, Wait{})
			if err != nil {
				t.Fatalf("Lock after the adopted lock's Unlock: %v", err)
			}
			other.Unlock()
			if len(h.locks) != 0 {
				t.Errorf("Holds still has %d locks after Unlock", len(h.locks))
			}
		})
	}
}

// Adopt takes only the entry's own lock file: another file, or a symlink
// planted at the lock path (even to the file handed down), or no lock file
// at all, is refused, and the file handed down is closed (its lock with
// it) rather than kept.
func TestAdoptRefusesOtherFiles(t *testing.T) {
	for name, tc := range map[string]func(t *testing.T, dir string) *os.File{
		"another entry's lock": func(t *testing.T, dir string) *os.File {
			return lockedFile(t, filepath.Join(dir, K0+".lock"))
		},
		"another file, the lock file there": func(t *testing.T, dir string) *os.File {
			writeRaw(t, filepath.Join(dir, K+".lock"), nil)
			return lockedFile(t, filepath.Join(dir, K0+".lock"))
		},
		"a file elsewhere": func(t *testing.T, dir string) *os.File {
			return lockedFile(t, filepath.Join(t.TempDir(), K+".lock"))
		},
		"a symlink at the lock path": func(t *testing.T, dir string) *os.File {
			target := filepath.Join(dir, "target")
			f := lockedFile(t, target)
			if err := os.Symlink(target, filepath.Join(dir, K+".lock")); err != nil {
				t.Fatal(err)
			}
			return f
		},
		"no lock file": func(t *testing.T, dir string) *os.File {
			f := lockedFile(t, filepath.Join(dir, K+".lock"))
			if err := os.Remove(filepath.Join(dir, K+".lock")); err != nil {
				t.Fatal(err)
			}
			return f
		},
		"a directory at the lock path": func(t *testing.T, dir string) *os.File {
			if err := os.Mkdir(filepath.Join(dir, K+".lock"), 0o700); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(dir, K+".lock"))
			if err != nil {
				t.Fatal(err)
			}
			return f
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			f := tc(t, dir)
			l, err := Store{Dir: dir, Holds: &Holds{}}.Adopt(K, f)
			if err == nil {
				l.Unlock()
				t.Fatal("Adopt took a file that is not the entry's lock file")
			}
			if cerr := f.Close(); !errors.Is(cerr, os.ErrClosed) {
				t.Errorf("the refused file was left open: Close = %v", cerr)
			}
		})
	}
}

// TestAdoptHoldsTheLock: whatever file of the lock a process finds at the
// handed-down descriptor, once Adopt returns it holds the lock, and Adopt
// fails while another process holds it: a run by hand with the lock file
// open at that descriptor must not refresh beside the holder.
func TestAdoptHoldsTheLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		// handed returns the file found at the descriptor.
		handed func(t *testing.T, s Store, path string) *os.File
		// otherHolds says another process holds the lock meanwhile.
		otherHolds bool
		wantErr    bool
	}{
		{"the starter's locked file", func(t *testing.T, s Store, path string) *os.File {
			f := openLock(t, path)
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			// The child's copy: the same open file, another descriptor.
			fd, err := syscall.Dup(int(f.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			return os.NewFile(uintptr(fd), path)
		}, false, false},
		{"an unlocked file of the lock, nobody holding it", func(t *testing.T, s Store, path string) *os.File {
			return openLock(t, path)
		}, false, false},
		{"an unlocked file of the lock, another holding it", func(t *testing.T, s Store, path string) *os.File {
			return openLock(t, path)
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Store{Dir: filepath.Join(t.TempDir(), "cache")}
			if err := s.ensureDir(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(s.Dir, "token-x.lock")
			var other *Lock
			if tc.otherHolds {
				l, err := s.Lock(context.Background(), "token-x", Wait{})
				if err != nil {
					t.Fatal(err)
				}
				other = l
				defer other.Unlock()
			}
			l, err := s.Adopt("token-x", tc.handed(t, s, path))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Adopt: err %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			defer l.Unlock()
			if l2, err := s.Lock(context.Background(), "token-x", Wait{}); !errors.Is(err, ErrLockBusy) {
				if l2 != nil {
					l2.Unlock()
				}
				t.Fatalf("after Adopt another Lock got %v, want ErrLockBusy: the adopted lock is not held", err)
			}
		})
	}
}

func openLock(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
