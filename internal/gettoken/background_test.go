package gettoken

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/token"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// bg wires Run and Background to the harness, with a Resolve that fails
// while fail is set, a StartRefresh recorder, and a terminal or none.
type bg struct {
	*harness
	// fail, when set, is what Resolve returns instead of credentials.
	fail        error
	interactive bool
	// debug gives the run a debug log (and so the background one a file).
	debug bool
	in    Input

	mu      sync.Mutex
	opts    []awsauth.Options
	started []startCall
	// out is the last run's stdout, outAtStart its length when
	// StartRefresh was called.
	out        bytes.Buffer
	stderr     bytes.Buffer
	ssoLogins  atomic.Int32
	startError error
}

type startCall struct {
	lockPath, logPath string
	outAtStart        int
}

func newBG(t *testing.T) *bg {
	b := &bg{harness: newHarness(t)}
	b.in = Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1", SessionName: tokencache.DefaultSessionName},
		Margin: time.Minute, RefreshAhead: tokencache.DefaultRefreshAhead}
	return b
}

func (b *bg) resolve(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
	b.mu.Lock()
	b.opts = append(b.opts, o)
	fail := b.fail
	b.mu.Unlock()
	if fail != nil {
		b.resolves.Add(1)
		return awsauth.Result{}, fail
	}
	return b.harness.resolve(ctx, o)
}

func (b *bg) env() Env {
	log := slog.New(slog.DiscardHandler)
	if b.debug {
		log = slog.New(slog.NewTextHandler(&b.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b.out.Reset()
	b.stderr.Reset()
	return Env{
		Now: b.clock.Now, Getenv: func(k string) string { return b.harness.env[k] }, Home: b.home,
		Stdin: strings.NewReader(""), Stdout: &b.out, Stderr: &b.stderr,
		IsTerminal: func() bool { return b.interactive },
		SSOLogin: func(context.Context, string) error {
			b.ssoLogins.Add(1)
			return errors.New("no browser here")
		},
		Log: log, Store: b.store, Resolve: b.resolve, LockTimeout: time.Second,
		StartRefresh: func(lockPath, logPath string) (bool, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.started = append(b.started, startCall{lockPath, logPath, b.out.Len()})
			return true, b.startError
		},
		staticWait: testStaticWait, networkWait: testStaticWait,
	}
}

// run runs the token command as kubectl would, at the clock's time.
func (b *bg) run() error { return Run(context.Background(), b.env(), b.in) }

// background runs the refresh a hit starts.
func (b *bg) background() error { return Background(context.Background(), b.env(), b.in) }

func (b *bg) id() tokencache.Identity {
	return tokencache.NewIdentity(b.in.Request, func(k string) string { return b.harness.env[k] }, b.home)
}

func (b *bg) backoff() (tokencache.Backoff, bool) {
	return tokencache.ReadBackoff(*b.store, b.id().Key())
}

// cached is the token entry's signing time and served-until.
func (b *bg) cached() (signedAt, servedUntil time.Time) {
	b.t.Helper()
	var e tokencache.Entry
	if err := b.store.Read(b.id().Name(), &e); err != nil {
		b.t.Fatalf("no token entry: %v", err)
	}
	c, err := token.Parse(e.Token)
	if err != nil {
		b.t.Fatal(err)
	}
	end := c.SignedAt.Add(15 * time.Minute)
	if !e.CredentialsExpire.IsZero() && e.CredentialsExpire.Before(end) {
		end = e.CredentialsExpire
	}
	return c.SignedAt, end.Add(-b.in.Margin)
}

func (b *bg) writeBackoff(bo tokencache.Backoff) {
	b.t.Helper()
	bo.Format = tokencache.BackoffFormat
	if bo.Key == "" {
		bo.Key = b.id().Key()
	}
	if err := b.store.Write(tokencache.BackoffName(b.id().Key()), bo); err != nil {
		b.t.Fatal(err)
	}
}

// A run without a person that fails records a backoff that grows with
// every failure in a row, up to its cap; a success ends it. A failure in
// front of a person is theirs to see and retry: nothing is recorded.
func TestFailuresBackOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"network down", errors.New("dial tcp: connection refused")},
		{"access denied", errors.New("AccessDenied: not authorized to perform sts:AssumeRole")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBG(t)
			b.fail = tc.err
			for n := 1; n <= 8; n++ {
				err := b.run()
				if err == nil || !strings.Contains(err.Error(), tc.err.Error()) {
					t.Fatalf("run %d: %v, want the resolver's error", n, err)
				}
				bo, ok := b.backoff()
				if !ok {
					t.Fatalf("run %d: no backoff record", n)
				}
				now := b.clock.Now()
				if bo.Failures != n || !bo.Until.Equal(now.Add(tokencache.BackoffWait(n))) || !bo.Since.Equal(now) ||
					bo.NeedsPerson || bo.Message != err.Error() {
					t.Errorf("run %d at %v: backoff %+v; want %d failures until %v", n, now, bo, n, now.Add(tokencache.BackoffWait(n)))
				}
				if bo.Until.Sub(now) > 10*time.Minute {
					t.Errorf("run %d: backoff of %v beyond the cap", n, bo.Until.Sub(now))
				}
				// Not needing a person, the backoff does not stop the next
				// foreground run, which tries again.
				b.clock.Set(now.Add(time.Second))
			}
			if got := b.resolves.Load(); got != 8 {
				t.Errorf("8 runs resolved %d times; a backoff that needs no person must not block kubectl", got)
			}
			if bo, _ := b.backoff(); bo.Until.Sub(bo.Since) != 10*time.Minute {
				t.Errorf("after 8 failures the backoff lasts %v, want the 10m cap", bo.Until.Sub(bo.Since))
			}
			b.fail = nil
			if err := b.run(); err != nil {
				t.Fatal(err)
			}
			if bo, ok := b.backoff(); ok {
				t.Errorf("a success left the backoff %+v", bo)
			}
			if _, err := os.Stat(b.store.Path(tokencache.BackoffName(b.id().Key()))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("backoff file after a success: %v", err)
			}
		})
	}
}

