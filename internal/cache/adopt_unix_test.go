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
