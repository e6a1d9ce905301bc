//go:build unix

package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nobody is a uid (and gid) that is not the test's.
const nobody = 65534

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown files to another user")
	}
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func owner(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// withUmask runs the rest of the test under umask u. The umask is process
// wide: callers must not be parallel tests.
func withUmask(t *testing.T, u int) {
	t.Helper()
	old := syscall.Umask(u)
	t.Cleanup(func() { syscall.Umask(old) })
}

// TestModesUnderUmask0: whatever the umask, entries are exactly 0600, lock
// files no wider, and the directory (and the parents Write creates) 0700.
// Not parallel: it changes the process umask.
func TestModesUnderUmask0(t *testing.T) {
	withUmask(t, 0)
	tests := []struct {
		name string
		// dir prepares the store directory under base.
		dir func(t *testing.T, base string) string
		// created are the directories Write must create, all 0700.
		created []string
	}{
		{"fresh dir with missing parents", func(_ *testing.T, base string) string {
			return filepath.Join(base, "a", "b", "cache")
		}, []string{"a", "a/b", "a/b/cache"}},
		{"existing 0700 dir", func(t *testing.T, base string) string {
			d := filepath.Join(base, "cache")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			return d
		}, []string{"cache"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			s := Store{Dir: tc.dir(t, base)}
			for i := range 3 { // the first write creates, later ones replace
				if err := s.Write(K, entry{Token: "secret", N: i}); err != nil {
					t.Fatalf("Write: %v", err)
				}
				if got := perm(t, s.Path(K)); got != 0o600 {
					t.Errorf("write %d: entry mode %v, want exactly 0600", i, got)
				}
				st, _ := os.Lstat(s.Path(K))
				if !st.Mode().IsRegular() {
					t.Errorf("entry is %v, not a regular file", st.Mode())
				}
			}
			for _, d := range tc.created {
				if got := perm(t, filepath.Join(base, d)); got != 0o700 {
					t.Errorf("dir %s mode %v, want exactly 0700", d, got)
				}
			}
			unlock, err := s.Lock(context.Background(), K, forever)
			if err != nil {
				t.Fatalf("Lock: %v", err)
			}
			unlock.Unlock()
			if got := perm(t, filepath.Join(s.Dir, K+".lock")); got&0o077 != 0 {
				t.Errorf("lock file mode %v is wider than 0600", got)
			}
		})
	}
}

// TestReadSymlink: an entry path that is a symlink is never followed, even
// to a file that would pass every other check.
func TestReadSymlink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// target returns what the symlink at the entry path points to.
		target func(t *testing.T, s Store, outside string) string
	}{
		{"to a valid entry outside the dir", func(t *testing.T, _ Store, outside string) string {
			o := Store{Dir: outside}
			if err := o.Write("real", entry{Token: "outside"}); err != nil {
				t.Fatal(err)
			}
			// The target itself is a good entry.
			var e entry
			if err := o.Read("real", &e); err != nil || e.Token != "outside" {
				t.Fatalf("setup: target does not read as an entry: %+v, %v", e, err)
			}
			return o.Path("real")
		}},
		{"relative, to another entry in the dir", func(t *testing.T, s Store, _ string) string {
			if err := s.Write(otherN, entry{Token: "other"}); err != nil {
				t.Fatal(err)
			}
			return "other.json"
		}},
		{"dangling", func(_ *testing.T, _ Store, outside string) string {
			return filepath.Join(outside, "missing.json")
		}},
		{"to a directory", func(t *testing.T, _ Store, outside string) string {
			if err := os.MkdirAll(outside, 0o700); err != nil {
				t.Fatal(err)
			}
			return outside
		}},
		{"to itself", func(_ *testing.T, s Store, _ string) string {
			return s.Path(K)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			outside := filepath.Join(t.TempDir(), "outside")
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.target(t, s, outside), s.Path(K)); err != nil {
				t.Fatal(err)
			}
			var got entry
			if err := s.Read(K, &got); err == nil {
				t.Errorf("Read through a symlink succeeded with %+v", got)
			}
			if got != (entry{}) {
				t.Errorf("Read through a symlink filled in %+v", got)
			}
		})
	}
}

