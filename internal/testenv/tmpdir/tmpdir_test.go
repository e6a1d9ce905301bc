package tmpdir

import (
	"os"
	"path/filepath"
	"testing"
)

// The removal New uses under wine must empty any tree, of any depth, with
// read-only files in it, using os.Remove alone; it runs on every platform.
func TestRemoveBottomUp(t *testing.T) {
	for _, depth := range []int{0, 1, 3} {
		dir := filepath.Join(New(t), "tree")
		p := dir
		for i := range depth + 1 {
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"a", ".b.tmp", "c.lock"} {
				if err := os.WriteFile(filepath.Join(p, name), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if i == depth {
				if err := os.Chmod(filepath.Join(p, "a"), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			p = filepath.Join(p, "sub")
		}
		if err := removeBottomUp(dir); err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("depth %d: %s still there: %v", depth, dir, err)
		}
	}
}

// New's directory exists, is empty and is gone once the test ends,
// under wine too, with files left in it.
func TestNewIsRemoved(t *testing.T) {
	var dir string
	t.Run("user", func(t *testing.T) {
		dir = New(t)
		if err := os.MkdirAll(filepath.Join(dir, "x", "y"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x", "y", "f"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after its test: %v", dir, err)
	}
}
