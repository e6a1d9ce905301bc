// Package cache keeps small secret files (EKS tokens, cached AWS
// credentials) in one private directory, safely under parallel kubectl runs.
//
// The rules, and why:
//   - The directory is created 0700. An existing directory is used as it
//     is, never chmod-ed: ekstoken changes the mode only of what it created.
//     One that others can write, or that another user owns, is refused,
//     since anyone who can write it could swap entries.
//   - The files are created 0600 by the temp file itself, never chmod-ed
//     after writing, so no moment exists where another user could open them.
//   - Writes go to a temp file in the same directory, are synced and renamed
//     over the entry: a reader sees the old entry or the new one, never half
//     of one (kubernetes/kubernetes PR #50254 reverted a cache for that).
//   - Entries are opened without following symlinks and must be regular files
//     of ours with no group or other bits; anything else is a miss.
//   - A refresh holds a lock on a sibling "<name>.lock", never the entry
//     itself, which Windows would then refuse to rename (kubelogin #1144).
//   - Reads take no lock: the hot path is one open and one read.
//   - Only files that ekstoken wrote are listed or removed: a name of
//     ekstoken's pattern, owned by the user, and (for entries) of a format
//     the caller knows. The cache directory may be one the user shares with
//     other programs.
package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/jsonlite"
)

// ErrUnsafeDir says the cache directory was refused: others can write it,
// or another user owns it. ekstoken still works, uncached.
var ErrUnsafeDir = errors.New("unsafe cache directory")

// ErrNotFound is returned by Read when no entry exists.
var ErrNotFound = entryfile.ErrNotFound

// Names of what ekstoken writes: "<kind>-<hex>" entries (".json"), their
// ".lock" files, and the temp files os.CreateTemp makes from
// "."+name+".*.tmp". The hash part is hex of any length from 16 to 64, so
// that a cheaper name hash keeps the same rules.
var (
	entryName = regexp.MustCompile(`^(token|credentials|backoff|sso|exec)-[0-9a-f]{16,64}$`)
	tempName  = regexp.MustCompile(`^\.(token|credentials|backoff|exec)-[0-9a-f]{16,64}\.[0-9]+\.tmp$`)
)

// StaleAfter is how old a temp file must be before it is taken for a
// crashed writer's: a live writer renames its temp file within
// milliseconds.
const StaleAfter = time.Minute

// IsEntryName reports whether name is one ekstoken gives its entries.
func IsEntryName(name string) bool { return entryName.MatchString(name) }

// Store is a directory of entries named by their keys.
type Store struct {
	Dir string
	// Holds, when set, lets the process say in the lock files it holds that
	// it waits for a person (see Holds). Copies of the Store share it.
	Holds *Holds
}

func (s Store) path(name string) string { return entryfile.Dir(s.Dir).Path(name) }

// ReadBytes returns the entry called name; see entryfile.Dir.ReadBytes.
func (s Store) ReadBytes(name string) ([]byte, error) { return entryfile.Dir(s.Dir).ReadBytes(name) }

// Read decodes the entry called name into v. Every error is a miss to the
// callers; ErrNotFound says there is no entry.
func (s Store) Read(name string, v any) error {
	b, err := s.ReadBytes(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode cache entry %s: %w", s.path(name), err)
	}
	return nil
}

// Write stores v as the entry called name, atomically and durably: the
// data is synced before the rename. Then it removes the temp files that
// crashed writers left behind: off the hit path, and only ekstoken's own,
// old enough that no live writer can own them.
func (s Store) Write(name string, v any) error { return s.write(name, v, true) }

// WriteUnsynced is Write without the sync, for entries that are cheap to
// lose: a token entry that a power cut leaves empty or short is read as a
// miss, and signing again costs less than the millisecond a sync adds to
// every miss. A crash of the process itself loses nothing either way: the
// rename is atomic and the data is in the page cache.
func (s Store) WriteUnsynced(name string, v any) error { return s.write(name, v, false) }

