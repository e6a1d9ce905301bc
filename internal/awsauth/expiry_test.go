package awsauth

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/ekstoken/ekstoken/internal/cache"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestEnvExpiration(t *testing.T) {
	env := aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", Source: config.CredentialsSourceName}
	for _, tt := range []struct {
		name    string
		creds   aws.Credentials
		value   string
		expires time.Time // zero: must not expire
		err     string
	}{
		{"unset", env, "", time.Time{}, ""},
		{"future", env, "2026-11-29T12:45:00Z", now.Add(45 * time.Minute), ""},
		{"future, offset", env, "2026-11-29T13:45:00+01:00", now.Add(45 * time.Minute), ""},
		{"future, fraction", env, "2026-11-29T12:45:00.5Z", now.Add(45*time.Minute + 500*time.Millisecond), ""},
		{"now", env, "2026-11-29T12:00:00Z", now, "expired at 2026-11-29T12:00:00Z"},
		{"ten minutes ago", env, "2026-11-29T11:50:00Z", now.Add(-10 * time.Minute), "(10m0s ago)"},
		{"last year", env, "2025-11-29T12:00:00Z", now.AddDate(-1, 0, 0), "aws-vault exec"},
		{"garbage", env, "tomorrow", time.Time{}, `AWS_CREDENTIAL_EXPIRATION="tomorrow" is not a time`},
		{"not the environment's keys", aws.Credentials{AccessKeyID: "AKIA1", Source: "SharedConfigCredentials: /h/.aws/credentials"}, "2020-01-01T00:00:00Z", time.Time{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envExpiration(tt.creds, func(k string) string {
				if k == CredentialExpirationEnv {
					return tt.value
				}
				return ""
			}, func() time.Time { return now })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.CanExpire != !tt.expires.IsZero() || !got.Expires.Equal(tt.expires) {
				t.Errorf("CanExpire %v Expires %v, want %v", got.CanExpire, got.Expires, tt.expires)
			}
		})
	}
}

// duration_seconds is taken from whichever profile of the chain assumes
// the role, exactly, below the SDK's 15-minute threshold too.
func TestRoleDuration(t *testing.T) {
	d := func(s int) *time.Duration { v := time.Duration(s) * time.Second; return &v }
	chain := config.SharedConfig{RoleARN: "arn:outer", RoleDurationSeconds: d(900),
		Source: &config.SharedConfig{RoleARN: "arn:middle",
			Source: &config.SharedConfig{RoleARN: "arn:inner", RoleDurationSeconds: d(7200)}}}
	for role, want := range map[string]time.Duration{"arn:outer": 15 * time.Minute, "arn:inner": 2 * time.Hour, "arn:middle": 0, "arn:other": 0} {
		got, ok := roleDuration(chain, role)
		if ok != (want != 0) || got != want {
			t.Errorf("%s: %v %v, want %v", role, got, ok, want)
		}
	}
}

func TestSSOTokenFile(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	sum := func(s string) string {
		h := sha1.Sum([]byte(s))
		return filepath.Join("/home/u", ".aws", "sso", "cache", hex.EncodeToString(h[:])+".json")
	}
	for _, tt := range []struct {
		sc   config.SharedConfig
		want string
	}{
		{config.SharedConfig{SSOSessionName: "corp", SSOSession: &config.SSOSession{Name: "corp"}, SSOStartURL: "https://x/start"}, sum("corp")},
		{config.SharedConfig{SSOSessionName: "corp"}, sum("corp")},
		{config.SharedConfig{SSOStartURL: "https://legacy.awsapps.com/start"}, sum("https://legacy.awsapps.com/start")},
		{config.SharedConfig{RoleARN: "arn:r"}, ""},
	} {
		if got := ssoTokenFile(tt.sc); got != tt.want {
			t.Errorf("ssoTokenFile(%+v) = %q, want %q", tt.sc, got, tt.want)
		}
	}
}