func TestInteractiveFailuresDoNotBackOff(t *testing.T) {
	for _, how := range []string{"terminal", "kubectl lends one"} {
		b := newBG(t)
		if how == "terminal" {
			b.interactive = true
		} else {
			b.harness.env[execcred.EnvVar] = `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}`
		}
		b.fail = &awsauth.SSOLoginError{Profile: "dev", Err: errors.New("token expired")}
		for range 3 {
			if err := b.run(); err == nil {
				t.Fatal("want an error")
			}
		}
		if bo, ok := b.backoff(); ok {
			t.Errorf("%s: an interactive failure recorded %+v", how, bo)
		}
		if got := b.resolves.Load(); got != 3 {
			t.Errorf("%s: resolved %d times, want every run to try", how, got)
		}
	}
}

// A cancelled run (kubectl killed it) is no failure of the credentials.
func TestCancelledRunDoesNotBackOff(t *testing.T) {
	b := newBG(t)
	b.fail = context.Canceled
	if err := b.run(); err == nil {
		t.Fatal("want an error")
	}
	b.fail = context.DeadlineExceeded
	if err := b.run(); err == nil {
		t.Fatal("want an error")
	}
	if bo, ok := b.backoff(); ok {
		t.Errorf("a cancelled run recorded %+v", bo)
	}
}

