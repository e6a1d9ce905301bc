package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// A lock file holds nothing while its holder works unattended. While the
// holder waits for a person (an MFA code, an `aws sso login` in a browser)
// it writes personMark and what it waits for, from offset 1: Windows locks
// the first byte, which others then cannot read. A waiter reads it to
// decide whether waiting long makes sense.
const (
	personMark   = "waiting for a person: "
	markOffset   = 1
	maxMarkBytes = 256
)

// Lock is a held lock on one entry.
type Lock struct {
	path string
	// fl is a lock this process took; adopted, one a parent process took
	// and handed down as an open file (see Store.Adopt).
	fl      *flock.Flock
	adopted *os.File
	holds   *Holds
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l.holds != nil {
		l.holds.remove(l)
	}
	l.mark("")
	if l.adopted != nil {
		// flock(2) locks belong to the open file: closing the last
		// descriptor of it releases the lock.
		_ = l.adopted.Close()
		return
	}
	_ = l.fl.Unlock()
}

// Adopt takes over the lock of the entry called name that a parent
// process took and handed down as the open file f: a hit that starts a
// background refresh locks the entry first, so that of many hits at once
// only one starts a refresh, and the refresh runs under that lock. f must
// be the entry's lock file itself (same file, not followed through a
// symlink); otherwise Adopt closes it and fails.
func (s Store) Adopt(name string, f *os.File) (*Lock, error) {
	path := filepath.Join(s.Dir, name+".lock")
	held, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("adopt lock: %w", err)
	}
	onDisk, err := os.Lstat(path)
	if err != nil || !os.SameFile(held, onDisk) || !onDisk.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("adopt lock: the file handed down is not %s", path)
	}
	// The descriptor may be any open file of the lock, not one locked by
	// a parent (a process run by hand with something at descriptor 3):
	// lock it now. That succeeds at once when the lock is already this
	// file's, and fails when another holder has it.
	if err := lockHeld(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("adopt lock %s: %w", path, err)
	}
	l := &Lock{path: path, adopted: f, holds: s.Holds}
	l.mark("") // as in Lock: a crashed holder's mark is not ours to keep
	if s.Holds != nil {
		s.Holds.add(l)
	}
	return l, nil
}

// mark writes what the holder waits for into the lock file, or clears it.
// Failing to write only costs a waiter its patience: it is best effort.
func (l *Lock) mark(what string) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|noFollow, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_ = f.Truncate(markOffset)
	if what != "" {
		_, _ = f.WriteAt([]byte(personMark+what+"\n"), markOffset)
	}
}

// Holds are the locks one process holds, so that it can say in each of
// them that it waits for a person. The zero value is ready to use.
type Holds struct {
	mu    sync.Mutex
	locks []*Lock
	what  string
}

func (h *Holds) add(l *Lock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.locks = append(h.locks, l)
	if h.what != "" {
		l.mark(h.what)
	}
}

func (h *Holds) remove(l *Lock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.locks {
		if x == l {
			h.locks = append(h.locks[:i], h.locks[i+1:]...)
			break
		}
	}
}

// WaitingForPerson records in every lock the process holds, and in those it
// takes until done is called, that it waits for a person to do what: other
// processes waiting for these locks then wait longer and say why. Call it
// around an MFA prompt or an interactive login.
func (h *Holds) WaitingForPerson(what string) (done func()) {
	if h == nil {
		return func() {}
	}
	h.mu.Lock()
	h.what = what
	for _, l := range h.locks {
		l.mark(what)
	}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.what = ""
		for _, l := range h.locks {
			l.mark("")
		}
	}
}

// Wait says how long to wait for another process's lock.
type Wait struct {
	// Short bounds the wait for a holder that is not waiting for a person:
	// about as long as the waiter's own refresh could take.
	Short time.Duration
	// Long bounds the wait, from the start, for a holder waiting for a
	// person (an MFA prompt, a browser login).
	Long time.Duration
	// Waiting, when set, is called once when the wait is prolonged because
	// the holder waits for a person, with what the holder waits for.
	Waiting func(what string)
}

