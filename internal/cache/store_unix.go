//go:build unix

package cache

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path for reading and fails if its last element is a
// symlink (O_NOFOLLOW gives ELOOP). O_NONBLOCK keeps a FIFO at path from
// blocking the open until a writer comes; the caller then refuses it as
// not a regular file. It changes nothing for regular files.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// noFollow makes an open fail on a symlink.
const noFollow = syscall.O_NOFOLLOW

func ownedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}

func rename(from, to string) error { return os.Rename(from, to) }
