//go:build linux

package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

const writeHelperEnv = "EKSTOKEN_CACHE_WRITE_HELPER"

// TestWriteHelperProcess writes one entry in the directory its parent
// names; the parent kills it at a system call of its choice.
func TestWriteHelperProcess(t *testing.T) {
	dir := os.Getenv(writeHelperEnv)
	if dir == "" {
		return
	}
	write := Store{Dir: dir}.Write
	if os.Getenv(writeHelperEnv+"_UNSYNCED") != "" {
		write = Store{Dir: dir}.WriteUnsynced
	}
	if err := write(K, entry{Token: "secret-token", Pad: strings.Repeat("x", 4096)}); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

// Write syncs what it writes; WriteUnsynced, used for token entries,
// makes no sync call at all (a token lost to a power cut is a miss).
func TestWriteSyncsOnlyWhenDurable(t *testing.T) {
	testenv.SkipIfShort(t, "runs the writer under strace")
	strace := testenv.RequireStrace(t)
	for _, tc := range []struct {
		unsynced bool
		want     bool
	}{{false, true}, {true, false}} {
		s := newStore(t)
		trace := filepath.Join(t.TempDir(), "trace")
		cmd := exec.Command(strace, "-f", "-o", trace, "-e", "trace=fsync,fdatasync,sync_file_range,syncfs",
			os.Args[0], "-test.run=^TestWriteHelperProcess$")
		cmd.Env = append(os.Environ(), writeHelperEnv+"="+s.Dir)
		if tc.unsynced {
			cmd.Env = append(cmd.Env, writeHelperEnv+"_UNSYNCED=1")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("strace cannot trace here: %v %s", err, out)
		}
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		synced := strings.Contains(string(b), "sync")
		if synced != tc.want {
			t.Errorf("unsynced=%v: a sync call was made: %v, want %v\n%s", tc.unsynced, synced, tc.want, b)
		}
		var got entry
		if err := s.Read(K, &got); err != nil || got.Token != "secret-token" {
			t.Errorf("unsynced=%v: entry read back: %+v, %v", tc.unsynced, got, err)
		}
	}
}

// TestCrashLeavesNothingBehind kills a writer (strace's fault injection) at
// each system call of the write path. Whatever it left, no torn entry is
// ever read, and the next write (a later miss) and RemoveStaleTemps remove
// its temp file, which holds a secret, once it is old enough.
func TestCrashLeavesNothingBehind(t *testing.T) {
	testenv.SkipIfShort(t, "runs the writer under strace")
	strace := testenv.RequireStrace(t)
	// The system calls between the temp file's creation and its rename:
	// a kill at any of them leaves the temp file, with its secret.
	for _, sc := range []string{"write", "fsync", "fstat", "renameat"} {
		for _, cleaner := range []string{"next write", "RemoveStaleTemps"} {
			t.Run(sc+"/"+cleaner, func(t *testing.T) {
				s := newStore(t)
				if err := os.MkdirAll(s.Dir, 0o700); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(strace, "-f", "-o", "/dev/null", "-e", "inject="+sc+":signal=KILL",
					os.Args[0], "-test.run=^TestWriteHelperProcess$")
				cmd.Env = append(os.Environ(), writeHelperEnv+"="+s.Dir)
				_ = cmd.Run()

				var got entry
				if err := s.Read(K, &got); err == nil && got.Token != "secret-token" {
					t.Fatalf("torn entry read back: %+v", got)
				} else if err != nil && !errors.Is(err, ErrNotFound) {
					t.Fatalf("entry after a crash at %s: %v", sc, err)
				}
				temps := leftTemps(t, s.Dir)
				if len(temps) == 0 {
					// This architecture names the call otherwise, or the
					// runtime made it first: nothing to clean.
					t.Skipf("a kill at %s left no temp file (%v)", sc, cmd.ProcessState)
				}
				// Age what was left, as if the crash were a minute ago.
				old := time.Now().Add(-2 * StaleAfter)
				for _, p := range temps {
					if err := os.Chtimes(p, old, old); err != nil {
						t.Fatal(err)
					}
				}
				if cleaner == "next write" {
					if err := s.Write(K0, entry{Token: "next"}); err != nil {
						t.Fatal(err)
					}
				} else if _, err := s.RemoveStaleTemps(time.Now()); err != nil {
					t.Fatal(err)
				}
				if left := leftTemps(t, s.Dir); len(left) != 0 {
					t.Errorf("crash at %s left %v after %s (had %d)", sc, left, cleaner, len(temps))
				}
			})
		}
	}
}

func leftTemps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".tmp") {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	return out
}

