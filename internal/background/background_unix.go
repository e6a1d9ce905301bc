//go:build unix

package background

import (
	"os"
	"strconv"
	"syscall"
)

func start(r Request, argv []string, null, stderr *os.File) (bool, error) {
	// The lock file is opened as the cache opens it: never through a
	// symlink, private when created.
	lock, err := os.OpenFile(r.LockPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return false, err
	}
	// Closing our descriptor does not release the lock while the child
	// holds its copy: flock(2) locks belong to the open file.
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if err == syscall.EWOULDBLOCK {
			return false, nil
		}
		return false, err
	}
	closeInheritedOnExec()
	p, err := os.StartProcess(r.Executable, argv, &os.ProcAttr{
		Env:   r.Env,
		Files: []*os.File{null, null, stderr, lock},
		// A session of its own: no controlling terminal to prompt on, and
		// kubectl's Ctrl-C, sent to its process group, does not reach it.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return false, err
	}
	_ = p.Release()
	return true, nil
}

// HandedLock is the lock file a starter handed down, or nil when there is
// none. Descriptor 3 counts only when it is a regular file: without a
// starter it may be the Go runtime's own (its poller), which must stay
// untouched.
func HandedLock() *os.File {
	var st syscall.Stat_t
	if syscall.Fstat(HandedLockFD, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil
	}
	return os.NewFile(HandedLockFD, "handed-down lock")
}

// openLog opens the log only when it is a file of its own: not through a
// symlink; not a FIFO, whose open would wait for a reader for good (the
// hit that starts the refresh, with kubectl waiting for it); not a hard
// link to a file ekstoken did not write.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink != 1 {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.EINVAL}
	}
	return f, nil
}

// closeInheritedOnExec marks every descriptor from 3 up close-on-exec. Go
// opens its own that way, but a caller may have handed us others open
// (a pipe it reads to its end, a make jobserver, a shell's `exec 4>`),
// through kubectl, and exec would pass them on to a refresh that outlives
// us by minutes: a caller waiting for the pipe's end would wait for it.
// The starter exits right after, so nothing here needs them.
func closeInheritedOnExec() {
	fds, err := os.ReadDir("/dev/fd")
	if err != nil {
		return
	}
	for _, e := range fds {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
