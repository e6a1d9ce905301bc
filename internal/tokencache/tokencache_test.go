package tokencache

import (
	"encoding/base64"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/testenv/tmpdir"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestNameIsStable pins the entry names of fixed identities. A name that
// changes between two builds makes every cached token of every user a
// miss (and leaves the old entries behind), so a change here must be on
// purpose: bump the key's "v" field and update the golden names.
func TestNameIsStable(t *testing.T) {
	// Fixed paths that do not exist: the key holds the config and
	// credentials paths, and their digests are "" when unreadable.
	base := map[string]string{
		"AWS_CONFIG_FILE":             "/nonexistent/ekstoken/config",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ekstoken/credentials",
	}
	with := func(kv ...string) func(string) string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return env(m)
	}
	tests := []struct {
		name                string
		req                 Request
		getenv              func(string) string
		wantName, wantCreds string
	}{
		{"cluster and region only", Request{ClusterName: "prod", Region: "eu-west-1"}, with(),
			"token-0f3217a3c460f26d23f6059ab530184d5f8308d9", "credentials-ea1c238fb8c8e5efe5e26bd27aeb923624870b2f"},
		{"profile flag and role", Request{ClusterName: "prod", Region: "eu-west-1", Profile: "dev",
			RoleARN: "arn:aws:iam::111122223333:role/eks-admin", SessionName: "EKSGetTokenAuth", ExternalID: "x-1"}, with(),
			"token-b4d7e2093f3a187c5a188c8f7d71588918d09254", "credentials-c347df397236425668d3a5b12d6bfdffd950b626"},
		{"Outposts cluster ID", Request{ClusterID: "0123abcd", Region: "us-west-2"}, with(),
			"token-3ccbce5b3886f531c6bc62da5ab695138b691fc9", "credentials-ea1c238fb8c8e5efe5e26bd27aeb923624870b2f"},
		{"environment keys and variables", Request{ClusterName: "prod"}, with(
			"AWS_REGION", "eu-west-1", "AWS_PROFILE", "p",
			"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY", "secret", "AWS_SESSION_TOKEN", "session",
			"AWS_ROLE_ARN", "arn:aws:iam::1:role/r", "AWS_ENDPOINT_URL_STS", "https://x"),
			"token-90526104185d81ee676f10b555005b10419d4bd1", "credentials-f83a07a9163f6fc95a74d4f21f4f608ba7d5fe60"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := NewIdentity(tc.req, tc.getenv, "/nonexistent/home")
			if got := id.Name(); got != tc.wantName {
				t.Errorf("Name() = %q, want %q", got, tc.wantName)
			}
			if got := id.CredentialsName(); got != tc.wantCreds {
				t.Errorf("CredentialsName() = %q, want %q", got, tc.wantCreds)
			}
		})
	}
}

// Text moved from one field to the next must not give the same key.
func TestNameSeparatesFields(t *testing.T) {
	a := Identity{Cluster: "ab", Region: "c"}.Name()
	b := Identity{Cluster: "a", Region: "bc"}.Name()
	if a == b {
		t.Error("fields run into each other")
	}
}

func TestDefaultDir(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		home string
		want string
	}{
		{map[string]string{"EKSTOKEN_CACHE_DIR": "/e", "KUBECACHEDIR": "/k"}, "/h", "/e"},
		{map[string]string{"KUBECACHEDIR": "/k"}, "/h", filepath.Join("/k", "ekstoken")},
		{nil, "/h", filepath.Join("/h", ".kube", "cache", "ekstoken")},
		{nil, "", ""},
	} {
		// Compared cleaned: on Windows "/k\\ekstoken" and "\\k\\ekstoken"
		// name the same directory.
		if got := DefaultDir(env(tt.env), tt.home); got != tt.want && (got == "" || filepath.Clean(got) != filepath.Clean(tt.want)) {
			t.Errorf("DefaultDir(%v, %q) = %q, want %q", tt.env, tt.home, got, tt.want)
		}
	}
}

// BenchmarkLookupHit is the in-process part of a cache hit: key, read,
// parse, freshness.
func BenchmarkLookupHit(b *testing.B) {
	u := "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261127T090000Z&X-Amz-Expires=60" +
		"&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=00"
	home := tmpdir.New(b)
	store := cache.Store{Dir: filepath.Join(home, "cache")}
	req := Request{ClusterName: "prod", Region: "eu-west-1", SessionName: DefaultSessionName}
	getenv := env(nil)
	id := NewIdentity(req, getenv, home)
	e := NewEntry(id.Key(), "k8s-aws-v1."+base64.RawURLEncoding.EncodeToString([]byte(u)))
	e.Region = "eu-west-1"
	if err := store.Write(id.Name(), e); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 5, 0, 0, time.UTC)
	for b.Loop() {
		if _, why, ok := Lookup(store, NewIdentity(req, getenv, home), now, DefaultMargin); !ok {
			b.Fatal(why)
		}
	}
}

// --profile p and AWS_PROFILE=p name one identity unless keys in the
// environment make them differ; credentials cached by a run by hand then
// serve kubectl's runs.
func TestProfileFlagMattersOnlyWithEnvKeys(t *testing.T) {
	home := tmpdir.New(t)
	flag := NewIdentity(Request{Profile: "p"}, env(nil), home)
	byEnv := NewIdentity(Request{}, env(map[string]string{"AWS_PROFILE": "p"}), home)
	if flag.CredentialsName() != byEnv.CredentialsName() || flag.Name() != byEnv.Name() {
		t.Error("--profile p and AWS_PROFILE=p differ without env keys")
	}
	keys := map[string]string{"AWS_PROFILE": "p", "AWS_ACCESS_KEY_ID": "AKIDENV"}
	flagKeys := NewIdentity(Request{Profile: "p"}, env(keys), home)
	envKeys := NewIdentity(Request{}, env(keys), home)
	if flagKeys.Name() == envKeys.Name() {
		t.Error("with env keys, --profile p (signs with p) and AWS_PROFILE=p (signs with the env keys) share an entry")
	}
	other := NewIdentity(Request{Profile: "p"}, env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDOTHER"}), home)
	if flagKeys.Name() == other.Name() {
		t.Error("with --profile, other env keys share an entry (credential_source = Environment signs with them)")
	}
}
