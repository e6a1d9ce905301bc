//go:build unix

package kubeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var when = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// `sudo ekstoken setup` must leave a user's kubeconfig, and its backup,
// owned by that user.
func TestWriteKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file another owner")
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	backup, err := Write(path, []byte("a: 1\n"), []byte("a: 2\n"), when)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, backup, backup + writtenSuffix} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 65534 || sys.Gid != 65534 {
			t.Errorf("%s is owned by %d:%d, want 65534:65534", p, sys.Uid, sys.Gid)
		}
	}
	if _, err := Undo(path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 65534 {
		t.Errorf("after Undo the file is owned by %d, want 65534", sys.Uid)
	}
}

// A read-only kubeconfig says no: replacing it by rename would get around
// its mode.
func TestWriteRefusesReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("a: 1\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	_, err := Write(path, []byte("a: 1\n"), []byte("a: 2\n"), when)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Write = %v, want a read-only error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a: 1\n" {
		t.Errorf("the file changed: %q", b)
	}
	if backups, _ := Backups(path); len(backups) != 0 {
		t.Errorf("backups made: %v", backups)
	}
}

// A first kubeconfig gets its directory, as with kubectl and the aws CLI.
func TestWriteCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".kube", "config")
	if _, err := Write(path, nil, []byte("a: 1\n"), when); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stat = %v, %v; want a 0600 file", st, err)
	}
}
