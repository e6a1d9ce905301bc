package gettoken

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// loginRace is a resolver whose first attempt fails as an expired SSO
// session does, having read the token file just before another process's
// `aws sso login` rewrote it: the failure is stale by the time it is seen.
// Later attempts succeed.
func loginRace(t *testing.T, h *harness, tokenFile, fresh string) func(context.Context, awsauth.Options) (awsauth.Result, error) {
	attempts := 0
	return func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
		attempts++
		if attempts > 1 {
			return h.resolve(ctx, o)
		}
		before := tokencache.WatchStamp(tokenFile)
		if err := os.WriteFile(tokenFile, []byte(fresh), 0o600); err != nil {
			t.Fatal(err)
		}
		return awsauth.Result{}, &awsauth.SSOLoginError{Profile: "sso-dev", Err: errors.New("token expired"),
			TokenFile: tokenFile, TokenStamp: before, Stamped: true}
	}
}

// staleLogins are token files before and after another process's login:
// a new file, a longer one, and one of the same size.
var staleLogins = []struct{ name, before, after string }{
	{"created", "", `{"accessToken":"new"}`},
	{"rewritten", `{"accessToken":"old"}`, `{"accessToken":"new-and-longer"}`},
	{"same size", `{"accessToken":"old"}`, `{"accessToken":"new"}`},
}

func writeTokenFile(t *testing.T, path, text string) {
	t.Helper()
	if text == "" {
		return
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// A rewrite within the file system's timestamp granularity would
	// leave the same stamp: a person's login takes longer than that.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// A run with a terminal and --sso-login whose failure was overtaken by
// another process's login (the token file changed after this run read
// it, before it took the SSO session's lock) resolves again rather than
// open a second login.
func TestSSOLoginNotRepeatedAfterAnotherLogin(t *testing.T) {
	for _, tc := range staleLogins {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.env["AWS_PROFILE"] = "sso-dev"
			tokenFile := filepath.Join(t.TempDir(), "token.json")
			writeTokenFile(t, tokenFile, tc.before)
			logins := 0
			err := Run(context.Background(), Env{
				Now: h.clock.Now, Getenv: func(k string) string { return h.env[k] }, Home: h.home,
				Stdout: io.Discard, Stderr: io.Discard, IsTerminal: func() bool { return true },
				SSOLogin: func(context.Context, string) error { logins++; return nil },
				Log:      slog.New(slog.DiscardHandler), Store: h.store, Resolve: loginRace(t, h, tokenFile, tc.after),
				LockTimeout: 5 * time.Second,
			}, Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute, SSOLogin: true})
			if err != nil {
				t.Fatal(err)
			}
			if logins != 0 {
				t.Errorf("aws sso login ran %d times after another process's login, want 0", logins)
			}
		})
	}
}

// A run without a person whose failure was overtaken by a login records a
// backoff that is already over: the next run tries again at once.
func TestBackoffOverWhenLoginOvertookFailure(t *testing.T) {
	for _, tc := range staleLogins {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.env["AWS_PROFILE"] = "sso-dev"
			tokenFile := filepath.Join(t.TempDir(), "token.json")
			writeTokenFile(t, tokenFile, tc.before)
			env := Env{
				Now: h.clock.Now, Getenv: func(k string) string { return h.env[k] }, Home: h.home,
				Stdout: io.Discard, Stderr: io.Discard, IsTerminal: func() bool { return false },
				Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: loginRace(t, h, tokenFile, tc.after),
				LockTimeout: 5 * time.Second,
			}
			in := Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute}
			var sso *awsauth.SSOLoginError
			if err := Run(context.Background(), env, in); !errors.As(err, &sso) {
				t.Fatalf("first run: %v, want the expired session", err)
			}
			if err := Run(context.Background(), env, in); err != nil {
				t.Fatalf("the run after the login, at the same moment: %v, want a token", err)
			}
		})
	}
}

// While another run's `aws sso login` for the same SSO session stays open
// beyond the wait (a person slow at the browser), a run with --sso-login
// says so and fails rather than open a second login: every run waiting
// would open one.
func TestSSOLoginNotStartedWhileAnotherIsOpen(t *testing.T) {
	for _, profile := range []string{"sso-dev", "corp-admin"} {
		h := newHarness(t)
		h.env["AWS_PROFILE"] = profile
		tokenFile := filepath.Join(t.TempDir(), "token.json")
		writeTokenFile(t, tokenFile, `{"accessToken":"old"}`)
		other, err := h.store.Lock(context.Background(), tokencache.SSOLoginName(tokenFile), cache.Wait{})
		if err != nil {
			t.Fatal(err)
		}
		logins := 0
		const wait = 200 * time.Millisecond
		err = Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: func(k string) string { return h.env[k] }, Home: h.home,
			Stdout: io.Discard, Stderr: io.Discard, IsTerminal: func() bool { return true },
			SSOLogin: func(context.Context, string) error { logins++; return nil },
			Log:      slog.New(slog.DiscardHandler), Store: h.store,
			Resolve: func(context.Context, awsauth.Options) (awsauth.Result, error) {
				return awsauth.Result{}, &awsauth.SSOLoginError{Profile: profile, Err: errors.New("token expired"),
					TokenFile: tokenFile, TokenStamp: tokencache.WatchStamp(tokenFile), Stamped: true}
			},
			LockTimeout: wait,
		}, Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute, SSOLogin: true})
		other.Unlock()
		if logins != 0 {
			t.Errorf("%s: aws sso login ran %d times while another was open, want 0", profile, logins)
		}
		if err == nil || !strings.Contains(err.Error(), "aws sso login --profile "+profile) || !strings.Contains(err.Error(), "finish that login") {
			t.Errorf("%s: error %v, want one that says another aws sso login --profile %s is open", profile, err, profile)
		}
	}
}