// A run without a person, after an earlier one failed for want of a
// person (an expired SSO session, an MFA code), fails at once with that
// failure's message: it does not resolve again. A person, or the end of
// the backoff, or the fix the backoff watches for, lets runs try again.
func TestBlockedByNeedsPersonBackoff(t *testing.T) {
	ssoFile := func(b *bg) string { return filepath.Join(b.home, ".aws", "sso", "cache", "abc.json") }
	writeSSO := func(b *bg, content string) {
		p := ssoFile(b)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			b.t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		// then happens between the failing run and the next ones.
		then      func(b *bg)
		wantRetry bool
	}{
		"within the backoff":         {},
		"a second before its end":    {then: func(b *bg) { b.clock.Set(b.clock.Now().Add(29 * time.Second)) }},
		"after its end":              {then: func(b *bg) { b.clock.Set(b.clock.Now().Add(30 * time.Second)) }, wantRetry: true},
		"a person at the terminal":   {then: func(b *bg) { b.interactive = true }, wantRetry: true},
		"aws sso login ran":          {then: func(b *bg) { writeSSO(b, `{"accessToken":"new-and-longer"}`) }, wantRetry: true},
		"the clock was set back":     {then: func(b *bg) { b.clock.Set(b.clock.Now().Add(-time.Hour)) }, wantRetry: true},
		"another identity's backoff": {then: func(b *bg) { b.in.ClusterName = "staging" }, wantRetry: true},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBG(t)
			writeSSO(b, `{"accessToken":"old"}`)
			b.fail = &awsauth.SSOLoginError{Profile: "dev", Err: errors.New("token expired"), TokenFile: ssoFile(b)}
			first := b.run()
			if first == nil {
				t.Fatal("want an error")
			}
			bo, ok := b.backoff()
			if !ok || !bo.NeedsPerson || bo.Failures != 1 || bo.WatchFile != ssoFile(b) || bo.WatchStamp == "" {
				t.Fatalf("backoff after an expired SSO session: %+v, %v", bo, ok)
			}
			if tc.then != nil {
				tc.then(b)
			}
			before := b.resolves.Load()
			runs := 3
			if tc.wantRetry {
				// The retry fails again, and starts a backoff of its own.
				runs = 1
			}
			for range runs {
				err := b.run()
				if err == nil {
					t.Fatal("want an error")
				}
				var be *BackoffError
				switch {
				case tc.wantRetry && errors.As(err, &be):
					t.Fatalf("blocked: %v", err)
				case !tc.wantRetry && !errors.As(err, &be):
					t.Fatalf("run without a person: %v, want a BackoffError", err)
				case !tc.wantRetry && !strings.HasPrefix(err.Error(), first.Error()):
					t.Errorf("blocked run says %q, want the original message %q first", err, first)
				}
			}
			got := b.resolves.Load() - before
			if tc.wantRetry && got != 1 {
				t.Errorf("resolved %d times, want a retry", got)
			}
			if !tc.wantRetry && got != 0 {
				t.Errorf("resolved %d times within the backoff, want none", got)
			}
		})
	}
}

// A backoff needs a person only when the failure does: MFA without a
// terminal does, a network failure does not and never blocks kubectl.
func TestBlockedOnlyWhenAPersonIsNeeded(t *testing.T) {
	for _, tc := range []struct {
		name        string
		needsPerson bool
	}{{"needs a person", true}, {"does not", false}} {
		b := newBG(t)
		b.writeBackoff(tokencache.Backoff{Failures: 3, Since: t0, Until: t0.Add(time.Minute), Message: "earlier failure", NeedsPerson: tc.needsPerson})
		err := b.run()
		var be *BackoffError
		if blocked := errors.As(err, &be); blocked != tc.needsPerson {
			t.Errorf("%s: run = %v, blocked %v", tc.name, err, blocked)
		}
		if tc.needsPerson && (be == nil || be.Message != "earlier failure" || !strings.HasPrefix(err.Error(), "earlier failure")) {
			t.Errorf("%s: %v does not carry the earlier message", tc.name, err)
		}
		if got := b.resolves.Load(); got != map[bool]int32{true: 0, false: 1}[tc.needsPerson] {
			t.Errorf("%s: resolved %d times", tc.name, got)
		}
	}
}

// A fresh cached token is served whatever the backoff says.
func TestBackoffDoesNotStopAHit(t *testing.T) {
	b := newBG(t)
	if err := b.run(); err != nil {
		t.Fatal(err)
	}
	b.writeBackoff(tokencache.Backoff{Failures: 1, Since: t0, Until: t0.Add(time.Hour), Message: "m", NeedsPerson: true})
	b.clock.Set(t0.Add(time.Minute))
	if err := b.run(); err != nil {
		t.Fatalf("a hit within a backoff: %v", err)
	}
	if !strings.Contains(b.out.String(), "k8s-aws-v1.") {
		t.Errorf("no token printed: %q", b.out.String())
	}
}

