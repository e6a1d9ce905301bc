//go:build windows

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gofrs/flock"
	"golang.org/x/sys/windows"
)

// noFollow: Windows has no such flag; the directory is the user's own.
const noFollow = 0

// rename retries for up to about two seconds: Windows refuses to replace a
// file that another process has open at that instant (Azure/kubelogin
// #71), and readers (os.Open, without delete sharing) hold the entry for
// microseconds at a time; many kubectl runs reading at once can keep it
// open for a while. The pauses grow, with jitter so that writers do not
// retry in step.
func rename(from, to string) error {
	var err error
	pause := 2 * time.Millisecond
	for deadline := time.Now().Add(2 * time.Second); ; {
		if err = os.Rename(from, to); err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(pause/2 + rand.N(pause))
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Mode bits mean little on Windows: a file's access is its security
// descriptor's DACL, which by default is inherited from the directory
// above. ekstoken does not rely on that inheritance (a --cache-dir under a
// shared folder would hand entries to everyone who can read it): every
// directory, entry, temp file and lock file it creates gets, from the call
// that creates it, a security descriptor of its own:
//
//   - owner: the user the process runs as (the token's user, also when an
//     administrator runs elevated, where Windows would otherwise make the
//     Administrators group the owner);
//   - a protected DACL (SE_DACL_PROTECTED: nothing is inherited from the
//     folders above) with one ACE that allows that user full access, and
//     nobody else anything. Not SYSTEM, not Administrators: the cache holds
//     bearer tokens and AWS credentials, and backup software reads through
//     the backup privilege, not through the DACL. Administrators can still
//     take ownership, which no DACL prevents.
//
// Directories pass the ACE on to what is created in them (object and
// container inherit), so a file another program drops there is private
// too. What exists already is used as it is: ekstoken changes the security
// of nothing it did not create, as it chmods nothing on Unix.
type privateSDs struct {
	dir, file *windows.SECURITY_DESCRIPTOR
}

var privateSD = sync.OnceValues(func() (privateSDs, error) {
	// A pseudo-handle with TOKEN_QUERY access: nothing to close.
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return privateSDs{}, fmt.Errorf("read the process's user: %w", err)
	}
	sid := u.User.Sid.String()
	dir, err := windows.SecurityDescriptorFromString("O:" + sid + "D:P(A;OICI;FA;;;" + sid + ")")
	if err != nil {
		return privateSDs{}, fmt.Errorf("build a private security descriptor: %w", err)
	}
	file, err := windows.SecurityDescriptorFromString("O:" + sid + "D:P(A;;FA;;;" + sid + ")")
	if err != nil {
		return privateSDs{}, fmt.Errorf("build a private security descriptor: %w", err)
	}
	return privateSDs{dir: dir, file: file}, nil
})

func attributes(sd *windows.SECURITY_DESCRIPTOR) *windows.SecurityAttributes {
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa
}

// mkdirAll is os.MkdirAll, but every directory it creates is private to
// the user from its creation.
func mkdirAll(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if st.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	sds, err := privateSD()
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	if err := windows.CreateDirectory(p, attributes(sds.dir)); err != nil {
		// Another process may have created it meanwhile.
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// createPrivate creates the file at path, which must not exist, private to
// the user from its creation, open for reading and writing.
func createPrivate(path string) (*os.File, error) {
	sds, err := privateSD()
	if err != nil {
		return nil, err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, attributes(sds.file),
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// createTemp is os.CreateTemp(dir, "."+name+".*.tmp"), with a private
// security descriptor.
func createTemp(dir, name string) (*os.File, error) {
	for range 10000 {
		f, err := createPrivate(filepath.Join(dir, "."+name+"."+strconv.FormatUint(uint64(rand.Uint32()), 10)+".tmp"))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, "."+name+".*.tmp"), Err: fs.ErrExist}
}

// createLockFile creates the lock file at path, private, unless it exists;
// the lock itself is then taken on it by name. A lock file holds no secret,
// but while its holder waits for a person it says for what (an MFA code
// for which profile), which is the user's business only.
func createLockFile(path string) error {
	f, err := createPrivate(path)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// removeLocked releases fl's lock, closing its handle, then removes the
// lock file at path. Windows refuses to remove a file while a handle is
// open on it (Go and gofrs/flock open without delete sharing), so the
// removal fails, and the file stays, if another process opened it since:
// no process can hold a lock on a file that is gone.
func removeLocked(fl *flock.Flock, path string) bool {
	_ = fl.Unlock()
	return os.Remove(path) == nil
}

// lockHeld is never needed on Windows: no lock is handed down there (see
// Store.Adopt).
func lockHeld(*os.File) error { return errors.New("a handed-down lock is not supported on Windows") }
