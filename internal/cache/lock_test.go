package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

// TestLockWaitBoundedByHolder: a holder that works unattended is waited for
// only Short; one that says it waits for a person, at once or later, up to
// Long, and the waiter hears why once.
func TestLockWaitBoundedByHolder(t *testing.T) {
	const short, long = 300 * time.Millisecond, 20 * time.Second
	tests := []struct {
		name string
		// markAfter < 0: the holder never waits for a person.
		markAfter   time.Duration
		releaseAt   time.Duration
		wantLock    bool
		wantWaiting bool
	}{
		{"unattended holder: give up after short", -1, 2 * time.Second, false, false},
		{"holder prompting: wait for it", 0, 1500 * time.Millisecond, true, true},
		{"holder starts prompting while we wait", 150 * time.Millisecond, 1500 * time.Millisecond, true, true},
		{"unattended holder done within short", -1, 100 * time.Millisecond, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(tmpdir.New(t), "cache")
			holder := Store{Dir: dir, Holds: &Holds{}}
			l, err := holder.Lock(context.Background(), K, forever)
			if err != nil {
				t.Fatal(err)
			}
			released := make(chan struct{})
			go func() {
				defer close(released)
				if tc.markAfter >= 0 {
					time.Sleep(tc.markAfter)
					defer holder.Holds.WaitingForPerson("the MFA code of arn:aws:iam::1:mfa/x")()
				}
				time.Sleep(tc.releaseAt - max(tc.markAfter, 0))
				l.Unlock()
			}()
			var calls atomic.Int32
			var what atomic.Value
			start := time.Now()
			wl, err := Store{Dir: dir}.Lock(context.Background(), K, Wait{Short: short, Long: long, Waiting: func(w string) {
				calls.Add(1)
				what.Store(w)
			}})
			took := time.Since(start)
			if got := err == nil; got != tc.wantLock {
				t.Fatalf("Lock after %v: %v; want locked = %v", took, err, tc.wantLock)
			}
			if err == nil {
				wl.Unlock()
			} else if !errors.Is(err, ErrLockBusy) || took > short+time.Second {
				t.Errorf("gave up after %v with %v; want ErrLockBusy after about %v", took, err, short)
			}
			if got := calls.Load() == 1; got != tc.wantWaiting {
				t.Errorf("Waiting called %d times, want waiting = %v", calls.Load(), tc.wantWaiting)
			}
			if tc.wantWaiting && what.Load() != "the MFA code of arn:aws:iam::1:mfa/x" {
				t.Errorf("Waiting(%q)", what.Load())
			}
			<-released
		})
	}
}

// TestStaleMarkIgnored: a mark left by a holder that died while prompting
// does not make the next waiter wait long for an unattended holder.
func TestStaleMarkIgnored(t *testing.T) {
	dir := filepath.Join(tmpdir.New(t), "cache")
	s := Store{Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, filepath.Join(dir, K+".lock"), []byte("\x00"+personMark+"the MFA code\n"))
	l, err := s.Lock(context.Background(), K, forever)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	start := time.Now()
	_, err = s.Lock(context.Background(), K, Wait{Short: 200 * time.Millisecond, Long: time.Minute})
	if !errors.Is(err, ErrLockBusy) || time.Since(start) > 2*time.Second {
		t.Errorf("Lock = %v after %v; want ErrLockBusy after the short wait", err, time.Since(start))
	}
}

// TestMarkClearedAfterPrompt: once the holder is done with the person, the
// mark is gone, and a new waiter waits only Short.
func TestMarkClearedAfterPrompt(t *testing.T) {
	dir := filepath.Join(tmpdir.New(t), "cache")
	h := &Holds{}
	s := Store{Dir: dir, Holds: h}
	l, err := s.Lock(context.Background(), K, forever)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	h.WaitingForPerson("aws sso login --profile dev")()
	if what, ok := readMark(filepath.Join(dir, K+".lock")); ok {
		t.Fatalf("mark %q left after the prompt", what)
	}
	// A lock taken while prompting is marked too.
	done := h.WaitingForPerson("aws sso login --profile dev")
	l2, err := s.Lock(context.Background(), K0, forever)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	for _, n := range []string{K, K0} {
		if what, ok := readMark(filepath.Join(dir, n+".lock")); !ok || what != "aws sso login --profile dev" {
			t.Errorf("%s: mark %q, %v", n, what, ok)
		}
	}
	done()
}