const modesHelperEnv = "EKSTOKEN_CACHE_MODES_HELPER"

// TestModesHelperProcess runs every path of the store that creates
// something, under umask 0, in a directory that does not exist yet: the
// parent of its parent is the one its parent names.
func TestModesHelperProcess(t *testing.T) {
	base := os.Getenv(modesHelperEnv)
	if base == "" {
		return
	}
	syscall.Umask(0)
	s := Store{Dir: filepath.Join(base, "a", "b", "cache")}
	steps := []func() error{
		func() error { return s.Write(K, entry{Token: "secret-token"}) },   // creates the dirs and the entry
		func() error { return s.Write(K, entry{Token: "secret-token-2"}) }, // replaces it
		func() error { return s.WriteUnsynced(K0, entry{Token: "other"}) },
		func() error {
			l, err := s.Lock(context.Background(), K, forever)
			if err != nil {
				return err
			}
			l.Unlock()
			return nil
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// creatingCall is one system call that creates or re-modes a file, as
// strace prints it: the mode is its last argument.
var creatingCall = regexp.MustCompile(`^(?:\d+\s+)?(openat|open|creat|mkdirat|mkdir|mknodat|chmod|fchmod|fchmodat|fchmodat2)\((.*), (0[0-7]*)\) = (-?\d+)`)

// TestModeNeverWider traces every system call by which the store creates
// a directory or file (entries, temp files, locks, missing parents) or
// changes a mode, under umask 0 so that the kernel applies exactly the
// mode asked for. Each must ask for no group or other bit: a file created
// wide and narrowed afterwards is readable by others in between, however
// briefly, and this catches it on every run rather than when a watcher
// happens to look at the right moment.
func TestModeNeverWider(t *testing.T) {
	testenv.SkipIfShort(t, "runs the writer under strace")
	strace := testenv.RequireStrace(t)
	base := t.TempDir()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace,
		"-e", "trace=?open,openat,?creat,?mkdir,mkdirat,mknodat,?chmod,fchmod,fchmodat,?fchmodat2",
		os.Args[0], "-test.run=^TestModesHelperProcess$")
	cmd.Env = append(os.Environ(), modesHelperEnv+"="+base)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper under strace: %v\n%s", err, out)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var creates, chmods int
	for _, line := range strings.Split(string(b), "\n") {
		m := creatingCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		call, args, mode := m[1], m[2], m[3]
		if !strings.Contains(args, base) && !strings.HasPrefix(call, "fchmod") {
			continue // the runtime's and the test binary's own files
		}
		if strings.HasPrefix(call, "open") && !strings.Contains(args, "O_CREAT") {
			continue // opens an existing file: the mode is not used
		}
		perm, err := strconv.ParseUint(mode, 8, 32)
		if err != nil {
			t.Fatalf("mode in %q: %v", line, err)
		}
		if strings.Contains(call, "chmod") {
			chmods++
		} else {
			creates++
		}
		if perm&0o077 != 0 {
			t.Errorf("%s asks for mode %04o, wider than the owner's: %s", call, perm, line)
		}
	}
	// Three directories, the temp files of three writes and one lock file.
	if creates < 7 {
		t.Fatalf("saw %d creating calls, want at least 7 (the trace does not show what it should):\n%s", creates, b)
	}
	t.Logf("%d creating calls and %d mode changes, none wider than 0700/0600", creates, chmods)
}
