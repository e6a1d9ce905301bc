//go:build unix

package entryfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path for reading and fails if its last element is a
// symlink (O_NOFOLLOW gives ELOOP). O_NONBLOCK keeps a FIFO at path from
// blocking the open until a writer comes; CheckPrivate then refuses it as
// not a regular file. It changes nothing for regular files.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// OwnedByMe reports whether the file belongs to the effective user.
func OwnedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}
