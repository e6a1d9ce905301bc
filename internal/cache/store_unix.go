//go:build unix

package cache

import (
	"os"
	"syscall"
)

// noFollow makes an open fail on a symlink.
const noFollow = syscall.O_NOFOLLOW

func rename(from, to string) error { return os.Rename(from, to) }