// TestWriteSymlink: Write replaces a symlink at the entry path with a
// regular file and never writes through it.
func TestWriteSymlink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// target makes the thing the symlink points to.
		target func(t *testing.T, s Store, outside string) string
		// check verifies the target is as it was.
		check func(t *testing.T, s Store, target string)
	}{
		{"to a file outside the dir", func(t *testing.T, _ Store, outside string) string {
			p := filepath.Join(outside, "victim")
			writeRaw(t, p, []byte("do not touch"))
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, func(t *testing.T, _ Store, target string) {
			b, err := os.ReadFile(target)
			if err != nil || string(b) != "do not touch" {
				t.Errorf("outside file now %q, %v", b, err)
			}
			if got := perm(t, target); got != 0o644 {
				t.Errorf("outside file mode changed to %v", got)
			}
		}},
		{"dangling, to a path outside the dir", func(_ *testing.T, _ Store, outside string) string {
			return filepath.Join(outside, "planted")
		}, func(t *testing.T, _ Store, target string) {
			if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Write created the symlink's target: %v", err)
			}
		}},
		{"to another entry in the dir", func(t *testing.T, s Store, _ string) string {
			if err := s.Write(otherN, entry{Token: "other"}); err != nil {
				t.Fatal(err)
			}
			return s.Path(otherN)
		}, func(t *testing.T, s Store, _ string) {
			var e entry
			if err := s.Read(otherN, &e); err != nil || e.Token != "other" {
				t.Errorf("other entry now %+v, %v", e, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			outside := t.TempDir()
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			target := tc.target(t, s, outside)
			if err := os.Symlink(target, s.Path(K)); err != nil {
				t.Fatal(err)
			}
			want := entry{Token: "new secret", N: 1}
			if err := s.Write(K, want); err != nil {
				t.Fatalf("Write: %v", err)
			}
			tc.check(t, s, target)
			st, err := os.Lstat(s.Path(K))
			if err != nil {
				t.Fatal(err)
			}
			if !st.Mode().IsRegular() {
				t.Fatalf("entry is %v after Write, want a regular file", st.Mode())
			}
			if got := st.Mode().Perm(); got != 0o600 {
				t.Errorf("entry mode %v, want 0600", got)
			}
			var got entry
			if err := s.Read(K, &got); err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLockSymlink: a symlink at the lock path is not followed: Lock fails
// rather than create or open a file elsewhere.
func TestLockSymlink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		exists bool
	}{
		{"to a missing file outside the dir", false},
		{"to an existing file outside the dir", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(t.TempDir(), "victim")
			if tc.exists {
				writeRaw(t, target, []byte("do not touch"))
				if err := os.Chmod(target, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(target, filepath.Join(s.Dir, K+".lock")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if unlock, err := s.Lock(ctx, K, forever); err == nil {
				unlock.Unlock()
				t.Error("Lock through a symlinked lock file succeeded")
			}
			st, err := os.Lstat(target)
			switch {
			case !tc.exists && !errors.Is(err, os.ErrNotExist):
				t.Errorf("Lock created the symlink's target: %v", err)
			case tc.exists && err != nil:
				t.Fatal(err)
			case tc.exists:
				b, _ := os.ReadFile(target)
				if string(b) != "do not touch" || st.Mode().Perm() != 0o644 {
					t.Errorf("target changed: %q, %v", b, st.Mode())
				}
			}
		})
	}
}

// TestReadModes: an entry with any group or other bit is refused, even
// though it holds a perfectly good value.
func TestReadModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    fs.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
		{0o660, true},
		{0o606, true},
		{0o620, true},
		{0o602, true},
		{0o610, true},
		{0o601, true},
		{0o666, true},
		{0o777, true},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			writeRaw(t, s.Path(K), mustJSON(t, entry{Token: "t", N: 1}))
			if err := os.Chmod(s.Path(K), tc.mode); err != nil {
				t.Fatal(err)
			}
			var got entry
			err := s.Read(K, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Read of a %v entry = %v, wantErr %v", tc.mode, err, tc.wantErr)
			}
			if tc.wantErr && got != (entry{}) {
				t.Errorf("refused entry still decoded into %+v", got)
			}
		})
	}
}

// TestReadOwner: an entry owned by another user is refused, whatever its
// mode; only the file's user matters, not its group.
func TestReadOwner(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	tests := []struct {
		name     string
		uid, gid int
		wantErr  bool
	}{
		{"ours", os.Geteuid(), os.Getegid(), false},
		{"another user", nobody, os.Getegid(), true},
		{"another user and group", nobody, nobody, true},
		{"our user, another group", os.Geteuid(), nobody, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			writeRaw(t, s.Path(K), mustJSON(t, entry{Token: "t"}))
			if err := os.Chown(s.Path(K), tc.uid, tc.gid); err != nil {
				t.Fatal(err)
			}
			if got := perm(t, s.Path(K)); got != 0o600 {
				t.Fatalf("setup: mode %v", got)
			}
			var got entry
			err := s.Read(K, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Read = %v, wantErr %v", err, tc.wantErr)
			}

			// Write replaces it with an entry of ours.
			if err := s.Write(K, entry{Token: "mine"}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := owner(t, s.Path(K)); got != os.Geteuid() {
				t.Errorf("entry owner after Write %d, want %d", got, os.Geteuid())
			}
			if err := s.Read(K, &got); err != nil || got.Token != "mine" {
				t.Errorf("Read after Write = %+v, %v", got, err)
			}
		})
	}
}

// TestForeignDir: a directory of another user that others can use is
// neither used nor changed.
func TestForeignDir(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, mode := range []fs.FileMode{0o777, 0o775, 0o757, 0o755, 0o1777} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := os.Mkdir(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(s.Dir, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.Dir, mode); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(K, entry{Token: "secret"}); err == nil {
				t.Error("Write into another user's open directory succeeded")
			}
			if unlock, err := s.Lock(context.Background(), K, forever); err == nil {
				unlock.Unlock()
				t.Error("Lock in another user's open directory succeeded")
			}
			if diff := cmp.Diff([]string{}, dirNames(t, s.Dir)); diff != "" {
				t.Errorf("files left in the foreign dir (-want +got):\n%s", diff)
			}
			st, err := os.Lstat(s.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode()&(fs.ModePerm|fs.ModeSticky) != mode&(fs.ModePerm|fs.ModeSticky) {
				t.Errorf("foreign dir mode changed to %v", st.Mode())
			}
			if got := owner(t, s.Dir); got != nobody {
				t.Errorf("foreign dir owner changed to %d", got)
			}
		})
	}
}

