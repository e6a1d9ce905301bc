package gettoken

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// TestStuckHolderWithEnvKeys: with keys from the environment nothing
// interactive can hold the lock, so a cold run does not wait the long
// bound for a stuck holder: it refreshes on its own after the static
// wait (a second in the product, scaled down here), not the network one.
func TestStuckHolderWithEnvKeys(t *testing.T) {
	for _, envKeys := range []map[string]string{
		{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"},
		{"AWS_ACCESS_KEY": "AKIDOTHER", "AWS_SECRET_KEY": "t", "AWS_SESSION_TOKEN": "x"},
	} {
		h := newHarness(t)
		getenv := func(k string) string { return envKeys[k] }
		req := tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}
		id := tokencache.NewIdentity(req, getenv, h.home)
		// A holder that never finishes and never says why.
		l, err := h.store.Lock(context.Background(), id.Name(), cache.Wait{Short: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var out, errb bytes.Buffer
		err = Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: getenv, Home: h.home, Stdout: &out, Stderr: &errb,
			Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: h.resolve, LockTimeout: time.Minute,
			staticWait: testStaticWait, networkWait: testNetworkWait,
		}, Input{Request: req, Margin: time.Minute})
		took := time.Since(start)
		l.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if took < testStaticWait || took >= testNetworkWait {
			t.Errorf("waited %v for a stuck holder with environment keys, want the static wait %v (not the network one, %v)",
				took, testStaticWait, testNetworkWait)
		}
		if !strings.Contains(out.String(), "k8s-aws-v1.") {
			t.Errorf("no token printed: %q", out.String())
		}
		if errb.Len() != 0 {
			t.Errorf("stderr: %q", errb.String())
		}
	}
}

// The lock waits of these tests: the product's, scaled down, in the
// same order.
const (
	testStaticWait  = 100 * time.Millisecond
	testNetworkWait = 20 * testStaticWait
)

// blockingReader hands out its text once released.
type blockingReader struct {
	release chan struct{}
	r       io.Reader
}

func (b *blockingReader) Read(p []byte) (int, error) {
	<-b.release
	return b.r.Read(p)
}

// TestWaitForHolderAtMFAPrompt: while the run holding the lock prompts for
// an MFA code, another run for the same identity waits for it past the
// short bound, says so once on stderr, and then uses its token; the second
// and the first resolve once in all.
func TestWaitForHolderAtMFAPrompt(t *testing.T) {
	h := newHarness(t)
	prompted := make(chan struct{})
	stdin := &blockingReader{release: make(chan struct{}), r: strings.NewReader("123456\n")}
	resolve := func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
		if o.MFACode != nil {
			close(prompted)
			if _, err := o.MFACode("arn:aws:iam::111122223333:mfa/me"); err != nil {
				return awsauth.Result{}, err
			}
		}
		return h.resolve(ctx, o)
	}
	getenv := func(k string) string { return map[string]string{"AWS_PROFILE": "mfa"}[k] }
	in := Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}, Margin: time.Minute}
	const short = 100 * time.Millisecond
	var wg sync.WaitGroup
	var holderErr error
	wg.Go(func() {
		holderErr = Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: getenv, Home: h.home, Stdin: stdin, Stdout: io.Discard, Stderr: io.Discard,
			IsTerminal: func() bool { return true },
			Log:        slog.New(slog.DiscardHandler), Store: h.store, Resolve: resolve, LockTimeout: time.Minute,
		}, in)
	})
	<-prompted
	// The waiter starts once the holder's lock says it waits for a
	// person, so that the test shows the long wait, not a race with the
	// short one.
	lockFile := filepath.Join(h.store.Dir, tokencache.NewIdentity(in.Request, getenv, h.home).Name()+".lock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(lockFile); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the holder never marked its lock while prompting")
		}
	}
	go func() {
		time.Sleep(4 * short) // the person types the code
		close(stdin.release)
	}()
	var out, errb bytes.Buffer
	env := Env{
		Now: h.clock.Now, Getenv: getenv, Home: h.home, Stdout: &out, Stderr: &errb,
		Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: resolve, LockTimeout: time.Minute,
	}
	// The waiter's short bound is shortened for the test through
	// LockTimeout's cap; its long bound is the minute above.
	err := runWithShort(env, in, short)
	wg.Wait()
	if holderErr != nil || err != nil {
		t.Fatalf("holder: %v, waiter: %v", holderErr, err)
	}
	if n := h.resolves.Load(); n != 1 {
		t.Errorf("resolved %d times, want 1: the waiter should have used the holder's token", n)
	}
	if got := strings.Count(errb.String(), "waiting for the MFA code of arn:aws:iam::111122223333:mfa/me in another terminal"); got != 1 {
		t.Errorf("waiter's stderr says it waits %d times, want once:\n%s", got, errb.String())
	}
}

