// Package entryfile reads one cache entry safely: opened without following
// a symlink or blocking on a FIFO, accepted only as a regular file of ours
// that nobody else can read or write, bounded in size, decoded from JSON.
//
// It is the read half of internal/cache, kept apart so that the cache-hit
// path links only light standard-library packages: no gofrs/flock and no
// path/filepath, whose place in Go's package initialization order would
// let the AWS SDK's schema packages initialize before a hit is served (see
// internal/fastpath).
package entryfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// MaxSize bounds what a read takes in; real entries are about 2 KiB.
const MaxSize = 64 << 10

// ErrNotFound is returned by Read when no entry exists.
var ErrNotFound = errors.New("no cache entry")

// Dir is a directory of entries, each in "<name>.json".
type Dir string

// Path is the file that holds the entry called name.
func (d Dir) Path(name string) string { return Join(string(d), name+".json") }

// Read decodes the entry called name into v. A missing entry gives
// ErrNotFound; a foreign, corrupt, truncated or unsafe one an error saying
// what is wrong. Callers treat every error as a miss.
func (d Dir) Read(name string, v any) error {
	f, err := openNoFollow(d.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("open cache entry: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat cache entry: %w", err)
	}
	if err := CheckPrivate(st); err != nil {
		return fmt.Errorf("cache entry %s: %w", f.Name(), err)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return fmt.Errorf("read cache entry: %w", err)
	}
	if len(b) > MaxSize {
		return fmt.Errorf("cache entry %s is larger than %d bytes", f.Name(), MaxSize)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode cache entry %s: %w", f.Name(), err)
	}
	return nil
}

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
		return fmt.Errorf("mode %v is wider than 0600", st.Mode().Perm())
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
	var b strings.Builder
	for _, e := range elem {
		if e == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasSuffix(b.String(), string(os.PathSeparator)) {
			b.WriteByte(os.PathSeparator)
		}
		trimmed := strings.TrimRight(e, "/"+string(os.PathSeparator))
		if trimmed == "" && b.Len() == 0 {
			trimmed = string(os.PathSeparator) // the root directory itself
		}
		b.WriteString(trimmed)
	}
	return b.String()
}

func checkRegular(f *os.File) (*os.File, fs.FileInfo, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	return f, st, nil
}
