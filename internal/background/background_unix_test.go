//go:build unix

package background

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRefreshHoldsNothingOfItsCaller: descriptors the starter's own caller
// handed it open (not close-on-exec: a pipe the caller reads to its end,
// whatever number it has) do not reach the refresh, which outlives the
// starter: the caller sees the pipe's end when the starter exits, not
// minutes later when the refresh does.
func TestRefreshHoldsNothingOfItsCaller(t *testing.T) {
	for _, extra := range []int{0, 3, 20} {
		t.Run(strconv.Itoa(extra)+" more open files", func(t *testing.T) {
			dir := t.TempDir()
			// Other descriptors first, so that the pipe gets another number.
			for i := 0; i < extra; i++ {
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// Inherited, as a caller's pipe would be.
			if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_SETFD, 0); e != 0 {
				t.Fatal(e)
			}
			pidFile := filepath.Join(dir, "pid")
			started, err := Start(Request{
				Executable: "/bin/sh",
				// Start adds Flag: it becomes the script's $1.
				Args:     []string{"-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 5`, pidFile},
				LockPath: filepath.Join(dir, "token-x.lock"),
			})
			if err != nil || !started {
				t.Fatalf("Start: %v, %v", started, err)
			}
			t.Cleanup(func() { killFromFile(t, pidFile) })
			w.Close()
			waitForFile(t, pidFile)
			done := make(chan error, 1)
			go func() {
				_, err := r.Read(make([]byte, 1))
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, io.EOF) {
					t.Fatalf("read the pipe: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the refresh holds its starter's caller's pipe open")
			}
		})
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s never appeared: the refresh did not run", path)
}

// killFromFile kills the process whose id the started script wrote.
func killFromFile(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Errorf("pid file: %v", err)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// TestLogIsAFileOfItsOwn: the refresh's debug log goes to the named file
// only when it is a regular file of its own. Planted in its place, a
// FIFO (whose open would block the starter, and kubectl with it, for
// good), a symlink or a hard link to another file get nothing, and the
// refresh starts all the same.
func TestLogIsAFileOfItsOwn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		plant   func(t *testing.T, log, other string)
		written bool
	}{
		{"absent", func(*testing.T, string, string) {}, true},
		{"a file of its own", func(t *testing.T, log, _ string) { must(t, os.WriteFile(log, nil, 0o600)) }, true},
		{"a FIFO", func(t *testing.T, log, _ string) { must(t, syscall.Mkfifo(log, 0o600)) }, false},
		{"a symlink", func(t *testing.T, log, other string) { must(t, os.Symlink(other, log)) }, false},
		{"a hard link", func(t *testing.T, log, other string) { must(t, os.Link(other, log)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			log, other, pidFile := filepath.Join(dir, "background.log"), filepath.Join(dir, "other"), filepath.Join(dir, "pid")
			must(t, os.WriteFile(other, []byte("keep\n"), 0o600))
			tc.plant(t, log, other)
			done := make(chan error, 1)
			go func() {
				_, err := Start(Request{
					Executable: "/bin/sh",
					Args:       []string{"-c", `echo logged >&2; echo $$ > "$0.tmp" && mv "$0.tmp" "$0"`, pidFile},
					LockPath:   filepath.Join(dir, "token-x.lock"),
					LogPath:    log,
				})
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
			case <-time.After(5 * time.Second):
				// Unblock the starter before failing: open the FIFO's other end.
				if f, err := os.OpenFile(log, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
					defer f.Close()
				}
				<-done
				t.Fatal("Start blocked on the log")
			}
			waitForFile(t, pidFile)
			if b, _ := os.ReadFile(other); string(b) != "keep\n" {
				t.Errorf("another file was written through the log path: %q", b)
			}
			var b []byte
			if fi, err := os.Lstat(log); err == nil && fi.Mode().IsRegular() {
				b, _ = os.ReadFile(log) // never a FIFO's: that would block
			}
			if got := strings.Contains(string(b), "logged"); got != tc.written {
				t.Errorf("log written: %v, want %v (%q)", got, tc.written, b)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