// within returns what f returns, or fails the test if f has not returned
// after d; unblock is then called to let f end.
func within(t *testing.T, what string, d time.Duration, f func() error, unblock func()) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		unblock()
		t.Fatalf("%s hangs", what)
		return nil
	}
}

// TestReadFIFO: a FIFO at the entry path is a miss, neither a hang nor a
// source of entries; Write replaces it without writing into it.
func TestReadFIFO(t *testing.T) {
	t.Parallel()
	valid := mustJSON(t, entry{Token: "from the pipe", N: 1})
	tests := []struct {
		name string
		// data, if any, waits in the FIFO, held by a writer that lets go
		// once Read has had time to open it.
		data []byte
	}{
		{"no writer", nil},
		{"writer with a valid entry", valid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(s.Path(K), 0o600); err != nil {
				t.Skipf("cannot make a FIFO here: %v", err)
			}
			// Opening read-write never blocks on Linux and, while open,
			// lets a blocked reader or writer of the FIFO go on.
			unblock := func() {
				if f, err := os.OpenFile(s.Path(K), os.O_RDWR, 0); err == nil {
					f.Close()
				}
			}
			var holder *os.File
			if tc.data != nil {
				var err error
				holder, err = os.OpenFile(s.Path(K), os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer holder.Close()
				if _, err := holder.Write(tc.data); err != nil {
					t.Fatal(err)
				}
				go func() {
					time.Sleep(300 * time.Millisecond)
					holder.Close()
				}()
			}
			var got entry
			err := within(t, "Read of a FIFO", 5*time.Second, func() error { return s.Read(K, &got) }, unblock)
			if err == nil {
				t.Errorf("Read of a FIFO succeeded with %+v", got)
			}

			// A FIFO is not a file ekstoken wrote.
			names, err := s.Names()
			if err != nil || len(names) != 0 {
				t.Errorf("Names = %v, %v", names, err)
			}
			want := entry{Token: "t"}
			err = within(t, "Write over a FIFO", 5*time.Second, func() error { return s.Write(K, want) }, unblock)
			if err != nil {
				t.Fatalf("Write over a FIFO: %v", err)
			}
			st, err := os.Lstat(s.Path(K))
			if err != nil || !st.Mode().IsRegular() {
				t.Fatalf("entry after Write: %v, %v", st, err)
			}
			if err := s.Read(K, &got); err != nil || got != want {
				t.Errorf("Read after Write = %+v, %v", got, err)
			}
		})
	}
}