func (s Store) write(name string, v any, durable bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode cache entry: %w", err)
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	// The temp file is created exclusively and private from its first
	// moment: 0600 whatever the umask, or on Windows an owner-only DACL
	// (store_windows.go).
	tmp, err := createTemp(s.Dir, name)
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write cache file: %w", err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("sync cache file: %w", err)
		}
	}
	// The file system's own clock, read from the file just written, judges
	// the age of the others: a network file system's clock may differ from
	// ours.
	st, statErr := tmp.Stat()
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close cache file: %w", err)
	}
	// rename replaces a symlink at the destination rather than writing
	// through it.
	if err := rename(tmp.Name(), s.path(name)); err != nil {
		return fmt.Errorf("replace cache entry: %w", err)
	}
	if statErr == nil {
		_, _ = s.RemoveStaleTemps(st.ModTime())
		_, _ = s.RemoveUnused(st.ModTime())
	}
	return nil
}

// ours reports whether the file at path (not followed) is a regular file of
// the user's.
func ours(path string) (fs.FileInfo, bool) {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || !entryfile.OwnedByMe(st) {
		return nil, false
	}
	return st, true
}

// Remove deletes the entry called name, if it has ekstoken's name pattern
// and is a regular file of the user's, and its lock file if nobody holds
// it. The caller has checked the entry's format (Probe).
func (s Store) Remove(name string) error {
	if !IsEntryName(name) {
		return fmt.Errorf("%q is not the name of an ekstoken entry", name)
	}
	p := s.path(name)
	if _, ok := ours(p); ok {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove cache entry: %w", err)
		}
	}
	s.removeLockIfFree(name)
	return nil
}

// Names lists the entries in the store, sorted: files with ekstoken's entry
// name pattern that are regular files of the user's. What they hold is for
// the caller to check (Probe): the name alone proves nothing.
func (s Store) Names() ([]string, error) {
	des, err := s.list()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		base, ok := cutSuffix(de.Name(), ".json")
		if !ok || !IsEntryName(base) {
			continue
		}
		if _, ok := ours(filepath.Join(s.Dir, de.Name())); ok {
			names = append(names, base)
		}
	}
	return names, nil
}

