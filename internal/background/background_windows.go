//go:build windows

package background

import (
	"os"
	"syscall"
)

// Windows flags for a process detached from the console and from the
// console's Ctrl-C.
const (
	createNewProcessGroup = 0x00000200
	detachedProcess       = 0x00000008
)

func start(r Request, argv []string, null, stderr *os.File) (bool, error) {
	// Handing a locked file down is not portable to Windows: the child
	// takes the lock itself and exits when it is held.
	p, err := os.StartProcess(r.Executable, argv, &os.ProcAttr{
		Env:   r.Env,
		Files: []*os.File{null, null, stderr},
		Sys:   &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess, HideWindow: true},
	})
	if err != nil {
		return false, err
	}
	_ = p.Release()
	return true, nil
}

// HandedLock is nil on Windows: the child takes the lock itself.
func HandedLock() *os.File { return nil }

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}
