//go:build unix

package cache

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path for reading and fails if its last element is a
// symlink (O_NOFOLLOW gives ELOOP).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

func ownedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}

func rename(from, to string) error { return os.Rename(from, to) }
