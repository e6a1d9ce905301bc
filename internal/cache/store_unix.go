//go:build unix

package cache

import (
	"os"
	"syscall"

	"github.com/gofrs/flock"
)

// noFollow makes an open fail on a symlink.
const noFollow = syscall.O_NOFOLLOW

func rename(from, to string) error { return os.Rename(from, to) }

// mkdirAll creates dir and its missing parents 0700: mkdir only narrows
// that by the umask.
func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o700) }

// createTemp creates the temp file for the entry called name. os.CreateTemp
// creates it 0600 with O_EXCL: private from its first moment, whatever the
// umask.
func createTemp(dir, name string) (*os.File, error) {
	return os.CreateTemp(dir, "."+name+".*.tmp")
}

// createLockFile does nothing: the lock is opened with O_CREATE and mode
// 0600, which no umask widens.
func createLockFile(string) error { return nil }

// removeLocked removes the lock file at path while fl holds it, then
// releases it.
func removeLocked(fl *flock.Flock, path string) bool {
	defer func() { _ = fl.Unlock() }()
	return os.Remove(path) == nil
}

// lockHeld takes the flock(2) lock of f without waiting: at once when f's
// open file holds it already, ErrLockBusy when another does.
func lockHeld(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return ErrLockBusy
	}
	return err
}
