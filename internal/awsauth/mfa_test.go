package awsauth

import (
	"os"
	"path/filepath"
	"testing"
)

// ProfileNeedsMFA answers for the profile asked (the default one for ""),
// from the files given and no others, whichever of them says mfa_serial.
func TestProfileNeedsMFA(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("config", `[default]
mfa_serial = arn:aws:iam::111122223333:mfa/me
[profile mfa-admin]
role_arn = arn:aws:iam::111122223333:role/admin
source_profile = keys
mfa_serial = arn:aws:iam::111122223333:mfa/me
[profile plain]
region = eu-west-1
[profile chained]
role_arn = arn:aws:iam::111122223333:role/other
source_profile = mfa-admin
`)
	plainCfg := write("plain-config", "[default]\nregion = eu-west-1\n[profile mfa-admin]\nregion = eu-west-1\n")
	creds := write("credentials", "[keys]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n")
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, profile, config, credentials string
		want                               bool
	}{
		{"default profile by empty name", "", cfg, creds, true},
		{"default profile by name", "default", cfg, creds, true},
		{"role with mfa_serial", "mfa-admin", cfg, creds, true},
		{"profile without", "plain", cfg, creds, false},
		{"chained role: only its own mfa_serial counts", "chained", cfg, creds, false},
		{"keys in the credentials file", "keys", cfg, creds, false},
		{"unknown profile", "nobody", cfg, creds, false},
		{"same name, other file", "mfa-admin", plainCfg, creds, false},
		{"default, other file", "", plainCfg, creds, false},
		{"no files", "mfa-admin", missing, missing, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProfileNeedsMFA(t.Context(), tc.profile, tc.config, tc.credentials); got != tc.want {
				t.Errorf("ProfileNeedsMFA(%q) = %v, want %v", tc.profile, got, tc.want)
			}
		})
	}
}
