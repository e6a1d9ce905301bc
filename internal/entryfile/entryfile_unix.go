//go:build unix

package entryfile

import (
	"io/fs"
	"os"
	"strconv"
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

// OpenRegular opens path for reading, following symlinks (AWS config files
// are often links into a dotfiles checkout), without blocking on a FIFO,
// and only if it is a regular file.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	return checkRegular(f)
}

// ChangeStamp identifies a version of a file beyond its size and
// modification time: its device and inode, which a symlink swapped to
// another file changes. (The change time would catch a rewrite in place
// too, but its field differs between Unix systems.)
func ChangeStamp(st fs.FileInfo) string {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	// Dev and Ino are of other integer types on other systems.
	return strconv.FormatUint(uint64(sys.Dev), 10) + ":" + strconv.FormatUint(uint64(sys.Ino), 10) //nolint:unconvert // see above
}
