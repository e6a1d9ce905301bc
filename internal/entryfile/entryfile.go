// Package entryfile reads one cache entry safely: opened without following
// a symlink or blocking on a FIFO, accepted only as a regular file of ours
// that nobody else can read or write, bounded in size.
//
// It is the read half of internal/cache, kept apart so that the cache-hit
// path links only light standard-library packages: no gofrs/flock, no
// path/filepath, no encoding/json, fmt or strings, whose places in Go's
// package initialization order would let the AWS SDK's packages and the
// standard library's heavy ones initialize before a hit is served (see
// internal/fastpath). Decoding is the caller's: internal/cache with
// encoding/json, the hit path with internal/jsonlite.
package entryfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"

	"github.com/ekstoken/ekstoken/internal/strlite"
)

// MaxSize bounds what a read takes in; real entries are about 2 KiB.
const MaxSize = 64 << 10

// ErrNotFound is returned by Read when no entry exists.
var ErrNotFound = errors.New("no cache entry")

// Dir is a directory of entries, each in "<name>.json".
type Dir string

// Path is the file that holds the entry called name.
func (d Dir) Path(name string) string { return Join(string(d), name+".json") }

// LockPath is the lock file of the entry called name.
func (d Dir) LockPath(name string) string { return Join(string(d), name+".lock") }

// ReadBytes returns the content of the entry called name. A missing entry
// gives ErrNotFound; a foreign, truncated or unsafe one an error saying
// what is wrong. Callers treat every error as a miss.
func (d Dir) ReadBytes(name string) ([]byte, error) {
	f, err := openNoFollow(d.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap("open cache entry", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, wrap("stat cache entry", err)
	}
	if err := CheckPrivate(st); err != nil {
		return nil, wrap("cache entry "+f.Name(), err)
	}
	// One read for the whole entry: its size is known.
	b := make([]byte, 0, min(max(st.Size(), 0), MaxSize)+1)
	for len(b) < cap(b) {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrap("read cache entry", err)
		}
		if len(b) == cap(b) && len(b) <= MaxSize {
			// It grew since the stat: take the rest, up to the bound.
			b = append(b, 0)[:len(b)]
		}
	}
	if len(b) > MaxSize {
		return nil, errors.New("cache entry " + f.Name() + " is larger than " + strconv.Itoa(MaxSize) + " bytes")
	}
	return b, nil
}

// wrap is fmt.Errorf("%s: %w", what, err), without package fmt.
func wrap(what string, err error) error { return &wrapped{what + ": " + err.Error(), err} }

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// CheckPrivate accepts only regular files of ours that nobody else can read
// or write.
func CheckPrivate(st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if st.Mode().Perm()&0o077 != 0 {
		return errors.New("mode " + st.Mode().Perm().String() + " is wider than 0600")
	}
	if !OwnedByMe(st) {
		return errors.New("owned by another user")
	}
	return nil
}

// Join joins path elements with the OS separator, skipping empty ones and
// trailing separators, as filepath.Join does for the names it is given
// here (a directory from configuration, then fixed names), without
// importing path/filepath. TestJoinAgreesWithFilepath holds it to that.
func Join(elem ...string) string {
	var b []byte
	for _, e := range elem {
		if e == "" {
			continue
		}
		if len(b) > 0 && b[len(b)-1] != os.PathSeparator {
			b = append(b, os.PathSeparator)
		}
		trimmed := strlite.TrimRightByte(e, '/', os.PathSeparator)
		if trimmed == "" && len(b) == 0 {
			trimmed = string(os.PathSeparator) // the root directory itself
		}
		b = append(b, trimmed...)
	}
	return string(b)
}

func checkRegular(f *os.File) (*os.File, fs.FileInfo, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, errors.New(f.Name() + " is not a regular file")
	}
	return f, st, nil
}