// mountTmpfs mounts a tmpfs at dir until the test ends, or skips the test
// where mounting is not allowed.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs in this sandbox (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if err := retryBusy("umount", dir); err != nil {
			t.Errorf("%v", err)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
}

// remount changes the options of the tmpfs at dir.
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if err := retryBusy("mount", "-o", "remount,"+opts, dir); err != nil {
		t.Fatal(err)
	}
}

// retryBusy runs a mount command, retrying for a while: a process forked
// by a parallel test holds copies of this process's open files until it
// execs, so a remount read-only or an umount can briefly find the file
// system busy.
func retryBusy(name string, args ...string) error {
	var err error
	for range 50 {
		var out []byte
		if out, err = exec.Command(name, args...).CombinedOutput(); err == nil {
			return nil
		}
		err = fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// makeImmutable sets the immutable attribute on dir until the test ends:
// nobody, root included, can then add, rename or remove its entries. It
// skips the test where the file system or the sandbox does not allow it.
func makeImmutable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chattr +i needs root")
	}
	out, err := exec.Command("chattr", "+i", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot make %s immutable here (%v: %s)", dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", dir).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v: %s", dir, err, out)
		}
	})
}

// TestReadOnly: a cache that cannot be written makes Write fail, leaves the
// previous entry readable and no temp file behind. Root ignores permission
// bits, so as root the read-only condition is made with the immutable
// attribute or a read-only mount instead of chmod 0500.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	old := entry{Token: "old", N: 1}
	tests := []struct {
		name string
		// setup makes the store's dir (holding entry K = old where
		// hasOld) unwritable.
		setup  func(t *testing.T) Store
		hasOld bool
	}{
		{"chmod 0500 dir (not root)", func(t *testing.T) Store {
			if os.Geteuid() == 0 {
				t.Skip("root ignores permission bits; the immutable and read-only mount cases cover root")
			}
			s := newStore(t)
			if err := s.Write(K, old); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.Dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(s.Dir, 0o700) })
			return s
		}, true},
		{"missing dir under a 0500 parent (not root)", func(t *testing.T) Store {
			if os.Geteuid() == 0 {
				t.Skip("root ignores permission bits; the read-only mount case covers root")
			}
			base := t.TempDir()
			if err := os.Chmod(base, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(base, 0o700) })
			return Store{Dir: filepath.Join(base, "cache")}
		}, false},
		{"immutable dir", func(t *testing.T) Store {
			s := newStore(t)
			if err := s.Write(K, old); err != nil {
				t.Fatal(err)
			}
			makeImmutable(t, s.Dir)
			return s
		}, true},
		{"read-only mount", func(t *testing.T) Store {
			mnt := t.TempDir()
			mountTmpfs(t, mnt, "size=64k,mode=0700")
			s := Store{Dir: filepath.Join(mnt, "cache")}
			if err := s.Write(K, old); err != nil {
				t.Fatal(err)
			}
			remount(t, mnt, "ro")
			return s
		}, true},
		{"missing dir on a read-only mount", func(t *testing.T) Store {
			mnt := t.TempDir()
			mountTmpfs(t, mnt, "ro,size=64k,mode=0700")
			return Store{Dir: filepath.Join(mnt, "a", "cache")}
		}, false},
		{"wide dir of ours on a read-only mount", func(t *testing.T) Store {
			mnt := t.TempDir()
			mountTmpfs(t, mnt, "size=64k,mode=0700")
			s := Store{Dir: filepath.Join(mnt, "cache")}
			if err := s.Write(K, old); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.Dir, 0o777); err != nil {
				t.Fatal(err)
			}
			remount(t, mnt, "ro")
			return s
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.setup(t)
			if err := s.Write(K, entry{Token: "new", N: 2}); err == nil {
				t.Fatal("Write to a read-only cache succeeded")
			}
			if err := s.Write(otherN, entry{Token: "new"}); err == nil {
				t.Error("Write of a new entry to a read-only cache succeeded")
			}
			if !tc.hasOld {
				if _, err := os.Lstat(s.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("dir exists after failed Writes: %v", err)
				}
				return
			}
			if tmps := tempFiles(t, s.Dir); len(tmps) != 0 {
				t.Errorf("temp files left behind: %v", tmps)
			}
			var got entry
			if err := s.Read(K, &got); err != nil {
				t.Fatalf("Read of the old entry: %v", err)
			}
			if diff := cmp.Diff(old, got); diff != "" {
				t.Errorf("old entry changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFullDisk: on a full file system Write fails, removes its temp file
// and leaves the previous entry whole; once there is room again it works.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value entry
	}{
		{"small value", entry{Token: "new", N: 2}},
		{"value of several pages", entry{Token: "new", N: 3, Pad: strings.Repeat("x", 9000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mnt := t.TempDir()
			mountTmpfs(t, mnt, "size=16k,mode=0700")
			s := Store{Dir: filepath.Join(mnt, "cache")}
			old := entry{Token: "old", N: 1}
			if err := s.Write(K, old); err != nil {
				t.Fatal(err)
			}

			filler := filepath.Join(mnt, "filler")
			f, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 4096)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling the disk: %v", err)
					}
					break
				}
			}
			f.Close()

			if err := s.Write(K, tc.value); err == nil {
				t.Fatal("Write to a full disk succeeded")
			}
			if tmps := tempFiles(t, s.Dir); len(tmps) != 0 {
				t.Errorf("temp files left behind: %v", tmps)
			}
			var got entry
			if err := s.Read(K, &got); err != nil {
				t.Fatalf("Read of the old entry: %v", err)
			}
			if diff := cmp.Diff(old, got); diff != "" {
				t.Errorf("old entry changed (-want +got):\n%s", diff)
			}

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(K, tc.value); err != nil {
				t.Fatalf("Write after freeing space: %v", err)
			}
			if err := s.Read(K, &got); err != nil || !cmp.Equal(tc.value, got) {
				t.Errorf("Read after freeing space = %+v, %v", got, err)
			}
		})
	}
}

