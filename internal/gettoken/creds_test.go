package gettoken

import (
	"bytes"
	"context"
	"errors"
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

// Credentials whose end is not after now are never signed with, whatever
// their source: the run fails, prints nothing, and caches nothing.
func TestExpiredCredentialsAreRefused(t *testing.T) {
	for _, source := range []string{"EnvConfigCredentials", "ProcessProvider", "SSOProvider", "AssumeRoleProvider", "anything else"} {
		for _, ago := range []time.Duration{0, time.Second, 10 * time.Minute, 30 * 24 * time.Hour} {
			h := newHarness(t)
			h.creds.CanExpire, h.creds.Expires, h.creds.Source = true, t0.Add(-ago), source
			_, _, err := h.run(Input{})
			var expired *awsauth.ExpiredError
			if !errors.As(err, &expired) {
				t.Errorf("%s expired %v ago: err = %v, want an ExpiredError", source, ago, err)
				continue
			}
			if !strings.Contains(err.Error(), "expired at") {
				t.Errorf("%s: message does not say they expired: %v", source, err)
			}
			if names, _ := filepath.Glob(filepath.Join(h.store.Dir, "token-*.json")); len(names) != 0 {
				t.Errorf("%s: a token was cached: %v", source, names)
			}
		}
	}
}

// A token signed with SSO role credentials records the SSO token file and
// stops being served once that file is gone (aws sso logout), on the full
// path and on the hit path alike (both use tokencache.Lookup).
func TestSSOLogoutEndsTheCachedToken(t *testing.T) {
	h := newHarness(t)
	ssoFile := filepath.Join(t.TempDir(), "sso", "cache", "0123abcd.json")
	if err := os.MkdirAll(filepath.Dir(ssoFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ssoFile, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h.creds.Source, h.creds.CanExpire, h.creds.Expires = "SSOProvider", true, t0.Add(time.Hour)
	resolve := h.resolve
	envOpts := func(e *Env) {
		e.Resolve = func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
			r, err := resolve(ctx, o)
			r.SSOTokenFile = ssoFile
			return r, err
		}
	}
	run := func() error {
		var out bytes.Buffer
		e := Env{Now: h.clock.Now, Getenv: func(k string) string { return h.env[k] }, Home: h.home,
			Stdout: &out, Stderr: &out, Log: slog.New(slog.DiscardHandler), Store: h.store, LockTimeout: time.Second}
		envOpts(&e)
		return Run(context.Background(), e, Input{Request: tokencache.Request{ClusterName: "prod"}, Margin: time.Minute})
	}
	for range 2 {
		if err := run(); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.resolves.Load(); n != 1 {
		t.Fatalf("resolved %d times with the SSO login in place, want 1 (a hit)", n)
	}
	if err := os.Remove(ssoFile); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if n := h.resolves.Load(); n != 2 {
		t.Errorf("resolved %d times after the SSO token file was removed, want 2 (a miss)", n)
	}
}

// --force-refresh renews the credentials too: the credential cache is not
// read (a revoked role session would be signed with again), but written.
func TestForceRefreshRenewsCredentials(t *testing.T) {
	for _, force := range []bool{false, true} {
		h := newHarness(t)
		var renew []bool
		resolve := h.resolve
		var out bytes.Buffer
		err := Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: h.home,
			Stdout: &out, Stderr: &out, Log: slog.New(slog.DiscardHandler), Store: h.store, LockTimeout: time.Second,
			Resolve: func(ctx context.Context, o awsauth.Options) (awsauth.Result, error) {
				if o.Cache == nil {
					t.Fatal("no credential cache")
				}
				renew = append(renew, o.Cache.Renew)
				return resolve(ctx, o)
			},
		}, Input{Request: tokencache.Request{ClusterName: "prod", Profile: "dev"}, Margin: time.Minute, ForceRefresh: force})
		if err != nil {
			t.Fatal(err)
		}
		if len(renew) != 1 || renew[0] != force {
			t.Errorf("ForceRefresh %v: credential cache Renew %v", force, renew)
		}
	}
}

// Under --debug, a hit names the credentials that signed the cached token.
func TestHitDebugNamesCredentialSource(t *testing.T) {
	for _, source := range []string{"SSOProvider", "ProcessProvider (cached by ekstoken)", "EnvConfigCredentials"} {
		h := newHarness(t)
		h.creds.Source = source
		if _, _, err := h.run(Input{}); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		err := Run(context.Background(), Env{
			Now: h.clock.Now, Getenv: func(string) string { return "" }, Home: h.home,
			Stdout: &bytes.Buffer{}, Stderr: &log, Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Store: h.store, Resolve: h.resolve, LockTimeout: time.Second,
		}, Input{Request: tokencache.Request{ClusterName: "prod"}, Margin: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var hit string
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `msg="cache hit"`) {
				hit = line
			}
		}
		if !strings.Contains(hit, "credentialSource=") || !strings.Contains(hit, strings.Fields(source)[0]) {
			t.Errorf("hit line %q does not name %q", hit, source)
		}
	}
}

// The command offered to log in once carries every argument that shapes
// the identity, so that its result lands where kubectl's run looks.
func TestLoginCommand(t *testing.T) {
	home := t.TempDir()
	def := tokencache.DefaultDir(func(string) string { return "" }, home)
	for _, tt := range []struct {
		name  string
		in    Input
		env   map[string]string
		store string
		want  string
	}{
		{"flags", Input{Request: tokencache.Request{ClusterName: "prod", Region: "eu-west-1", Profile: "mfa"}}, nil, def,
			"ekstoken token --cluster-name prod --region eu-west-1 --profile mfa"},
		{"from the environment", Input{Request: tokencache.Request{ClusterName: "c"}},
			map[string]string{"AWS_DEFAULT_REGION": "us-east-2", "AWS_PROFILE": "admin"}, def,
			"ekstoken token --cluster-name c --region us-east-2 --profile admin"},
		{"role and outposts", Input{Request: tokencache.Request{ClusterID: "id-1", Region: "r", RoleARN: "arn:aws:iam::1:role/x", SessionName: "me", ExternalID: "e x"}}, nil, def,
			"ekstoken token --cluster-id id-1 --region r --profile default --role-arn arn:aws:iam::1:role/x --session-name me --external-id 'e x'"},
		{"default session name", Input{Request: tokencache.Request{ClusterName: "c", Region: "r", RoleARN: "arn:aws:iam::1:role/x", SessionName: tokencache.DefaultSessionName}}, nil, def,
			"ekstoken token --cluster-name c --region r --profile default --role-arn arn:aws:iam::1:role/x"},
		{"cache dir", Input{Request: tokencache.Request{ClusterName: "c", Region: "r", Profile: "p"}}, nil, "/srv/my cache",
			"ekstoken token --cluster-name c --region r --profile p --cache-dir '/srv/my cache'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			env := Env{Getenv: getenv, Home: home, Store: &cache.Store{Dir: tt.store}}
			if tt.in.SessionName == "" {
				tt.in.SessionName = tokencache.DefaultSessionName
			}
			got := env.loginCommand(tt.in, tokencache.NewIdentity(tt.in.Request, getenv, home))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