// The background refresh: it signs a new token when the cached one is due,
// and does nothing when someone refreshed already, when a backoff holds,
// or when another process holds the lock.
func TestBackground(t *testing.T) {
	for name, tc := range map[string]struct {
		at        time.Duration
		setup     func(b *bg)
		wantRenew bool
	}{
		"due":                        {at: 9 * time.Minute, wantRenew: true},
		"due, last second":           {at: 14*time.Minute - time.Second, wantRenew: true},
		"token gone":                 {at: time.Minute, setup: func(b *bg) { _ = b.store.Remove(b.id().Name()) }, wantRenew: true},
		"refreshed by someone":       {at: 9*time.Minute - time.Second},
		"refreshed by someone, 1m":   {at: time.Minute},
		"backoff in force":           {at: 10 * time.Minute, setup: backoffFor(time.Minute, false)},
		"backoff needing a person":   {at: 10 * time.Minute, setup: backoffFor(time.Minute, true)},
		"backoff over":               {at: 10 * time.Minute, setup: backoffFor(-time.Second, true), wantRenew: true},
		"lock busy":                  {at: 10 * time.Minute, setup: holdLock},
		"a wider refresh-ahead":      {at: 5 * time.Minute, setup: func(b *bg) { b.in.RefreshAhead = 9 * time.Minute }, wantRenew: true},
		"refresh-ahead 0, not ended": {at: 13 * time.Minute, setup: func(b *bg) { b.in.RefreshAhead = 0 }},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBG(t)
			if err := b.run(); err != nil {
				t.Fatal(err)
			}
			now := t0.Add(tc.at)
			b.clock.Set(now)
			if tc.setup != nil {
				tc.setup(b)
			}
			if err := b.background(); err != nil {
				t.Fatalf("Background returned %v; it reports nothing to anyone", err)
			}
			if b.out.Len() != 0 {
				t.Errorf("Background wrote to stdout: %q", b.out.String())
			}
			renewed := b.resolves.Load() == 2
			if renewed != tc.wantRenew {
				t.Fatalf("at +%v: resolved %d times, want renewed %v", tc.at, b.resolves.Load(), tc.wantRenew)
			}
			signed, _ := b.cached()
			if tc.wantRenew && !signed.Equal(now) {
				t.Errorf("cached token signed at %v, want the refresh's %v", signed, now)
			}
			if !tc.wantRenew && !signed.Equal(t0) {
				t.Errorf("cached token signed at %v, want it untouched", signed)
			}
			if len(b.opts) > 0 && b.opts[len(b.opts)-1].MFACode != nil {
				t.Error("the background refresh offered an MFA prompt")
			}
		})
	}
}

func backoffFor(d time.Duration, needsPerson bool) func(*bg) {
	return func(b *bg) {
		now := b.clock.Now()
		b.writeBackoff(tokencache.Backoff{Failures: 2, Since: now.Add(-time.Minute), Until: now.Add(d), Message: "m", NeedsPerson: needsPerson})
	}
}

func holdLock(b *bg) {
	l, err := (cache.Store{Dir: b.store.Dir}).Lock(context.Background(), b.id().Name(), cache.Wait{})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(l.Unlock)
}

// The background refresh never asks anyone anything: no MFA prompt, no
// aws sso login, even with --sso-login; it fails into a backoff that says
// a person is needed, and the next runs without a person fail at once.
func TestBackgroundNeverAsksAPerson(t *testing.T) {
	b := newBG(t)
	b.in.SSOLogin = true
	b.interactive = true // a terminal exists, but the refresh is not for it
	if err := b.run(); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(t0.Add(10 * time.Minute))
	b.fail = &awsauth.SSOLoginError{Profile: "dev", Err: errors.New("token expired")}
	if err := b.background(); err != nil {
		t.Fatalf("Background: %v", err)
	}
	if n := b.ssoLogins.Load(); n != 0 {
		t.Errorf("the background refresh ran aws sso login %d times", n)
	}
	if b.opts[len(b.opts)-1].MFACode != nil {
		t.Error("the background refresh offered an MFA prompt")
	}
	if b.stderr.Len() != 0 {
		t.Errorf("the background refresh said %q", b.stderr.String())
	}
	bo, ok := b.backoff()
	if !ok || !bo.NeedsPerson || bo.Failures != 1 || !bo.Until.Equal(t0.Add(10*time.Minute+30*time.Second)) {
		t.Errorf("backoff after the background failed: %+v, %v", bo, ok)
	}
	// The next background refresh waits the backoff out.
	b.fail = nil
	b.clock.Set(t0.Add(10*time.Minute + 10*time.Second))
	if err := b.background(); err != nil {
		t.Fatal(err)
	}
	if n := b.resolves.Load(); n != 2 {
		t.Errorf("resolved %d times, want the second background refresh held off", n)
	}
	// Once it is over, one that succeeds ends it.
	b.clock.Set(t0.Add(10*time.Minute + 30*time.Second))
	if err := b.background(); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.backoff(); ok || b.resolves.Load() != 3 {
		t.Errorf("after a successful background refresh: backoff left %v, resolved %d times", ok, b.resolves.Load())
	}
}

