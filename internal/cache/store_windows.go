//go:build windows

package cache

import (
	"errors"
	"io/fs"
	"os"
	"time"
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

// noFollow: Windows has no such flag; the directory is the user's own.
const noFollow = 0

// ownedByMe: the profile directory's ACL already limits it to the user.
func ownedByMe(fs.FileInfo) bool { return true }

// rename retries briefly: Windows refuses to replace a file that another
// process has open at that instant (Azure/kubelogin #71).
func rename(from, to string) error {
	var err error
	for range 10 {
		if err = os.Rename(from, to); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
