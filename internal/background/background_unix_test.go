//go:build unix

package background

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary is its own child: started with childEnv set, it runs
// child instead of the tests.
const (
	childEnv   = "EKSTOKEN_BACKGROUND_TEST_CHILD"
	reportEnv  = "EKSTOKEN_BACKGROUND_TEST_REPORT"
	releaseEnv = "EKSTOKEN_BACKGROUND_TEST_RELEASE"
	// grandchildEnv makes it a process the child starts, as a refresh
	// starts a credential_process.
	grandchildEnv = "EKSTOKEN_BACKGROUND_TEST_GRANDCHILD"
)

// grandchildFD3 runs the test binary as a grandchild, as exec.Command
// runs a credential_process, and says whether it got the lock.
func grandchildFD3() string {
	exe, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), grandchildEnv+"=1")
	err = cmd.Run()
	switch cmd.ProcessState.ExitCode() {
	case 10:
		return "inherits the lock"
	case 11:
		return "clean"
	}
	return fmt.Sprint(err)
}

func TestMain(m *testing.M) {
	if os.Getenv(grandchildEnv) != "" {
		// Reports, in its exit status, whether its descriptor 3 is the lock.
		var st syscall.Stat_t
		if syscall.Fstat(HandedLockFD, &st) == nil {
			if on, err := os.Lstat(os.Getenv("EKSTOKEN_BACKGROUND_TEST_LOCK")); err == nil {
				if ost, ok := on.Sys().(*syscall.Stat_t); ok && ost.Dev == st.Dev && ost.Ino == st.Ino {
					os.Exit(10)
				}
			}
		}
		os.Exit(11)
	}
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child writes what it finds about itself into the report file, says so
// on stderr, then waits for the release file to appear (at most a minute)
// and exits.
func child() int {
	var b strings.Builder
	sid, err := unix.Getsid(0)
	fmt.Fprintf(&b, "pid=%d\nsid=%d %v\n", os.Getpid(), sid, err)
	fmt.Fprintf(&b, "stdin=%v\nstdout=%v\n", isNull(0), isNull(1))
	fmt.Fprintf(&b, "args=%q\n", os.Args[1:])
	fmt.Fprintf(&b, "env=%s\n", os.Getenv("EKSTOKEN_BACKGROUND_TEST_MARK"))
	if f := HandedLock(); f != nil {
		st, err := f.Stat()
		fmt.Fprintf(&b, "handed=%v\n", err == nil && sameAsPath(st, os.Getenv("EKSTOKEN_BACKGROUND_TEST_LOCK")))
		// What the refresh runs (a credential_process) must not inherit
		// the lock: one that leaves a process behind would hold it.
		fmt.Fprintf(&b, "grandchild=%s\n", grandchildFD3())
	} else {
		fmt.Fprintf(&b, "handed=none\n")
	}
	fmt.Fprintf(&b, "marker=%s\n", os.Getenv(handedLockEnv))
	fmt.Fprintln(os.Stderr, "child stderr line")
	tmp := os.Getenv(reportEnv) + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return 2
	}
	if err := os.Rename(tmp, os.Getenv(reportEnv)); err != nil {
		return 2
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv(releaseEnv)); err == nil {
			return 0
		}
	}
	return 3
}

func isNull(fd int) bool {
	var st, null syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || syscall.Stat(os.DevNull, &null) != nil {
		return false
	}
	return st.Dev == null.Dev && st.Ino == null.Ino && st.Rdev == null.Rdev
}

func sameAsPath(st os.FileInfo, path string) bool {
	on, err := os.Lstat(path)
	return err == nil && os.SameFile(st, on)
}

type run struct {
	t                      *testing.T
	dir, lock, report, rel string
}

func newRun(t *testing.T) *run {
	dir := t.TempDir()
	return &run{t: t, dir: dir, lock: filepath.Join(dir, "token-0123456789abcdef.lock"),
		report: filepath.Join(dir, "report"), rel: filepath.Join(dir, "release")}
}

func (r *run) request(logPath string) Request {
	exe, err := os.Executable()
	if err != nil {
		r.t.Fatal(err)
	}
	return Request{
		Executable: exe, Args: []string{"token", "--cluster-name", "prod"},
		// A value of Start's own variable in the environment handed in
		// (set by hand, or inherited) must not hide Start's.
		Env: append([]string{handedLockEnv + "=junk"}, append(os.Environ(), childEnv+"=1", reportEnv+"="+r.report, releaseEnv+"="+r.rel,
			"EKSTOKEN_BACKGROUND_TEST_MARK=passed", "EKSTOKEN_BACKGROUND_TEST_LOCK="+r.lock, handedLockEnv+"=4")...),
		LockPath: r.lock, LogPath: logPath,
	}
}

// start starts the child and waits for its report; the child is released,
// killed if need be, and reaped when the test ends.
func (r *run) start(req Request) map[string]string {
	r.t.Helper()
	started, err := Start(req)
	if err != nil || !started {
		r.t.Fatalf("Start = %v, %v; want a child started", started, err)
	}
	var raw []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if raw, err = os.ReadFile(r.report); err == nil {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the child never reported")
		}
	}
	facts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		facts[k] = v
	}
	pid, err := strconv.Atoi(facts["pid"])
	if err != nil {
		r.t.Fatalf("report %q: %v", raw, err)
	}
	r.t.Cleanup(func() {
		_ = os.WriteFile(r.rel, nil, 0o600)
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
	})
	facts["pid"] = strconv.Itoa(pid)
	return facts
}