// Background failures back off like foreground ones: growing, capped.
func TestBackgroundFailuresGrow(t *testing.T) {
	b := newBG(t)
	if err := b.run(); err != nil {
		t.Fatal(err)
	}
	b.fail = errors.New("dial tcp: i/o timeout")
	now := t0.Add(9 * time.Minute)
	for n := 1; n <= 7; n++ {
		b.clock.Set(now)
		if err := b.background(); err != nil {
			t.Fatal(err)
		}
		bo, ok := b.backoff()
		if !ok || bo.Failures != n || !bo.Until.Equal(now.Add(tokencache.BackoffWait(n))) {
			t.Fatalf("background failure %d: %+v, %v", n, bo, ok)
		}
		now = bo.Until // the next one when this one ends
	}
	if bo, _ := b.backoff(); bo.Until.Sub(bo.Since) != 10*time.Minute {
		t.Errorf("backoff %v, want the 10m cap", bo.Until.Sub(bo.Since))
	}
}

// Cached credentials stop being used the refresh-ahead window earlier than
// before: a background refresh that finds them near their end renews them
// first, so that the token it signs lives beyond its own refresh window.
func TestCredentialsWindowIncludesRefreshAhead(t *testing.T) {
	for _, tc := range []struct{ margin, ahead time.Duration }{
		{time.Minute, 5 * time.Minute}, {time.Minute, 0}, {3 * time.Minute, 2 * time.Minute}, {0, 7 * time.Minute},
	} {
		if got, want := CredentialsWindow(tc.margin, tc.ahead), tc.margin+tc.ahead+5*time.Minute; got != want {
			t.Errorf("CredentialsWindow(%v, %v) = %v, want %v", tc.margin, tc.ahead, got, want)
		}
		exp := t0.Add(time.Hour)
		if got := CredentialsServedUntil(exp, tc.margin, tc.ahead); !got.Equal(exp.Add(-(tc.margin + tc.ahead + 5*time.Minute))) {
			t.Errorf("CredentialsServedUntil(%v, %v, %v) = %v", exp, tc.margin, tc.ahead, got)
		}
		b := newBG(t)
		b.in.Profile, b.in.Margin, b.in.RefreshAhead = "dev", tc.margin, tc.ahead
		if err := b.run(); err != nil {
			t.Fatal(err)
		}
		if o := b.opts[0]; o.Cache == nil || o.Cache.Window != CredentialsWindow(tc.margin, tc.ahead) {
			t.Errorf("margin %v, ahead %v: credential cache %+v", tc.margin, tc.ahead, o.Cache)
		}
	}
}

// With a credential cache that expires, the background refresh renews the
// credentials once they are within margin + ahead + 5m of their end, and
// not before: the run of a credential_process is counted.
func TestBackgroundRenewsCredentialsNearTheirEnd(t *testing.T) {
	const session = time.Hour
	for _, tc := range []struct {
		before    time.Duration // how long before the credentials' end the refresh runs
		wantRenew bool
	}{
		{12 * time.Minute, false},
		{11*time.Minute + time.Second, false},
		{11 * time.Minute, true},
		{10 * time.Minute, true},
		{7 * time.Minute, true},
	} {
		b := newBG(t)
		b.in.Profile = "dev"
		var runs atomic.Int32
		var issued time.Time
		env := func() Env {
			e := b.env()
			e.Resolve = func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
				p := o.Cache.Wrap(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					runs.Add(1)
					issued = b.clock.Now()
					return aws.Credentials{AccessKeyID: "ASIAPROC", SecretAccessKey: "s", SessionToken: "t", Source: "ProcessProvider",
						CanExpire: true, Expires: issued.Add(session)}, nil
				}))
				c, err := p.Retrieve(ctx)
				return awsauth.Result{Config: aws.Config{Region: "eu-west-1"}, Credentials: c}, err
			}
			return e
		}
		if err := Run(context.Background(), env(), b.in); err != nil {
			t.Fatal(err)
		}
		// Tokens were refreshed ahead until now; this one is due.
		at := t0.Add(session - tc.before)
		b.clock.Set(at.Add(-10 * time.Minute))
		if err := Background(context.Background(), env(), b.in); err != nil {
			t.Fatal(err)
		}
		b.clock.Set(at)
		if err := Background(context.Background(), env(), b.in); err != nil {
			t.Fatal(err)
		}
		signed, until := b.cached()
		if !signed.Equal(at) {
			t.Fatalf("%v before the end: token signed at %v, want %v", tc.before, signed, at)
		}
		if renewed := runs.Load() == 2; renewed != tc.wantRenew {
			t.Errorf("%v before the credentials' end: process ran %d times, want renewed %v", tc.before, runs.Load(), tc.wantRenew)
		}
		// Either way the new token is not due for refresh as it is signed.
		if tokencache.RefreshDue(until, at, b.in.RefreshAhead) {
			t.Errorf("%v before the end: the new token (served until %v) is due at once", tc.before, until)
		}
	}
}

