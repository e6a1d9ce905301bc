package awsauth

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// An expired SSO session's error names the token file `aws sso login`
// rewrites, and how that file was before the SDK read it: a login that
// ends after the read must not look like no login at all.
func TestSSOLoginErrorStampsTokenFile(t *testing.T) {
	for _, tc := range []struct {
		name, profile, key string
		write              bool
	}{
		{"sso-session, expired token", "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = R\n\n" +
			"[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n", "corp", true},
		{"legacy, no token file", "[profile dev]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = eu-west-1\n" +
			"sso_account_id = 111122223333\nsso_role_name = R\n", "https://legacy.awsapps.com/start", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			home := t.TempDir()
			t.Setenv("HOME", home)
			cfg := os.Getenv("AWS_CONFIG_FILE")
			if err := os.WriteFile(cfg, []byte(tc.profile), 0o600); err != nil {
				t.Fatal(err)
			}
			tokenFile := filepath.Join(home, ".aws", "sso", "cache", sha1Hex(tc.key)+".json")
			if tc.write {
				if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
					t.Fatal(err)
				}
				tok := `{"accessToken":"a","expiresAt":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `","region":"eu-west-1","startUrl":"https://corp.awsapps.com/start"}`
				if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want := tokencache.WatchStamp(tokenFile)
			_, err := Resolve(context.Background(), Options{Profile: "dev", EffectiveProfile: "dev", ConfigFile: cfg, CredentialsFile: os.Getenv("AWS_SHARED_CREDENTIALS_FILE")})
			var sso *SSOLoginError
			if !errors.As(err, &sso) {
				t.Fatalf("Resolve: %v, want an SSOLoginError", err)
			}
			if sso.TokenFile != tokenFile || !sso.Stamped || sso.TokenStamp != want || sso.Stamp() != want {
				t.Errorf("error names %q, stamped %v %q (Stamp %q); want %q stamped %q", sso.TokenFile, sso.Stamped, sso.TokenStamp, sso.Stamp(), tokenFile, want)
			}
		})
	}
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