// Probe reads the format of the entry called name, for listing and
// clearing. Unlike Read it accepts an entry of the user's whose mode is
// wider than 0600 (still ekstoken's, to be reported and removable), but
// never a symlink, someone else's file, or more than entryfile.MaxSize.
func (s Store) Probe(name string) (format string, err error) {
	f, err := openNoFollow(s.path(name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() || !entryfile.OwnedByMe(st) {
		return "", errors.New("not a regular file of yours")
	}
	b, err := io.ReadAll(io.LimitReader(f, entryfile.MaxSize+1))
	if err != nil {
		return "", err
	}
	// Read as ekstoken writes entries: a JSON object with exactly one
	// "format" key, spelt so (encoding/json would also take "FORMAT", and
	// the last of two).
	v, err := jsonlite.Parse(b)
	if len(b) > entryfile.MaxSize || err != nil || v.Kind != jsonlite.Object {
		return "", errors.New("not an ekstoken entry")
	}
	format, n := "", 0
	for _, m := range v.Members {
		if m.Key == "format" && m.Value.Kind == jsonlite.String {
			format, n = m.Value.Str, n+1
		} else if strings.EqualFold(m.Key, "format") {
			n += 2
		}
	}
	if n != 1 {
		return "", errors.New("not an ekstoken entry")
	}
	return format, nil
}

// RemoveStaleTemps removes temp files that crashed writers left: names of
// ekstoken's temp pattern, regular files of the user's, private, last
// written StaleAfter or more before now, so that no live writer's temp
// file is taken. It returns how many it removed.
func (s Store) RemoveStaleTemps(now time.Time) (int, error) {
	return s.removeTemps(func(st fs.FileInfo) bool { return now.Sub(st.ModTime()) >= StaleAfter })
}

// UnusedAfter is how long an entry may go unwritten before a write sweeps
// it away. Entries in use are written again at every refresh (a token
// lives 15 minutes, a role session an hour or a few); one untouched for a
// day belongs to an identity that is gone: an old session token, a rotated
// service account token, a cluster deleted. At worst, a credential whose
// process gives a longer life runs that process once more.
const UnusedAfter = 24 * time.Hour

// RemoveUnused removes the entries of ekstoken's (name pattern, regular
// private files of the user's, ekstoken's format) not written for
// UnusedAfter before now, with their free lock files, so that the cache
// does not grow with every identity it has ever served. It returns how
// many it removed.
func (s Store) RemoveUnused(now time.Time) (int, error) {
	des, err := s.list()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, de := range des {
		name, ok := cutSuffix(de.Name(), ".json")
		if !ok || !IsEntryName(name) {
			continue
		}
		st, ok := ours(filepath.Join(s.Dir, de.Name()))
		if !ok || (runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0) || now.Sub(st.ModTime()) < UnusedAfter {
			continue
		}
		if format, err := s.Probe(name); err != nil || !strings.HasPrefix(format, "ekstoken/") {
			continue
		}
		if s.Remove(name) == nil {
			n++
		}
	}
	return n, nil
}

// list is the directory's entries, none when it does not exist.
func (s Store) list() ([]fs.DirEntry, error) {
	des, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Windows may say "path not found" for a regular file in the
		// directory's place (wine does): that is no empty cache.
		if st, serr := os.Stat(s.Dir); serr == nil && !st.IsDir() {
			return nil, fmt.Errorf("list cache: %s is not a directory", s.Dir)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list cache: %w", err)
	}
	return des, nil
}

// RemoveTemps removes every temp file of ekstoken's in the store, however
// young, for `clear`: a live writer whose temp file goes only fails to
// cache its token, which it still prints, and a killed one's secret must
// not wait a minute.
func (s Store) RemoveTemps() (int, error) {
	return s.removeTemps(func(fs.FileInfo) bool { return true })
}

func (s Store) removeTemps(remove func(fs.FileInfo) bool) (int, error) {
	des, err := s.list()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, de := range des {
		if !tempName.MatchString(de.Name()) {
			continue
		}
		p := filepath.Join(s.Dir, de.Name())
		st, ok := ours(p)
		if !ok || (runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0) || !remove(st) {
			continue
		}
		if err := os.Remove(p); err == nil {
			n++
		}
	}
	return n, nil
}

// RemoveStaleLocks removes the lock files that nobody holds: ekstoken's
// lock name pattern, regular files of the user's, free to lock without
// waiting. It returns how many it removed.
func (s Store) RemoveStaleLocks() (int, error) {
	des, err := s.list()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, de := range des {
		base, ok := cutSuffix(de.Name(), ".lock")
		if !ok || !IsEntryName(base) {
			continue
		}
		if s.removeLockIfFree(base) {
			n++
		}
	}
	return n, nil
}

// Path is the file that holds the entry called name, for people to read.
func (s Store) Path(name string) string { return s.path(name) }

// CheckDir says whether the directory may hold entries, without creating
// or changing it: see ensureDir.
func (s Store) CheckDir() error {
	st, err := os.Stat(s.Dir)
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return checkDir(s.Dir, st)
}

// ensureDir creates the directory, and the parents it lacks, 0700 (mkdir
// only narrows that by the umask, so no moment is wider; on Windows with an
// owner-only DACL from the moment it exists), or accepts an
// existing one as it is. It changes the mode of nothing: a directory that
// others can write is refused, since another user could swap entries in
// it, and so is one that another user owns.
//
// A directory of the user's that others can read but not write (0755) is
// accepted: entries are 0600, so others see only how many there are and
// their hashed names.
func (s Store) ensureDir() error {
	if s.Dir == "" {
		return errors.New("no cache directory")
	}
	if err := mkdirAll(s.Dir); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	st, err := os.Stat(s.Dir)
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return checkDir(s.Dir, st)
}

func checkDir(dir string, st fs.FileInfo) error {
	if !st.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", dir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s can be written by other users (mode %s), who could swap tokens in it, and ekstoken does not change the mode of a directory it did not create: pass --cache-dir %s (ekstoken creates it private), or run chmod go-w %s yourself",
			ErrUnsafeDir, dir, octal(st.Mode()), filepath.Join(dir, "ekstoken"), dir)
	}
	if !entryfile.OwnedByMe(st) {
		return fmt.Errorf("%w: %s belongs to another user: pass --cache-dir with a directory of your own, or leave it out to use ~/.kube/cache/ekstoken", ErrUnsafeDir, dir)
	}
	return nil
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || s[len(s)-len(suffix):] != suffix {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

// openNoFollow opens a file of the store for reading, refusing a symlink
// and anything that is not a regular file (a FIFO would block the open).
func openNoFollow(path string) (*os.File, error) {
	if _, ok := ours(path); !ok {
		return nil, errors.New("not a regular file of yours")
	}
	return os.OpenFile(path, os.O_RDONLY|noFollow, 0)
}

// octal writes a mode as chmod takes it: 1777, 0755.
func octal(m fs.FileMode) string {
	o := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		o |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		o |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		o |= 0o4000
	}
	return fmt.Sprintf("%04o", o)
}
