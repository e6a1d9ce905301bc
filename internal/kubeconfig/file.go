package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockWait is how long Write and Undo wait for another process's lock.
var lockWait = 5 * time.Second

// rename replaces a file by another; tests swap it to reach the in-place
// fallback, since they cannot bind-mount a file.
var rename = os.Rename

// ErrChanged is returned (wrapped) when a kubeconfig changed behind ekstoken's
// back between reading and writing it.
var ErrChanged = errors.New("the file changed")

// Write replaces the kubeconfig at path with content, provided it still
// holds original (what the caller read; nil for a file that did not exist).
// It takes kubectl's lock (path + ".lock"). The replacement is atomic (temp
// file in the same directory, fsync, rename) and keeps the file's mode and
// owner; a new file gets 0600. A symlink is followed: its target is
// replaced. A file that cannot be replaced by rename (a bind mount) is
// written in place, as kubectl itself writes it.
//
// It keeps no copy of the old content: `ekstoken update-kubeconfig`, like
// `aws eks update-kubeconfig`, only adds and updates entries. setup uses
// WriteSetup, which keeps what Undo needs.
func Write(path string, original, content []byte) error {
	_, err := writeLocked(path, original, content, nil)
	return err
}

// writeLocked is Write; before the file is touched it calls before (when
// not nil) with the resolved target and the file's mode, and stops if
// before fails. It reports whether it wrote anything.
func writeLocked(path string, original, content []byte, before func(target string, mode fs.FileMode) error) (wrote bool, err error) {
	// As kubectl and the aws CLI do, a first kubeconfig gets its directory.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	err = locked(path, func() error {
		wrote, err = write(path, original, content, before)
		return err
	})
	return wrote, err
}

func write(path string, original, content []byte, before func(string, fs.FileMode) error) (bool, error) {
	target, err := resolve(path)
	if err != nil {
		return false, err
	}
	removeStaleTemps(target)
	cur, err := os.ReadFile(target)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(original) > 0 {
			return false, fmt.Errorf("%s: %w: it was removed since it was read; nothing written", path, ErrChanged)
		}
	case err != nil:
		return false, err
	case !bytes.Equal(cur, original):
		return false, fmt.Errorf("%s: %w since it was read (another program edited it); nothing written, run again", path, ErrChanged)
	}
	if !exists {
		if before != nil {
			if err := before(target, 0o600); err != nil {
				return false, err
			}
		}
		return true, replace(target, content, 0o600, nil)
	}
	if bytes.Equal(cur, content) {
		return false, nil
	}
	st, err := os.Stat(target)
	if err != nil {
		return false, err
	}
	mode := st.Mode().Perm()
	if mode&0o200 == 0 {
		// Replacing it by rename would get around the mode; respect it.
		return false, fmt.Errorf("%s is read-only (mode %v): make it writable (chmod u+w) for ekstoken to change it", path, mode)
	}
	if before != nil {
		if err := before(target, mode); err != nil {
			return false, err
		}
	}
	return true, replace(target, content, mode, st)
}

// tempPattern names the temp files replace makes beside target.
func tempPattern(target string) string {
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".ekstoken-tmp-*")
}

// removeStaleTemps removes the temp files a killed ekstoken left beside
// target. Callers hold target's lock, so no live run is writing one.
func removeStaleTemps(target string) {
	tmps, _ := filepath.Glob(tempPattern(target))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// replace replaces target with data and mode: a temp file in the same
// directory (created 0600, then given mode), fsync, rename, fsync of the
// directory. When the rename cannot replace target because target is a
// mount point (EBUSY: a file bind-mounted into a container) or sits on
// another device (EXDEV), target is overwritten in place instead.
func replace(target string, data []byte, mode fs.FileMode, owner fs.FileInfo) (err error) {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, filepath.Base(tempPattern(target)))
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if err := chownLike(f, owner); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := rename(tmp, target); err != nil {
		if !cannotRename(err) || owner == nil {
			return err
		}
		os.Remove(tmp)
		if ierr := writeInPlace(target, data); ierr != nil {
			return &InPlaceError{Path: target, Rename: err, Err: ierr}
		}
		return nil
	}
	return syncDir(dir)
}

// cannotRename reports whether a rename failed because the destination
// cannot be replaced at all, rather than for a reason the user must fix.
func cannotRename(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

// InPlaceError is a failed in-place write: target may hold part of the new
// content, so the caller must say where the old one is.
type InPlaceError struct {
	Path   string
	Rename error // why it could not be replaced by rename
	Err    error
}

func (e *InPlaceError) Error() string {
	return fmt.Sprintf("%s cannot be replaced by rename (%v), and writing it in place failed: %v", e.Path, e.Rename, e.Err)
}

func (e *InPlaceError) Unwrap() error { return e.Err }

// writeInPlace overwrites target with data, keeping its inode, mode and
// owner. Callers hold the lock. A kill between any two of its system calls
// must leave a file kubectl can load: when data is shorter than the old
// content, it is first written padded with newlines to the old length (the
// same document: YAML and JSON ignore trailing blank lines), synced, and
// only then cut to its length. One write, never a mix of new text and an
// old tail. A reader running at the same moment may still see a mix,
// which kubectl's own writes (truncate, then write) risk as well.
func writeInPlace(target string, data []byte) (err error) {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	padded := data
	if old := st.Size(); old > int64(len(data)) {
		padded = append(slices.Clip(data), bytes.Repeat([]byte{'\n'}, int(old)-len(data))...)
	}
	if _, err := f.WriteAt(padded, 0); err != nil {
		return err
	}
	if len(padded) != len(data) {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Truncate(int64(len(data))); err != nil {
			return err
		}
	}
	return f.Sync()
}

// syncDir makes a rename or a new entry in dir durable. Windows cannot
// sync a directory; there, NTFS journals the rename itself.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !isWindows {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// resolve follows symlinks of path (which may not exist yet).
func resolve(path string) (string, error) {
	t, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			return "", fmt.Errorf("%s is a symlink to a file that does not exist", path)
		}
		return path, nil
	}
	return t, err
}

