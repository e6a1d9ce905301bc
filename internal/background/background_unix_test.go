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