func TestCapBySSOToken(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(body string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("tok%d.json", n))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	role := aws.Credentials{Source: "SSOProvider", CanExpire: true, Expires: now.Add(8 * time.Hour)}
	for _, tt := range []struct {
		name string
		file string
		want time.Time
	}{
		{"login ends first", write(`{"accessToken":"a","expiresAt":"2026-11-29T13:00:00Z"}`), now.Add(time.Hour)},
		{"role ends first", write(`{"accessToken":"a","expiresAt":"2026-11-30T13:00:00Z"}`), now.Add(8 * time.Hour)},
		{"unreadable", write(`not json`), now.Add(8 * time.Hour)},
		{"no file", filepath.Join(dir, "gone.json"), now.Add(8 * time.Hour)},
		{"no name", "", now.Add(8 * time.Hour)},
	} {
		if got := capBySSOToken(role, tt.file, nil); !got.Expires.Equal(tt.want) || !got.CanExpire {
			t.Errorf("%s: Expires %v, want %v", tt.name, got.Expires, tt.want)
		}
	}
}

// counting is a provider that counts its calls.
type counting struct {
	n int
	c aws.Credentials
}

func (p *counting) Retrieve(context.Context) (aws.Credentials, error) { p.n++; return p.c, nil }

func newFileCache(t *testing.T) *FileCache {
	return &FileCache{Store: cache.Store{Dir: t.TempDir()}, Name: "credentials-x", Now: func() time.Time { return now },
		Window: 6 * time.Minute, Wait: cache.Wait{Short: time.Second, Long: time.Second}, Log: slog.New(slog.DiscardHandler)}
}

// Renew (--force-refresh) asks the source again despite fresh cached
// credentials, and caches the new ones for the next run.
func TestFileCacheRenew(t *testing.T) {
	inner := &counting{c: aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", CanExpire: true, Expires: now.Add(time.Hour), Source: "AssumeRoleProvider"}}
	f := newFileCache(t)
	for range 2 {
		if _, err := f.Wrap(inner).Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if inner.n != 1 {
		t.Fatalf("source asked %d times, want 1 (then cached)", inner.n)
	}
	inner.c.AccessKeyID = "ASIA2"
	f.Renew = true
	c, err := f.Wrap(inner).Retrieve(context.Background())
	if err != nil || inner.n != 2 || c.AccessKeyID != "ASIA2" {
		t.Fatalf("Renew: %v, asked %d times, got %s; want the source asked again", err, inner.n, c.AccessKeyID)
	}
	f.Renew = false
	if c, _ := f.Wrap(inner).Retrieve(context.Background()); inner.n != 2 || c.AccessKeyID != "ASIA2" {
		t.Errorf("the renewed credentials were not cached: asked %d times, got %s", inner.n, c.AccessKeyID)
	}
}

// SSO role credentials are cached with their SSO token file and not served
// once it is gone; other credentials do not depend on it.
func TestFileCacheSSOLogout(t *testing.T) {
	for _, source := range []string{"SSOProvider", "AssumeRoleProvider"} {
		tok := filepath.Join(t.TempDir(), "sso.json")
		if err := os.WriteFile(tok, []byte(`{}`), 0o600); err != nil {
			t.Fatal(err)
		}
		inner := &counting{c: aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", CanExpire: true, Expires: now.Add(time.Hour), Source: source}}
		f := newFileCache(t)
		f.ssoTokenFile = func() string { return tok }
		retrieve := func() {
			if _, err := f.Wrap(inner).Retrieve(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		retrieve()
		retrieve()
		if err := os.Remove(tok); err != nil {
			t.Fatal(err)
		}
		retrieve()
		want := 1
		if source == "SSOProvider" {
			want = 2
		}
		if inner.n != want {
			t.Errorf("%s: source asked %d times around a logout, want %d", source, inner.n, want)
		}
	}
}

func TestExpiredErrorNamesWhatToDo(t *testing.T) {
	for source, want := range map[string]string{
		"EnvConfigCredentials": "export-credentials",
		"ProcessProvider":      `credential_process of profile "p"`,
		"SSOProvider":          "aws sso login --profile p",
		"AssumeRoleProvider":   `profile "p" (from AssumeRoleProvider)`,
	} {
		err := error(&ExpiredError{Source: source, Profile: "p", Expires: now.Add(-10 * time.Minute), Now: now})
		var e *ExpiredError
		if !errors.As(err, &e) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "2026-11-29T11:50:00Z (10m0s ago)") {
			t.Errorf("%s: %v, want %q and when", source, err, want)
		}
	}
}
