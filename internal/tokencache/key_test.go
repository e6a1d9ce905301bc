package tokencache

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

// Every variable the key is meant to cover, by name: a variable dropped
// from the lists fails here, not in production.
var mustCover = []string{
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_DISABLED",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
}

// TestKeyCoversEnv: another value of any identity variable is another key
// and another name, for tokens and for credentials (but for region, which
// does not shape credentials).
func TestKeyCoversEnv(t *testing.T) {
	home := tmpdir.New(t)
	for _, k := range mustCover {
		for _, base := range []string{"", "value-a"} {
			a := map[string]string{}
			if base != "" {
				a[k] = base
			}
			b := map[string]string{k: "value-b"}
			ia, ib := NewIdentity(Request{ClusterName: "c"}, env(a), home), NewIdentity(Request{ClusterName: "c"}, env(b), home)
			if ia.Key() == ib.Key() || ia.Name() == ib.Name() {
				t.Errorf("%s=%q and %s=%q share a token key", k, base, k, "value-b")
			}
			if k != "AWS_REGION" && k != "AWS_DEFAULT_REGION" && ia.CredentialsName() == ib.CredentialsName() {
				t.Errorf("%s=%q and %s=%q share a credentials key", k, base, k, "value-b")
			}
		}
	}
}

// TestKeyFollowsFileContent: a file rewritten in place with the same size
// and modification time (cp -p, touch -d), or a symlink swapped to a file
// of the same size, gives another key: for the AWS config and credentials
// files and the service account token files, at several sizes.
func TestKeyFollowsFileContent(t *testing.T) {
	for _, v := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		for _, size := range []int{1, 40, 4 << 10, maxKeyFile - 1, maxKeyFile, maxKeyFile + 100} {
			t.Run(fmt.Sprintf("%s/%d", v, size), func(t *testing.T) {
				dir := tmpdir.New(t)
				p := filepath.Join(dir, "f")
				a := bytes.Repeat([]byte("a"), size)
				bb := bytes.Repeat([]byte("a"), size)
				bb[0] = 'b' // a rotated key: same length, new bytes
				mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				write := func(path string, data []byte) {
					if err := os.WriteFile(path, data, 0o600); err != nil {
						t.Fatal(err)
					}
					if err := os.Chtimes(path, mtime, mtime); err != nil {
						t.Fatal(err)
					}
				}
				getenv := env(map[string]string{v: p})
				write(p, a)
				first := NewIdentity(Request{ClusterName: "c"}, getenv, dir)
				write(p, bb)
				inPlace := NewIdentity(Request{ClusterName: "c"}, getenv, dir)
				if first.Name() == inPlace.Name() || first.CredentialsName() == inPlace.CredentialsName() {
					t.Error("rewritten in place with the same size and time: same key")
				}
				// A symlink swapped to another file of the same size.
				write(filepath.Join(dir, "x"), a)
				write(filepath.Join(dir, "y"), bb)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(dir, "x"), p); err != nil {
					t.Skip("no symlinks here:", err)
				}
				// Wine 8 creates a symlink that Windows programs cannot
				// read through; a system without working symlinks has
				// nothing to swap.
				if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, a) {
					t.Skipf("symlinks made here do not read through to their target (wine 8 does this): %v", err)
				}
				viaX := NewIdentity(Request{ClusterName: "c"}, getenv, dir)
				os.Remove(p)
				if err := os.Symlink(filepath.Join(dir, "y"), p); err != nil {
					t.Fatal(err)
				}
				viaY := NewIdentity(Request{ClusterName: "c"}, getenv, dir)
				if viaX.Name() == viaY.Name() {
					t.Error("symlink swapped to a same-size file: same key")
				}
				// Past the bound the file's inode is part of the key.
				if size < maxKeyFile && viaX.Name() != first.Name() {
					t.Error("same content through a symlink: another key")
				}
			})
		}
	}
}

// TestKeyHoldsNoSecret: the key, which entries store, holds no secret in
// clear: neither secret variables nor what secret files say.
func TestKeyHoldsNoSecret(t *testing.T) {
	dir := tmpdir.New(t)
	secrets := map[string]string{
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET1", "AWS_SECRET_KEY": "SECRETKEYALIAS2",
		"AWS_SESSION_TOKEN": "FwoGZXIvYXdzSESSION3", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "eyJhbGciOiPODTOKEN4",
	}
	files := map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE":            "[default]\naws_secret_access_key = FILESECRET5\n",
		"AWS_CONFIG_FILE":                        "[default]\ncredential_process = vault --token CONFIGSECRET6\n",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "eyJFILEPODTOKEN7",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "eyJIRSATOKEN8",
	}
	m := map[string]string{}
	for k, v := range secrets {
		m[k] = v
	}
	for k, content := range files {
		p := filepath.Join(dir, k)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		m[k] = p
	}
	id := NewIdentity(Request{ClusterName: "c", Region: "r"}, env(m), dir)
	for _, key := range []string{id.Key(), id.CredentialsKey()} {
		for _, s := range []string{"SECRET1", "ALIAS2", "SESSION3", "PODTOKEN4", "FILESECRET5", "CONFIGSECRET6", "FILEPODTOKEN7", "IRSATOKEN8"} {
			if strings.Contains(key, s) {
				t.Errorf("key holds a secret (%s): %s", s, key)
			}
		}
	}
}

