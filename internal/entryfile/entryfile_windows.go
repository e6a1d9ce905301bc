//go:build windows

package entryfile

import (
	"errors"
	"io/fs"
	"os"
)

// openNoFollow refuses a symlinked entry. Windows has no O_NOFOLLOW; the
// directory is private to the user, so the Lstat/Open gap is not reachable
// by others.
func openNoFollow(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, errors.New("cache entry is a symlink")
	}
	return os.Open(path)
}

// OwnedByMe: the profile directory's ACL already limits it to the user.
func OwnedByMe(fs.FileInfo) bool { return true }

// OpenRegular opens path for reading, following symlinks, only if it is a
// regular file.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return checkRegular(f)
}

// ChangeStamp: os.FileInfo on Windows carries no file ID.
func ChangeStamp(fs.FileInfo) string { return "" }