// Credentials that cannot be renewed without a person (an MFA role
// session) end soon: the background refresh cannot give the token a life
// beyond its refresh window. It records that, with no failure counted and
// until the token's end, so that hits stop starting refreshes; and it
// keeps a cached token that lives longer than the one it could sign.
func TestBackgroundCannotExtend(t *testing.T) {
	for _, tc := range []struct {
		name       string
		newEnd     time.Duration // the credentials' end after t0, at the refresh
		wantKeeps  bool          // the cached token stays
		wantServed time.Duration // the backoff's Until after t0
	}{
		{"shorter than the cached token", 14 * time.Minute, true, 13 * time.Minute},
		{"longer than the cached token", 15*time.Minute + 30*time.Second, false, 14*time.Minute + 30*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBG(t)
			b.creds.CanExpire, b.creds.Expires = true, t0.Add(20*time.Minute)
			if err := b.run(); err != nil {
				t.Fatal(err)
			}
			at := t0.Add(10 * time.Minute)
			b.clock.Set(at)
			b.creds.Expires = t0.Add(tc.newEnd)
			if err := b.background(); err != nil {
				t.Fatal(err)
			}
			bo, ok := b.backoff()
			if !ok || bo.Failures != 0 || bo.NeedsPerson || !bo.Until.Equal(t0.Add(tc.wantServed)) || !bo.Since.Equal(at) {
				t.Fatalf("backoff %+v, %v; want no failure, until %v", bo, ok, t0.Add(tc.wantServed))
			}
			signed, _ := b.cached()
			if keeps := signed.Equal(t0); keeps != tc.wantKeeps {
				t.Errorf("cached token signed at %v; want the old one kept %v", signed, tc.wantKeeps)
			}
			// Hits no longer start refreshes, and runs without a person
			// are not blocked by it.
			b.clock.Set(at.Add(time.Minute))
			if err := b.run(); err != nil {
				t.Fatalf("a hit after: %v", err)
			}
			if len(b.started) != 0 {
				t.Errorf("a hit started a refresh within the record: %+v", b.started)
			}
			b.clock.Set(t0.Add(tc.wantServed))
			if err := b.run(); err != nil {
				t.Fatalf("the run after the token's end: %v", err)
			}
		})
	}
}

