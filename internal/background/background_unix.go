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
	env := make([]string, 0, len(r.Env)+1)
	for _, kv := range r.Env {
		// Of two values the child reads the first: only Start's may be there.
		if len(kv) <= len(handedLockEnv) || kv[:len(handedLockEnv)+1] != handedLockEnv+"=" {
			env = append(env, kv)
		}
	}
	p, err := os.StartProcess(r.Executable, argv, &os.ProcAttr{
		Env:   append(env, handedLockEnv+"="+handedLockValue),
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

// handedLockEnv tells the child that its descriptor 3 is the lock Start
// handed down. Without it descriptor 3 may be the Go runtime's own, which
// must stay untouched: its poller, or a regular file (the cgroup CPU quota
// file that the runtime keeps open on Linux to size GOMAXPROCS).
const (
	handedLockEnv   = "EKSTOKEN_BACKGROUND_LOCK_FD"
	handedLockValue = "3"
)

// HandedLock is the lock file a starter handed down, or nil when there is
// none: Start said so in the environment, and descriptor 3 is a regular
// file. It is made close-on-exec, so that what the refresh runs (a
// credential_process) does not inherit the lock: a process that one
// leaves behind would otherwise hold it for as long as it lives.
func HandedLock() *os.File {
	if os.Getenv(handedLockEnv) != handedLockValue {
		return nil
	}
	// Not passed on: the processes the refresh starts have no lock.
	_ = os.Unsetenv(handedLockEnv)
	var st syscall.Stat_t
	if syscall.Fstat(HandedLockFD, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil
	}
	syscall.CloseOnExec(HandedLockFD)
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