func testToken(akid, region string) string {
	u := "https://sts." + region + ".amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=" + akid + "%2F20261127%2F" + region + "%2Fsts%2Faws4_request&X-Amz-Date=20261127T090000Z&X-Amz-Expires=60" +
		"&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00"
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u))
}

// TestLookupComparesIdentity: an entry is served only to the identity it
// was stored for, whatever its file is called, and only if its token was
// signed for the asked region (and, with environment keys, by that key).
func TestLookupComparesIdentity(t *testing.T) {
	home := tmpdir.New(t)
	now := time.Date(2026, 11, 27, 9, 5, 0, 0, time.UTC)
	keys := func(akid string) func(string) string {
		return env(map[string]string{"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": "s-" + akid})
	}
	prodEU := NewIdentity(Request{ClusterName: "prod", Region: "eu-west-1"}, keys("AKIDA"), home)
	good := NewEntry(prodEU.Key(), testToken("AKIDA", "eu-west-1"))
	good.Region = "eu-west-1"
	tests := []struct {
		name  string
		entry Entry
		ask   Identity
		hit   bool
	}{
		{"its own", good, prodEU, true},
		{"another cluster", good, NewIdentity(Request{ClusterName: "dev", Region: "eu-west-1"}, keys("AKIDA"), home), false},
		{"another region", good, NewIdentity(Request{ClusterName: "prod", Region: "us-east-1"}, keys("AKIDA"), home), false},
		{"another key", good, NewIdentity(Request{ClusterName: "prod", Region: "eu-west-1"}, keys("AKIDB"), home), false},
		{"another secret, same key ID", good, NewIdentity(Request{ClusterName: "prod", Region: "eu-west-1"},
			env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDA", "AWS_SECRET_ACCESS_KEY": "other"}), home), false},
		{"token of another region inside", func() Entry { e := good; e.Token = testToken("AKIDA", "us-east-1"); return e }(), prodEU, false},
		{"entry's region rewritten", func() Entry {
			e := good
			e.Token, e.Region = testToken("AKIDA", "us-east-1"), "us-east-1"
			return e
		}(), prodEU, false},
		{"token of another key inside", func() Entry { e := good; e.Token = testToken("AKIDB", "eu-west-1"); return e }(), prodEU, false},
		{"no key stored", func() Entry { e := good; e.Key = ""; return e }(), prodEU, false},
		{"older format", func() Entry { e := good; e.Format = "ekstoken/token/v1"; return e }(), prodEU, false},
	}
	// Pseudo-regions: the token is signed for the real region, and hits.
	for _, pr := range []struct{ asked, signed string }{
		{"aws-global", "us-east-1"}, {"us-east-1-fips", "us-east-1"}, {"fips-us-east-2", "us-east-2"},
		{"us-gov-west-1-fips", "us-gov-west-1"}, {"aws-cn-global", "cn-north-1"},
	} {
		id := NewIdentity(Request{ClusterName: "prod", Region: pr.asked}, keys("AKIDA"), home)
		e := NewEntry(id.Key(), testToken("AKIDA", pr.signed))
		e.Region = pr.asked
		tests = append(tests, struct {
			name  string
			entry Entry
			ask   Identity
			hit   bool
		}{"pseudo-region " + pr.asked, e, id, true})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := cache.Store{Dir: filepath.Join(tmpdir.New(t), "c")}
			// Stored under the asking identity's name, as a copy would be.
			if err := store.Write(tc.ask.Name(), tc.entry); err != nil {
				t.Fatal(err)
			}
			_, why, ok := Lookup(store, tc.ask, now, DefaultMargin)
			if ok != tc.hit {
				t.Errorf("hit = %v (%s), want %v", ok, why, tc.hit)
			}
		})
	}
}

// BenchmarkNewIdentity measures what keying on the content of the AWS
// config and credentials files adds to a hit, against no files at all.
func BenchmarkNewIdentity(b *testing.B) {
	for _, sizes := range [][2]int{{0, 0}, {2 << 10, 1 << 10}, {64 << 10, 4 << 10}} {
		b.Run(fmt.Sprintf("config=%dB,credentials=%dB", sizes[0], sizes[1]), func(b *testing.B) {
			home := tmpdir.New(b)
			if sizes[0] > 0 {
				os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
				os.WriteFile(filepath.Join(home, ".aws", "config"), bytes.Repeat([]byte("x"), sizes[0]), 0o600)
				os.WriteFile(filepath.Join(home, ".aws", "credentials"), bytes.Repeat([]byte("y"), sizes[1]), 0o600)
			}
			req := Request{ClusterName: "prod", Region: "eu-west-1", SessionName: DefaultSessionName}
			for b.Loop() {
				_ = NewIdentity(req, env(nil), home).Name()
			}
		})
	}
}