// A hit on the full path (kubectl with a terminal, --debug) starts the
// refresh when due, after kubectl has its token, with the identity's lock
// and, under --debug, the log file; not when it is not due or a backoff
// holds, and not with --refresh-ahead 0.
func TestFullPathHitStartsRefresh(t *testing.T) {
	for name, tc := range map[string]struct {
		at        time.Duration
		setup     func(b *bg)
		debug     bool
		wantStart bool
	}{
		"not due":          {at: 9*time.Minute - time.Second},
		"due":              {at: 9 * time.Minute, wantStart: true},
		"due, debug":       {at: 13 * time.Minute, debug: true, wantStart: true},
		"backoff":          {at: 10 * time.Minute, setup: backoffFor(time.Minute, false)},
		"backoff over":     {at: 10 * time.Minute, setup: backoffFor(0, false), wantStart: true},
		"refresh-ahead 0":  {at: 13 * time.Minute, setup: func(b *bg) { b.in.RefreshAhead = 0 }},
		"refresh-ahead 2m": {at: 11 * time.Minute, setup: func(b *bg) { b.in.RefreshAhead = 2 * time.Minute }},
		"failing start":    {at: 10 * time.Minute, setup: func(b *bg) { b.startError = errors.New("fork failed") }, wantStart: true},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBG(t)
			if err := b.run(); err != nil {
				t.Fatal(err)
			}
			if len(b.started) != 0 {
				t.Fatalf("a miss started a refresh: %+v", b.started)
			}
			b.clock.Set(t0.Add(tc.at))
			b.debug = tc.debug
			if tc.setup != nil {
				tc.setup(b)
			}
			if err := b.run(); err != nil {
				t.Fatalf("hit: %v", err)
			}
			if n := b.resolves.Load(); n != 1 {
				t.Fatalf("resolved %d times, want a hit", n)
			}
			if !tc.wantStart {
				if len(b.started) != 0 {
					t.Errorf("started %+v", b.started)
				}
				return
			}
			wantLog := ""
			if tc.debug {
				wantLog = filepath.Join(b.store.Dir, BackgroundLog)
			}
			want := startCall{lockPath: filepath.Join(b.store.Dir, b.id().Name()+".lock"), logPath: wantLog, outAtStart: b.out.Len()}
			if len(b.started) != 1 || b.started[0] != want || want.outAtStart == 0 {
				t.Errorf("started %+v, want once %+v", b.started, want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer that goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Many runs with a terminal and --sso-login that find the same SSO session
// expired at once run `aws sso login` once: the others wait for it, say
// so, and then use the session it logged in to.
func TestOneSSOLoginPerSession(t *testing.T) {
	for _, n := range []int{2, 5} {
		h := newHarness(t)
		tokenFile := filepath.Join(h.home, ".aws", "sso", "cache", "session.json")
		if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tokenFile, []byte(`{"expired":true}`), 0o600); err != nil {
			t.Fatal(err)
		}
		resolve := func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
			if b, _ := os.ReadFile(tokenFile); string(b) != `{"accessToken":"fresh"}` {
				return awsauth.Result{}, &awsauth.SSOLoginError{Profile: "sso", Err: errors.New("expired"), TokenFile: tokenFile}
			}
			return h.resolve(ctx, o)
		}
		stderrs := make([]*syncBuffer, n)
		for i := range stderrs {
			stderrs[i] = &syncBuffer{}
		}
		var logins atomic.Int32
		login := func(context.Context, string) error {
			logins.Add(1)
			// The person takes a while in the browser: every other run is
			// waiting for this login before it ends.
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				waiting := 0
				for _, s := range stderrs {
					if strings.Contains(s.String(), "another ekstoken is waiting for aws sso login --profile sso") {
						waiting++
					}
				}
				if waiting == n-1 {
					break
				}
			}
			return os.WriteFile(tokenFile, []byte(`{"accessToken":"fresh"}`), 0o600)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				var out bytes.Buffer
				errs[i] = Run(context.Background(), Env{
					Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: h.home,
					Stdin: strings.NewReader(""), Stdout: &out, Stderr: stderrs[i],
					IsTerminal: func() bool { return true }, SSOLogin: login,
					Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: resolve, LockTimeout: 30 * time.Second,
				}, Input{Request: tokencache.Request{ClusterName: "cluster-" + string(rune('a'+i)), Region: "eu-west-1", Profile: "sso"},
					Margin: time.Minute, SSOLogin: true})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%d runs: run %d: %v", n, i, err)
			}
		}
		if got := logins.Load(); got != 1 {
			t.Errorf("%d runs at once ran aws sso login %d times, want once", n, got)
		}
	}
}

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

// TestBackoffErrorPrintsInert: the error a run without a person gets from
// a backoff record (kubectl prints it on the user's terminal) shows what
// the record says but never lets the terminal act on it, whatever
// escape sequence or control character the file holds.
func TestBackoffErrorPrintsInert(t *testing.T) {
	for _, msg := range []string{"\x1b[2J\x1b[Hcleared", "\x1b]52;c;ZXZpbA==\x07 clipboard", "\u009b31m C1", "a\rb", "\xff\x9b not UTF-8"} {
		b := newBG(t)
		now := b.clock.Now()
		b.writeBackoff(tokencache.Backoff{Failures: 1, Since: now, Until: now.Add(time.Minute), NeedsPerson: true, Message: msg})
		err := b.run()
		var be *BackoffError
		if !errors.As(err, &be) {
			t.Fatalf("%q: run = %v, want a BackoffError", msg, err)
		}
		shown := err.Error()
		if !utf8.ValidString(shown) || strings.ContainsFunc(shown, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }) {
			t.Errorf("the error prints %q raw: %q", msg, shown)
		}
	}
}
