//go:build unix

package gettoken

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ekstoken/ekstoken/internal/cache"
)

// TestSharedDirStillYieldsToken: a cache directory that others can write
// is neither used nor changed; the token still comes, and stderr says what
// to pass instead.
func TestSharedDirStillYieldsToken(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, mode := range []fs.FileMode{0o777 | fs.ModeSticky, 0o777, 0o770, 0o775} {
		h := newHarness(t)
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		h.store = &cache.Store{Dir: dir}
		var stderr strings.Builder
		c, _, err := h.runTo(&stderr, Input{})
		if err != nil || c.Token == "" {
			t.Fatalf("%v: no token: %v", mode, err)
		}
		st, _ := os.Stat(dir)
		if st.Mode()&(fs.ModePerm|fs.ModeSticky) != mode {
			t.Errorf("directory mode changed from %v to %v", mode, st.Mode())
		}
		if !strings.Contains(stderr.String(), "--cache-dir "+filepath.Join(dir, "ekstoken")) {
			t.Errorf("%v: stderr does not say what to pass: %q", mode, stderr.String())
		}
		if des, _ := os.ReadDir(dir); len(des) != 0 {
			t.Errorf("%v: wrote %d files into a shared directory", mode, len(des))
		}
	}
}
