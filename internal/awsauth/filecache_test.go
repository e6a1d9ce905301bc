package awsauth

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// TestFileCacheServesOnlyItsIdentity: cached credentials copied under
// another identity's file name are a miss, whatever differs: profile, role,
// external ID, keys, what the config file says.
func TestFileCacheServesOnlyItsIdentity(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	home := t.TempDir()
	cfg := filepath.Join(home, "config")
	if err := os.WriteFile(cfg, []byte("[profile a]\nrole_arn = arn:aws:iam::1:role/a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	base := map[string]string{"AWS_CONFIG_FILE": cfg}
	src := tokencache.NewIdentity(tokencache.Request{Profile: "a"}, getenv(base), home)
	others := map[string]func() tokencache.Identity{
		"profile": func() tokencache.Identity {
			return tokencache.NewIdentity(tokencache.Request{Profile: "b"}, getenv(base), home)
		},
		"role": func() tokencache.Identity {
			return tokencache.NewIdentity(tokencache.Request{Profile: "a", RoleARN: "arn:aws:iam::1:role/x"}, getenv(base), home)
		},
		"external id": func() tokencache.Identity {
			return tokencache.NewIdentity(tokencache.Request{Profile: "a", ExternalID: "e"}, getenv(base), home)
		},
		"env keys": func() tokencache.Identity {
			return tokencache.NewIdentity(tokencache.Request{Profile: "a"}, getenv(map[string]string{"AWS_CONFIG_FILE": cfg, "AWS_ACCESS_KEY_ID": "AKIDX"}), home)
		},
		"config content": func() tokencache.Identity {
			p := filepath.Join(t.TempDir(), "config")
			os.WriteFile(p, []byte("[profile a]\nrole_arn = arn:aws:iam::2:role/a\n"), 0o600)
			return tokencache.NewIdentity(tokencache.Request{Profile: "a"}, getenv(map[string]string{"AWS_CONFIG_FILE": p}), home)
		},
	}
	for name, other := range others {
		t.Run(name, func(t *testing.T) {
			store := cache.Store{Dir: filepath.Join(t.TempDir(), "c")}
			dst := other()
			if dst.CredentialsName() == src.CredentialsName() {
				t.Fatal("setup: same name")
			}
			cached := aws.Credentials{AccessKeyID: "ASIASRC", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour), Source: "x"}
			write := &FileCache{Store: store, Name: src.CredentialsName(), Key: src.CredentialsKey(), Now: func() time.Time { return now },
				Wait: cache.Wait{Short: time.Second, Long: time.Second}, Log: slog.New(slog.DiscardHandler)}
			if _, err := write.Wrap(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return cached, nil })).Retrieve(context.Background()); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(store.Path(src.CredentialsName()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(store.Path(dst.CredentialsName()), b, 0o600); err != nil {
				t.Fatal(err)
			}
			calls := 0
			read := &FileCache{Store: store, Name: dst.CredentialsName(), Key: dst.CredentialsKey(), Now: func() time.Time { return now },
				Wait: cache.Wait{Short: time.Second, Long: time.Second}, Log: slog.New(slog.DiscardHandler)}
			got, err := read.Wrap(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				calls++
				return aws.Credentials{AccessKeyID: "ASIADST", SecretAccessKey: "s", CanExpire: true, Expires: now.Add(time.Hour)}, nil
			})).Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 || got.AccessKeyID != "ASIADST" {
				t.Errorf("served %s from another identity's entry", got.AccessKeyID)
			}
			// Its own entry is still served.
			calls = 0
			if got, err := write.Wrap(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				calls++
				return aws.Credentials{}, nil
			})).Retrieve(context.Background()); err != nil || got.AccessKeyID != "ASIASRC" || calls != 0 {
				t.Errorf("own entry: %v, %v, %d calls", got.AccessKeyID, err, calls)
			}
		})
	}
}
