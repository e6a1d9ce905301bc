//go:build unix

package cache

import (
	"os"
	"syscall"
)

// noFollow makes an open fail on a symlink.
const noFollow = syscall.O_NOFOLLOW

func rename(from, to string) error { return os.Rename(from, to) }

// lockHeld takes the flock(2) lock of f without waiting: at once when f's
// open file holds it already, ErrLockBusy when another does.
func lockHeld(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return ErrLockBusy
	}
	return err
}
