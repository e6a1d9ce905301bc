//go:build unix

package entryfile

import (
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// openNoFollow opens path for reading and fails if its last element is a
// symlink (O_NOFOLLOW gives ELOOP).
func openNoFollow(path string) (*os.File, error) { return open(path, syscall.O_NOFOLLOW) }

// open opens path for reading without blocking on a FIFO: O_NONBLOCK keeps
// the open from waiting for a writer, and the caller's check then refuses
// anything but a regular file before reading it. The file is made blocking
// again before os.NewFile sees it. A non-blocking os.File joins the Go
// runtime's network poller, which costs a cache hit an epoll instance, an
// eventfd and a thread that it has no use for.
func open(path string, flags int) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		if err := syscall.SetNonblock(fd, false); err != nil {
			syscall.Close(fd)
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
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
	f, err := open(path, 0)
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
