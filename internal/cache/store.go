// Package cache keeps small secret files (EKS tokens, cached AWS
// credentials) in one private directory, safely under parallel kubectl runs.
//
// The rules, and why:
//   - The directory is 0700 and the files are created 0600 by the temp file
//     itself, never chmod-ed after writing, so no moment exists where another
//     user could open them.
//   - Writes go to a temp file in the same directory, are synced and renamed
//     over the entry: a reader sees the old entry or the new one, never half
//     of one (kubernetes/kubernetes PR #50254 reverted a cache for that).
//   - Entries are opened without following symlinks and must be regular files
//     of ours with no group or other bits; anything else is a miss.
//   - A refresh holds a lock on a sibling "<name>.lock", never the entry
//     itself, which Windows would then refuse to rename (kubelogin #1144).
//   - Reads take no lock: the hot path is one open and one read.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/gofrs/flock"
)

// ErrNotFound is returned by Read when no entry exists.
var ErrNotFound = entryfile.ErrNotFound

// Store is a directory of entries named by their keys.
type Store struct {
	Dir string
}

func (s Store) path(name string) string { return entryfile.Dir(s.Dir).Path(name) }

// Read decodes the entry called name into v; see entryfile.Dir.Read.
func (s Store) Read(name string, v any) error { return entryfile.Dir(s.Dir).Read(name, v) }

// Write stores v as the entry called name, atomically.
func (s Store) Write(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode cache entry: %w", err)
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	// os.CreateTemp creates the file 0600 with O_EXCL: private from its
	// first moment, whatever the umask.
	tmp, err := os.CreateTemp(s.Dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync cache file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close cache file: %w", err)
	}
	// rename replaces a symlink at the destination rather than writing
	// through it.
	if err := rename(tmp.Name(), s.path(name)); err != nil {
		return fmt.Errorf("replace cache entry: %w", err)
	}
	return nil
}

// Remove deletes the entry called name and its lock file.
func (s Store) Remove(name string) error {
	err := os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	_ = os.Remove(filepath.Join(s.Dir, name+".lock"))
	return err
}

// Names lists the entries in the store, sorted.
func (s Store) Names() ([]string, error) {
	des, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list cache: %w", err)
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, strings.TrimSuffix(n, ".json"))
		}
	}
	return names, nil
}

// Path is the file that holds the entry called name, for people to read.
func (s Store) Path(name string) string { return s.path(name) }

// Lock takes the lock of the entry called name, waiting at most until ctx
// ends. The returned func releases it.
func (s Store) Lock(ctx context.Context, name string) (unlock func(), err error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	// The lock file is opened without following a symlink, like entries.
	l := flock.New(filepath.Join(s.Dir, name+".lock"), flock.SetFlag(os.O_CREATE|os.O_RDWR|noFollow))
	ok, err := l.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lock cache entry: %w", err)
	}
	if !ok {
		return nil, errors.New("lock cache entry: timed out")
	}
	return func() { _ = l.Unlock() }, nil
}

// ensureDir creates the directory 0700, or makes an existing one private.
// A directory that others can write and that is not ours is refused: any
// user could swap entries in it.
func (s Store) ensureDir() error {
	if s.Dir == "" {
		return errors.New("no cache directory")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	st, err := os.Stat(s.Dir)
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", s.Dir)
	}
	if runtime.GOOS == "windows" || st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if !entryfile.OwnedByMe(st) {
		return fmt.Errorf("cache directory %s belongs to another user and others can use it; pass --cache-dir", s.Dir)
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return fmt.Errorf("make cache directory private: %w", err)
	}
	return nil
}