const (
	lockPoll = 20 * time.Millisecond
	markPoll = 100 * time.Millisecond
)

// ErrLockBusy says another process kept the lock beyond the wait.
var ErrLockBusy = errors.New("another ekstoken holds the lock")

// Lock takes the lock of the entry called name. It waits at most w.Short,
// or w.Long while the holder says it waits for a person, and at most until
// ctx ends.
func (s Store) Lock(ctx context.Context, name string, w Wait) (*Lock, error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(s.Dir, name+".lock")
	if err := createLockFile(path); err != nil {
		return nil, fmt.Errorf("create lock file: %w", err)
	}
	// The lock file is opened without following a symlink, like entries.
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR|noFollow))
	start := time.Now()
	deadline := start.Add(w.Short)
	prolonged := false
	lastMark := time.Time{}
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock cache entry: %w", err)
		}
		if ok {
			l := &Lock{path: path, fl: fl, holds: s.Holds}
			l.mark("") // a crashed holder's mark is not ours to keep
			if s.Holds != nil {
				s.Holds.add(l)
			}
			return l, nil
		}
		now := time.Now()
		if !prolonged && now.Sub(lastMark) >= markPoll {
			lastMark = now
			if what, ok := readMark(path); ok {
				prolonged = true
				if end := start.Add(w.Long); end.After(deadline) {
					deadline = end
				}
				if w.Waiting != nil {
					w.Waiting(what)
				}
			}
		}
		if !now.Before(deadline) {
			return nil, fmt.Errorf("%w after %v", ErrLockBusy, now.Sub(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock cache entry: %w", ctx.Err())
		case <-time.After(min(lockPoll, deadline.Sub(now))):
		}
	}
}

// readMark reads what the holder of the lock file at path waits for.
func readMark(path string) (string, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	buf := make([]byte, maxMarkBytes)
	n, err := f.ReadAt(buf, markOffset)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	what, ok := bytes.CutPrefix(line, []byte(personMark))
	return string(what), ok && len(what) > 0
}

// removeLockIfFree removes name's lock file if it is ekstoken's (a regular
// file of the user's) and nobody holds it, while holding it. A process that
// opened the file just before may then lock the removed file while another
// locks a new one: the two refresh in parallel once, which costs a
// duplicate refresh, never a wrong entry.
//
// Windows refuses to remove a file that is open, our own handle included:
// there it is removed just after our lock is released, and stays if
// another process opened it in between (see removeLocked).
func (s Store) removeLockIfFree(name string) bool {
	path := filepath.Join(s.Dir, name+".lock")
	if !isLockFile(path) {
		return false
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDWR|noFollow))
	ok, err := fl.TryLock()
	if err != nil || !ok {
		return false
	}
	return removeLocked(fl, path)
}

// LookLockLook is the refresh protocol shared by tokens and credentials:
// look up; on a miss take the entry's lock (waiting as w says) and look up
// again, since the holder may just have written it. found reports a hit by
// either look. Otherwise the caller refreshes, then calls unlock; when the
// lock could not be taken (lockErr says why, for the debug log), unlock is
// a no-op and the caller refreshes without it rather than fail.
func (s Store) LookLockLook(ctx context.Context, name string, w Wait, look func() bool) (found bool, unlock func(), lockErr error) {
	if look() {
		return true, func() {}, nil
	}
	l, err := s.Lock(ctx, name, w)
	if err != nil {
		return false, func() {}, err
	}
	if look() {
		l.Unlock()
		return true, func() {}, nil
	}
	return false, l.Unlock, nil
}

// isLockFile reports whether the file at path (not followed) looks like a
// lock file ekstoken made: a private regular file of the user's, holding
// nothing, the byte before a mark, or a mark. A file that only has the
// name is not ekstoken's to remove.
func isLockFile(path string) bool {
	st, ok := ours(path)
	if !ok || (runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0) || st.Size() > markOffset+maxMarkBytes {
		return false
	}
	if st.Size() <= markOffset {
		return true
	}
	_, marked := readMark(path)
	return marked
}
