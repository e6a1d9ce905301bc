//go:build unix

package gettoken

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
)

// A handed-down lock is adopted: the refresh runs under it and releases it.
func TestBackgroundAdoptsHandedLock(t *testing.T) {
	b := newBG(t)
	if err := b.run(); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(t0.Add(10 * time.Minute))
	lockPath := filepath.Join(b.store.Dir, b.id().Name()+".lock")
	for _, handed := range []bool{true, false} {
		var f *os.File
		if handed {
			// As the hit hands it down: open and locked.
			l, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			f = l
		} else {
			// Not the lock file: refused, and the refresh takes the lock
			// itself.
			other, err := os.Create(filepath.Join(t.TempDir(), "x"))
			if err != nil {
				t.Fatal(err)
			}
			f = other
		}
		env := b.env()
		var calls int
		env.HandedLock = func() *os.File { calls++; return f }
		var during error
		resolve := env.Resolve
		env.Resolve = func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
			// While the refresh runs, its lock is held.
			var l *cache.Lock
			if l, during = (cache.Store{Dir: b.store.Dir}).Lock(ctx, b.id().Name(), cache.Wait{}); during == nil {
				l.Unlock()
			}
			return resolve(ctx, o)
		}
		before := b.resolves.Load()
		if err := Background(context.Background(), env, b.in); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || b.resolves.Load() != before+1 {
			t.Fatalf("handed %v: HandedLock called %d times, resolved %d times", handed, calls, b.resolves.Load()-before)
		}
		if !errors.Is(during, cache.ErrLockBusy) {
			t.Errorf("handed %v: the lock was free during the refresh: %v", handed, during)
		}
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("handed %v: the handed file is still open after the refresh: %v", handed, err)
		}
		l, err := (cache.Store{Dir: b.store.Dir}).Lock(context.Background(), b.id().Name(), cache.Wait{})
		if err != nil {
			t.Fatalf("handed %v: lock still held after the refresh: %v", handed, err)
		}
		l.Unlock()
		b.clock.Set(b.clock.Now().Add(10 * time.Minute))
	}
}