// lockOwner is what ekstoken writes into the lock files it makes, so that
// a lock left by a killed ekstoken can be told from a live one. kubectl
// leaves its lock files empty.
func lockOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("ekstoken pid=%d host=%s\n", os.Getpid(), host)
}

// lock takes kubectl's lock on a kubeconfig: path + ".lock", created
// exclusively and removed when done. It waits up to lockWait.
func lock(path string) (unlock func() error, err error) {
	name := path + ".lock"
	deadline := time.Now().Add(lockWait)
	for {
		err := createLock(name)
		if err == nil {
			removeStaleLockTemps(name)
			return func() error { return os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := staleLock(path); err != nil {
			return nil, err // its holder is gone: waiting would not help
		}
		if time.Now().After(deadline) {
			return nil, lockedError(path, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createLock creates the lock file name already holding lockOwner, so
// that no moment exists where a killed ekstoken leaves a lock that does
// not say whose it is: the owner goes into a temp file, which is then
// hard-linked to name (atomic, and failing if name exists). Where hard
// links are not supported, name is created exclusively and then written.
func createLock(name string) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), lockTempPrefix(name)+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(lockOwner())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	err = os.Link(tmp.Name(), name)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr = f.WriteString(lockOwner())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
	}
	return werr
}

// lockTempPrefix names createLock's temp files after the process and host
// that made them, so that one a killed ekstoken left can be told from one
// a live ekstoken is writing, even when it is still empty.
func lockTempPrefix(name string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf(".%s.ekstoken-%d-%s-", filepath.Base(name), os.Getpid(), host)
}

// removeStaleLockTemps removes the temp files of createLock left by an
// ekstoken of this host that is no longer running. Any other is left
// alone: it may be a live ekstoken's.
func removeStaleLockTemps(name string) {
	prefix := "." + filepath.Base(name) + ".ekstoken-"
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(name), prefix+"*"))
	me, _ := os.Hostname()
	for _, t := range tmps {
		p, rest, ok := strings.Cut(strings.TrimPrefix(filepath.Base(t), prefix), "-")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || pid <= 0 || !strings.HasPrefix(rest, me+"-") || processAlive(pid) {
			continue
		}
		if st, err := os.Lstat(t); err == nil && st.Mode().IsRegular() {
			os.Remove(t)
		}
	}
}

// lockedError says who holds the lock file name, as far as can be told,
// and what to do. ekstoken never removes a lock it did not take: kubectl's
// are empty and carry no owner, and a pid may have been reused.
func lockedError(path, name string) error {
	age := ""
	if st, err := os.Stat(name); err == nil {
		age = fmt.Sprintf(", made %s ago", time.Since(st.ModTime()).Round(time.Second))
	}
	b, _ := os.ReadFile(name)
	pid, host, ours := parseLockOwner(string(b))
	me, _ := os.Hostname()
	switch {
	case ours && host == me && !processAlive(pid):
		return fmt.Errorf("%s is locked by %s%s, left by ekstoken (pid %d), which is no longer running. kubectl refuses to change the file while it exists: remove it with `rm %s` and run again", path, name, age, pid, name)
	case ours && host == me:
		return fmt.Errorf("%s is locked by %s%s: ekstoken (pid %d) is still editing it. Wait for it to finish and run again", path, name, age, pid)
	case ours:
		return fmt.Errorf("%s is locked by %s%s, taken by ekstoken (pid %d) on host %s. If it is not running there, remove the lock with `rm %s` and run again", path, name, age, pid, host, name)
	}
	return fmt.Errorf("%s is locked by %s%s: another kubectl or ekstoken is editing it. If none is running, remove the lock with `rm %s` (kubectl refuses to change the file while it exists) and run again", path, name, age, name)
}

// staleLock says what to do about a lock on path left by an ekstoken that
// is no longer running, or returns nil.
func staleLock(path string) error {
	name := path + ".lock"
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	pid, host, ours := parseLockOwner(string(b))
	if me, _ := os.Hostname(); !ours || host != me || processAlive(pid) {
		return nil
	}
	return lockedError(path, name)
}

func parseLockOwner(s string) (pid int, host string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ekstoken pid=")
	if !ok {
		return 0, "", false
	}
	p, h, ok := strings.Cut(rest, " host=")
	if !ok {
		return 0, "", false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, h, true
}

// locked runs f holding kubectl's lock on path, and reports a failure to
// release it when f itself succeeded.
func locked(path string, f func() error) (err error) {
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(); err == nil {
			err = uerr
		}
	}()
	return f()
}
