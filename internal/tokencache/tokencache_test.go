package tokencache

import (
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// A key that changed between two runs would make every run a miss.
func TestNameIsStable(t *testing.T) {
	getenv := env(map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "AWS_ENDPOINT_URL_STS": "https://x", "AWS_PROFILE": "p"})
	home := t.TempDir()
	first := NewIdentity(Request{ClusterName: "c", Region: "r"}, getenv, home).Name()
	for range 50 {
		if got := NewIdentity(Request{ClusterName: "c", Region: "r"}, getenv, home).Name(); got != first {
			t.Fatalf("Name changed between calls: %s, %s", first, got)
		}
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
		if got := DefaultDir(env(tt.env), tt.home); got != tt.want {
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
	home := b.TempDir()
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
	home := t.TempDir()
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
