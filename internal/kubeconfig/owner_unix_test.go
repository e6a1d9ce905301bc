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

// `sudo ekstoken setup` and its undo must leave a user's kubeconfig owned
// by that user.
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
	log := UndoLog{Dir: filepath.Join(t.TempDir(), "undo")}
	if _, err := log.WriteSetup(path, []byte("a: 1\n"), []byte("a: 2\n"), nil, when); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 65534 || sys.Gid != 65534 {
		t.Errorf("%s is owned by %d:%d, want 65534:65534", path, sys.Uid, sys.Gid)
	}
	if _, err := log.Undo(path); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(path)
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
	log := UndoLog{Dir: filepath.Join(t.TempDir(), "undo")}
	_, err := log.WriteSetup(path, []byte("a: 1\n"), []byte("a: 2\n"), nil, when)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Write = %v, want a read-only error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a: 1\n" {
		t.Errorf("the file changed: %q", b)
	}
	if recs, _ := log.Records(path); len(recs) != 0 {
		t.Errorf("undo records made: %v", recs)
	}
}

// A first kubeconfig gets its directory, as with kubectl and the aws CLI.
func TestWriteCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".kube", "config")
	if err := Write(path, nil, []byte("a: 1\n")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stat = %v, %v; want a 0600 file", st, err)
	}
}
