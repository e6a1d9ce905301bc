// Package tmpdir gives tests a temporary directory, as t.TempDir does, that
// is also removed when the Windows build's tests run under wine.
//
// Wine 8 does not implement the delete call that os.RemoveAll uses on
// Windows (NtSetInformationFile with FileDispositionInformationEx, POSIX
// semantics): it answers STATUS_INVALID_DEVICE_REQUEST, which Go does not
// take as a reason to fall back, so t.TempDir's cleanup fails every test
// that leaves a file behind ("unlinkat …: Invalid function"). os.Remove of
// a file or of an empty directory uses DeleteFile and RemoveDirectory,
// which wine has. Under wine, and only there, New removes the directory's
// contents bottom-up with os.Remove before t.TempDir's own cleanup runs,
// which then finds an empty directory and removes it with os.Remove too.
// Anything it cannot remove fails the test: nothing is skipped.
//
// On Linux, macOS and real Windows New is t.TempDir.
package tmpdir

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// New returns a new temporary directory for t, removed when t ends.
func New(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if UnderWine() {
		// Cleanups run last registered first: this one runs before the
		// RemoveAll that t.TempDir registered.
		t.Cleanup(func() {
			if err := removeBottomUp(dir); err != nil {
				t.Errorf("remove temporary directory under wine: %v", err)
			}
		})
	}
	return dir
}

// removeBottomUp removes dir and everything in it with os.Remove only,
// deepest first: WalkDir lists a directory before its contents, so the
// reverse of its order lists every child before its parent.
func removeBottomUp(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range slices.Backward(paths) {
		if err := os.Remove(p); err != nil {
			// A test may leave a file read-only (on Windows, the
			// read-only attribute), which DeleteFile refuses.
			if os.Chmod(p, 0o600) != nil || os.Remove(p) != nil {
				return err
			}
		}
	}
	return nil
}
