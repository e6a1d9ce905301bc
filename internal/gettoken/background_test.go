package gettoken

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// backgroundEnv is an Env for Background on h's clock, cache and home.
func (h *harness) backgroundEnv(resolve func(context.Context, awsauth.Options) (awsauth.Result, error)) Env {
	return Env{
		Now: h.clock.Now, Getenv: func(k string) string { return h.env[k] }, Home: h.home,
		Stdout: failWriter{h.t}, Stderr: failWriter{h.t},
		Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: resolve, LockTimeout: time.Minute,
	}
}

// TestBackgroundRefreshGivesUpAtItsLimit: a background refresh whose
// credential resolution does not return (a credential_process that hangs,
// whether or not it heeds the context) gives up at its limit, releases the
// identity's lock for the next refresh, and records a backoff, so that
// hits do not start another stuck refresh at once.
func TestBackgroundRefreshGivesUpAtItsLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		hang func(ctx context.Context, release <-chan struct{})
	}{
		{"heeds the context", func(ctx context.Context, _ <-chan struct{}) { <-ctx.Done() }},
		{"ignores the context", func(_ context.Context, release <-chan struct{}) { <-release }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			env := h.backgroundEnv(func(ctx context.Context, _ awsauth.Options) (awsauth.Result, error) {
				tc.hang(ctx, release)
				return awsauth.Result{}, context.Cause(ctx)
			})
			env.backgroundLimit = 100 * time.Millisecond
			in := Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute, RefreshAhead: 5 * time.Minute}
			done := make(chan error, 1)
			go func() { done <- Background(context.Background(), env, in) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Background: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Background still runs 10s after its 100ms limit")
			}
			id := tokencache.NewIdentity(in.Request, env.Getenv, h.home)
			l, err := h.store.Lock(context.Background(), id.Name(), cache.Wait{})
			if err != nil {
				t.Fatalf("the identity's lock is still held after Background returned: %v", err)
			}
			l.Unlock()
			bo, ok := tokencache.ReadBackoff(*h.store, id.Key())
			if !ok || !bo.InForce(id.Key(), h.clock.Now()) {
				t.Fatalf("no backoff in force after a stuck refresh: %+v (read: %v)", bo, ok)
			}
			if bo.NeedsPerson {
				t.Errorf("a stuck refresh is recorded as needing a person: runs without one would fail at once: %+v", bo)
			}
		})
	}
}
