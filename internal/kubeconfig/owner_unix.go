//go:build unix

package kubeconfig

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of like, so that `sudo ekstoken
// setup` leaves a user's kubeconfig theirs. nil like: keep ours.
func chownLike(f *os.File, like fs.FileInfo) error {
	if like == nil {
		return nil
	}
	st, ok := like.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("keep the kubeconfig's owner %d:%d: %w", st.Uid, st.Gid, err)
	}
	return nil
}