// lockHelperEnv names the directory in which the helper process locks K.
const lockHelperEnv = "EKSTOKEN_CACHE_TEST_LOCK_DIR"

// TestLockHelperProcess is not a test: TestLockCrossProcess runs the test
// binary again to hold a lock from another process. It takes the lock,
// says "locked", and holds it until its stdin closes.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := Store{Dir: dir}.Lock(ctx, K, forever)
	if err != nil {
		fmt.Println("error:", err)
		cancel()
		os.Exit(2) //nolint:gocritic // cancel ran just above
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	unlock.Unlock()
	os.Exit(0)
}

// TestLockCrossProcess: the lock excludes other processes, and is freed
// both when the holder unlocks and when it dies without unlocking.
func TestLockCrossProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		release func(cmd *exec.Cmd, stdin io.Closer) error
	}{
		{"holder unlocks", func(_ *exec.Cmd, stdin io.Closer) error { return stdin.Close() }},
		{"holder is killed", func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Kill() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), lockHelperEnv+"="+s.Dir)
			cmd.Stderr = os.Stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			})
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "locked" {
				t.Fatalf("helper said %q, %v", line, err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if unlock, err := s.Lock(ctx, K, forever); err == nil {
				unlock.Unlock()
				t.Fatal("Lock succeeded while another process holds it")
			}

			if err := tc.release(cmd, stdin); err != nil {
				t.Fatal(err)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			unlock, err := s.Lock(ctx2, K, forever)
			if err != nil {
				t.Fatalf("Lock after the other process let go: %v", err)
			}
			unlock.Unlock()
		})
	}
}
