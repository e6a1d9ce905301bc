package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// backupInfix names backups: <path>.ekstoken-backup-<UTC time>[.N].
const (
	backupInfix   = ".ekstoken-backup-"
	backupTime    = "20060102T150405Z"
	writtenSuffix = ".written"
)

// lockWait is how long Write and Undo wait for another process's lock.
var lockWait = 5 * time.Second

// ErrChanged is returned (wrapped) when a kubeconfig changed behind ekstoken's
// back: between reading and writing it, or since setup wrote it.
var ErrChanged = errors.New("the file changed")

// ErrNoBackup is returned (wrapped) by Undo when there is nothing to undo.
var ErrNoBackup = errors.New("no ekstoken backup")

// Write replaces the kubeconfig at path with content, provided it still
// holds original (what the caller read; nil for a file that did not exist).
// It takes kubectl's lock (path + ".lock"), keeps the old content as a
// backup beside the file (<path>.ekstoken-backup-<UTC time>, with the old
// file's mode) and what it wrote in <backup>.written, so Undo can check
// nobody edited the file since. The replacement is atomic (temp file in
// the same directory, fsync, rename) and keeps the file's mode; a new file
// gets 0600. A symlink is followed: its target is replaced.
//
// It returns the backup's path ("" when the file did not exist or content
// equals it already, in which case nothing is written).
func Write(path string, original, content []byte, now time.Time) (backup string, err error) {
	// As kubectl and the aws CLI do, a first kubeconfig gets its directory.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return locked(path, func() (string, error) { return write(path, original, content, now) })
}

func write(path string, original, content []byte, now time.Time) (string, error) {
	target, err := resolve(path)
	if err != nil {
		return "", err
	}
	cur, err := os.ReadFile(target)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(original) > 0 {
			return "", fmt.Errorf("%s: %w: it was removed since it was read; nothing written", path, ErrChanged)
		}
	case err != nil:
		return "", err
	case !bytes.Equal(cur, original):
		return "", fmt.Errorf("%s: %w since it was read (another program edited it); nothing written, run again", path, ErrChanged)
	}
	if !exists {
		return "", replace(target, content, 0o600, nil)
	}
	if bytes.Equal(cur, content) {
		return "", nil
	}
	st, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	mode := st.Mode().Perm()
	if mode&0o200 == 0 {
		// Replacing it by rename would get around the mode; respect it.
		return "", fmt.Errorf("%s is read-only (mode %v): make it writable (chmod u+w) for ekstoken to change it", path, mode)
	}
	backup, err := createBackup(path, now, mode, cur, st)
	if err != nil {
		return "", err
	}
	if err := writeNew(backup+writtenSuffix, mode, content, st); err != nil {
		os.Remove(backup)
		return "", err
	}
	if err := replace(target, content, mode, st); err != nil {
		os.Remove(backup + writtenSuffix)
		os.Remove(backup)
		return "", err
	}
	return backup, nil
}

// Undo restores the newest backup Write made of path, provided the file
// still holds what Write wrote; otherwise it restores nothing and its
// error shows what changed. The used backup is removed, so another Undo
// goes one step further back. It returns the backup restored from.
func Undo(path string) (restoredFrom string, err error) {
	return locked(path, func() (string, error) { return undo(path) })
}