// runWithShort runs with the short lock wait set to short.
func runWithShort(env Env, in Input, short time.Duration) error {
	env.staticWait, env.networkWait = short, short
	return Run(context.Background(), env, in)
}

// TestEnvKeysEntrySaysSo: a token signed with keys from the environment
// records that source and no profile (which played no part), for status;
// one signed through a profile keeps the profile.
func TestEnvKeysEntrySaysSo(t *testing.T) {
	for _, tc := range []struct {
		env         map[string]string
		in          tokencache.Request
		wantProfile string
		wantSource  string
	}{
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"}, tokencache.Request{}, "", SourceEnvironmentKeys},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "dev"}, tokencache.Request{}, "", SourceEnvironmentKeys},
		// A key ID without its secret: the SDK does not use it.
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_PROFILE": "dev"}, tokencache.Request{}, "dev", "test"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV"}, tokencache.Request{Profile: "dev"}, "dev", "test"},
		{map[string]string{"AWS_PROFILE": "ops"}, tokencache.Request{}, "ops", "test"},
	} {
		h := newHarness(t)
		h.env = tc.env
		tc.in.ClusterName, tc.in.Region = "prod", "eu-west-1"
		if _, _, err := h.run(Input{Request: tc.in}); err != nil {
			t.Fatal(err)
		}
		id := tokencache.NewIdentity(tc.in, func(k string) string { return tc.env[k] }, h.home)
		var e tokencache.Entry
		if err := h.store.Read(id.Name(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Profile != tc.wantProfile || e.CredentialSource != tc.wantSource {
			t.Errorf("%v %+v: entry profile %q, source %q; want %q, %q", tc.env, tc.in, e.Profile, e.CredentialSource, tc.wantProfile, tc.wantSource)
		}
	}
}

// TestSSOLoginMarksTheLock: while ekstoken runs `aws sso login` for the
// user, the lock it holds says so, for other runs to wait; afterwards the
// mark is gone.
func TestSSOLoginMarksTheLock(t *testing.T) {
	for _, profile := range []string{"dev", "sso-admin"} {
		h := newHarness(t)
		getenv := func(k string) string { return map[string]string{"AWS_PROFILE": profile}[k] }
		req := tokencache.Request{ClusterName: "prod", Region: "eu-west-1"}
		lockFile := filepath.Join(h.store.Dir, tokencache.NewIdentity(req, getenv, h.home).Name()+".lock")
		calls := 0
		resolve := func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
			calls++
			if calls == 1 {
				return awsauth.Result{}, &awsauth.SSOLoginError{Profile: profile, Err: errors.New("expired")}
			}
			return h.resolve(ctx, o)
		}
		var during string
		err := Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: getenv, Home: h.home, Stdout: io.Discard, Stderr: io.Discard,
			IsTerminal: func() bool { return true },
			SSOLogin: func(context.Context, string) error {
				b, _ := os.ReadFile(lockFile)
				during = string(b)
				return nil
			},
			Log: slog.New(slog.DiscardHandler), Store: h.store, Resolve: resolve, LockTimeout: time.Minute,
		}, Input{Request: req, Margin: time.Minute, SSOLogin: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(during, "aws sso login --profile "+profile) {
			t.Errorf("lock file during the login: %q", during)
		}
		if after, _ := os.ReadFile(lockFile); strings.Contains(string(after), "sso login") {
			t.Errorf("lock file after the login: %q", after)
		}
	}
}