// locked says whether another open file of path would be refused its lock.
func locked(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatal(err)
	}
	return true
}

func TestStartDetachesUnderTheLock(t *testing.T) {
	r := newRun(t)
	facts := r.start(r.request(""))

	// The child holds the identity's lock, handed down as descriptor 3.
	if facts["handed"] != "true" {
		t.Errorf("the child's HandedLock: %s, want the lock file", facts["handed"])
	}
	if facts["grandchild"] != "clean" || facts["marker"] != "" {
		t.Errorf("a process the refresh starts: %s, with %s=%q", facts["grandchild"], handedLockEnv, facts["marker"])
	}
	if !locked(t, r.lock) {
		t.Error("the lock is free while the child runs")
	}
	if st, err := os.Lstat(r.lock); err != nil || st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Errorf("lock file: %v, %v; want a regular 0600 file", st.Mode(), err)
	}
	// A second hit while the child runs starts nothing.
	if started, err := Start(r.request("")); started || err != nil {
		t.Errorf("second Start while the child runs = %v, %v; want false, nil", started, err)
	}
	// Detached: stdin and stdout on the null device, a session of its own.
	if facts["stdin"] != "true" || facts["stdout"] != "true" {
		t.Errorf("child stdin on the null device %s, stdout %s", facts["stdin"], facts["stdout"])
	}
	mySid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	sid, _, _ := strings.Cut(facts["sid"], " ")
	if sid != facts["pid"] || sid == strconv.Itoa(mySid) {
		t.Errorf("child session %s (pid %s), the starter's %d; want a session of its own", facts["sid"], facts["pid"], mySid)
	}
	// The token command's arguments, then Flag; the environment passed.
	if want := fmt.Sprintf("%q", []string{"token", "--cluster-name", "prod", Flag}); facts["args"] != want {
		t.Errorf("child args %s, want %s", facts["args"], want)
	}
	if facts["env"] != "passed" {
		t.Errorf("child environment not the one passed: %q", facts["env"])
	}
	// The starter's own descriptor is closed: only the child keeps the
	// lock, and its exit releases it.
	if err := os.WriteFile(r.rel, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); locked(t, r.lock); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lock is still held after the child exited")
		}
	}
}

// A busy lock starts nothing, whoever holds it: a foreground miss that is
// refreshing, or another refresh.
func TestStartWhileLockedStartsNothing(t *testing.T) {
	r := newRun(t)
	f, err := os.OpenFile(r.lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	started, err := Start(r.request(""))
	if started || err != nil {
		t.Errorf("Start on a held lock = %v, %v; want false, nil", started, err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(r.report); err == nil {
		t.Error("a child ran although the lock was held")
	}
}

// The lock path is never followed through a symlink: a link planted there
// is an error, and nothing starts.
func TestStartRefusesALinkAtTheLockPath(t *testing.T) {
	r := newRun(t)
	target := filepath.Join(r.dir, "elsewhere")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, r.lock); err != nil {
		t.Fatal(err)
	}
	if started, err := Start(r.request("")); started || err == nil {
		t.Errorf("Start through a symlinked lock = %v, %v; want an error", started, err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(r.report); err == nil {
		t.Error("a child ran on a symlinked lock")
	}
}

// With LogPath, the child's stderr goes there, appended, in a private file.
func TestStartLogsStderr(t *testing.T) {
	r := newRun(t)
	log := filepath.Join(r.dir, "background.log")
	if err := os.WriteFile(log, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(r.request(log))
	if err := os.WriteFile(r.rel, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "earlier\nchild stderr line\n" {
		t.Errorf("log: %q", got)
	}
	r2 := newRun(t)
	fresh := filepath.Join(r2.dir, "new.log")
	r2.start(r2.request(fresh))
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new log file: %v, %v; want 0600", st, err)
	}
}

// HandedLock is a regular file on descriptor 3, and nothing else: not a
// pipe, a directory or a missing descriptor (a run by hand, or the Go
// runtime's own descriptor).
func TestHandedLockOnlyARegularFile(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "x.lock")
	lf, err := os.Create(lock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	for name, tc := range map[string]struct {
		fd3    *os.File
		marked bool
		want   string
	}{
		"regular file":                     {lf, true, "true"},
		"pipe":                             {pr, true, "none"},
		"directory":                        {d, true, "none"},
		"regular file without Start's say": {lf, false, "none"},
		// Descriptor 3 is then whatever the Go runtime opened first (on
		// Linux, often the cgroup CPU quota file: a regular file).
		"no fd 3 without Start's say": {nil, false, "none"},
	} {
		t.Run(name, func(t *testing.T) {
			// Each child costs a process start: they run side by side.
			t.Parallel()
			report := filepath.Join(t.TempDir(), "report")
			rel := report + ".release"
			if err := os.WriteFile(rel, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer null.Close()
			files := []*os.File{null, null, null}
			if tc.fd3 != nil {
				files = append(files, tc.fd3)
			}
			env := append(slices.Clone(os.Environ()), childEnv+"=1", reportEnv+"="+report, releaseEnv+"="+rel, "EKSTOKEN_BACKGROUND_TEST_LOCK="+lock)
			if tc.marked {
				env = append(env, handedLockEnv+"="+handedLockValue)
			}
			p, err := os.StartProcess(exe, []string{exe}, &os.ProcAttr{Env: env, Files: files})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), "handed="+tc.want+"\n") {
				t.Errorf("HandedLock with %s on fd 3: report %q, want handed=%s", name, raw, tc.want)
			}
		})
	}
}

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