func undo(path string) (string, error) {
	backups, err := Backups(path)
	if err != nil {
		return "", err
	}
	if len(backups) == 0 {
		return "", fmt.Errorf("%s: %w to undo", path, ErrNoBackup)
	}
	backup := backups[len(backups)-1]
	written, err := os.ReadFile(backup + writtenSuffix)
	if err != nil {
		return "", fmt.Errorf("%s: no record of what ekstoken wrote (%v); not restoring. To restore anyway: cp %s %s", backup, err, backup, path)
	}
	target, err := resolve(path)
	if err != nil {
		return "", err
	}
	cur, err := os.ReadFile(target)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w: it was removed after ekstoken wrote it; not restoring. To restore anyway: cp %s %s", path, ErrChanged, backup, path)
	} else if err != nil {
		return "", err
	}
	if !bytes.Equal(cur, written) {
		return "", fmt.Errorf("%s: %w after ekstoken wrote it; not restoring, so those edits are not lost. To restore anyway: cp %s %s\nChanges since ekstoken wrote it:\n%s",
			path, ErrChanged, backup, path, Diff(path, written, cur))
	}
	old, err := os.ReadFile(backup)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(backup)
	if err != nil {
		return "", err
	}
	owner, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	if err := replace(target, old, st.Mode().Perm(), owner); err != nil {
		return "", err
	}
	if err := os.Remove(backup + writtenSuffix); err != nil {
		return backup, err
	}
	return backup, os.Remove(backup)
}

// Backups lists the backups Write made of path, oldest first.
func Backups(path string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	type bk struct {
		path string
		t    time.Time
		seq  int
	}
	var found []bk
	prefix := filepath.Base(path) + backupInfix
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		ts, seqs, _ := strings.Cut(rest, ".")
		t, err := time.Parse(backupTime, ts)
		if err != nil {
			continue
		}
		seq := 0
		if seqs != "" {
			if seq, err = strconv.Atoi(seqs); err != nil || seq < 1 {
				continue // the .written record, or not ours
			}
		}
		found = append(found, bk{filepath.Join(filepath.Dir(path), e.Name()), t, seq})
	}
	sort.Slice(found, func(i, j int) bool {
		if !found[i].t.Equal(found[j].t) {
			return found[i].t.Before(found[j].t)
		}
		return found[i].seq < found[j].seq
	})
	out := make([]string, len(found))
	for i, b := range found {
		out[i] = b.path
	}
	return out, nil
}

// createBackup writes data to a new backup file with exactly mode; a
// second backup in the same second gets a ".N" suffix.
func createBackup(path string, now time.Time, mode fs.FileMode, data []byte, owner fs.FileInfo) (string, error) {
	base := path + backupInfix + now.UTC().Format(backupTime)
	for n := 0; n < 100; n++ {
		name := base
		if n > 0 {
			name = fmt.Sprintf("%s.%d", base, n)
		}
		err := writeNew(name, mode, data, owner)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("%s: too many backups in one second", path)
}

// writeNew creates name (it must not exist) with mode and writes data.
// The umask can only narrow mode; chmod then sets it exactly, which is
// never wider than mode.
func writeNew(name string, mode fs.FileMode, data []byte, owner fs.FileInfo) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
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
	return f.Sync()
}

// replace atomically replaces target with data and mode: a temp file in
// the same directory (created 0600, then given mode), fsync, rename.
func replace(target string, data []byte, mode fs.FileMode, owner fs.FileInfo) (err error) {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".ekstoken-tmp-*")
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
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not supported everywhere
		d.Close()
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

// lock takes kubectl's lock on a kubeconfig: path + ".lock", created
// exclusively and removed when done. It waits up to lockWait.
func lock(path string) (unlock func() error, err error) {
	name := path + ".lock"
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() error { return os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			age := ""
			if st, err := os.Stat(name); err == nil {
				age = fmt.Sprintf(", made %s ago", time.Since(st.ModTime()).Round(time.Second))
			}
			return nil, fmt.Errorf("%s is locked: another kubectl or ekstoken is editing it (lock file %s%s). If none is running, remove the lock file and try again", path, name, age)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// locked runs f holding kubectl's lock on path, and reports a failure to
// release it when f itself succeeded.
func locked(path string, f func() (string, error)) (out string, err error) {
	unlock, err := lock(path)
	if err != nil {
		return "", err
	}
	defer func() {
		if uerr := unlock(); err == nil {
			err = uerr
		}
	}()
	return f()
}
