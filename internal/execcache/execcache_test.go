package execcache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/google/go-cmp/cmp"
)

func envOf(kv map[string]string) (func(string) string, []string) {
	var environ []string
	for k, v := range kv {
		environ = append(environ, k+"="+v)
	}
	return func(k string) string { return kv[k] }, environ
}

func nameOf(r Request, kv map[string]string) string {
	getenv, environ := envOf(kv)
	return NewIdentity(r, getenv, environ).Name()
}

// Every variable of a known plugin's families, and any unknown plugin's
// union of them, splits the cache: two identities never share an entry.
func TestIdentityEnvSplitsEntries(t *testing.T) {
	for plugin, prefixes := range KnownPlugins() {
		for _, p := range append(prefixes, allKnownPrefixes()...) {
			own := false
			for _, q := range prefixes {
				own = own || len(p) >= len(q) && p[:len(q)] == q
			}
			for _, cmd := range []string{plugin, "corp-sso-wrapper"} {
				if cmd == plugin && !own {
					continue
				}
				r := Request{Command: cmd, Args: []string{"get-token"}}
				name := p + "SOME_SETTING"
				base := map[string]string{"PATH": "/nonexistent", "HOME": "/h"}
				a := nameOf(r, base)
				withA := map[string]string{"PATH": "/nonexistent", "HOME": "/h", name: "one"}
				withB := map[string]string{"PATH": "/nonexistent", "HOME": "/h", name: "two"}
				withEmpty := map[string]string{"PATH": "/nonexistent", "HOME": "/h", name: ""}
				names := []string{a, nameOf(r, withA), nameOf(r, withB), nameOf(r, withEmpty)}
				seen := map[string]bool{}
				for _, n := range names {
					if seen[n] {
						t.Errorf("%s with %s: two identities share entry %s", cmd, name, n)
					}
					seen[n] = true
				}
			}
		}
	}
}

// Variables outside the plugin's families do not split its cache, and
// --key-env adds any name.
func TestIdentityEnvOutsideListAndKeyEnv(t *testing.T) {
	r := Request{Command: "gke-gcloud-auth-plugin"}
	for _, v := range []string{"TERM", "AWS_PROFILE", "LANG", "KUBECONFIG"} {
		if nameOf(r, nil) != nameOf(r, map[string]string{v: "x"}) {
			t.Errorf("%s split gke-gcloud-auth-plugin's cache", v)
		}
		rk := r
		rk.KeyEnv = []string{v}
		if nameOf(rk, map[string]string{v: "x"}) == nameOf(rk, map[string]string{v: "y"}) {
			t.Errorf("--key-env %s: two values share an entry", v)
		}
	}
}

func TestIdentityArgsClusterAPIVersion(t *testing.T) {
	info := func(api, cluster string) map[string]string {
		return map[string]string{execcred.EnvVar: `{"apiVersion":"` + api + `","kind":"ExecCredential","spec":{"interactive":false` + cluster + `}}`}
	}
	r := Request{Command: "kubelogin", Args: []string{"get-token", "--server-id", "a"}}
	seen := map[string]string{}
	for what, n := range map[string]string{
		"args":           nameOf(r, nil),
		"other args":     nameOf(Request{Command: "kubelogin", Args: []string{"get-token", "--server-id", "b"}}, nil),
		"args shifted":   nameOf(Request{Command: "kubelogin", Args: []string{"get-token --server-id", "a"}}, nil),
		"other command":  nameOf(Request{Command: "kubelogin2", Args: r.Args}, nil),
		"v1":             nameOf(r, info(execcred.V1, "")),
		"cluster a":      nameOf(r, info(execcred.V1, `,"cluster":{"server":"https://a"}`)),
		"cluster b":      nameOf(r, info(execcred.V1, `,"cluster":{"server":"https://b"}`)),
		"cluster config": nameOf(r, info(execcred.V1, `,"cluster":{"server":"https://a","config":{"x":1}}`)),
	} {
		if other, ok := seen[n]; ok {
			t.Errorf("%s and %s share entry %s", what, other, n)
		}
		seen[n] = what
	}
	// Interactive or not, white space: the same identity.
	a := nameOf(r, map[string]string{execcred.EnvVar: `{"apiVersion":"` + execcred.V1 + `","spec":{"interactive":true,"cluster":{"server":"https://a"}}}`})
	b := nameOf(r, map[string]string{execcred.EnvVar: `{ "apiVersion": "` + execcred.V1 + `", "spec": {"cluster": {"server": "https://a"}, "interactive": false} }`})
	if a != b {
		t.Error("interactive and white space split the cache")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "my-plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "not-exec"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "PATH" {
			return "/nonexistent" + string(os.PathListSeparator) + dir
		}
		return ""
	}
	if got := LookPath("my-plugin", getenv); got != bin {
		t.Errorf("LookPath = %q, want %q", got, bin)
	}
	// A relative PATH entry resolves nothing, as os/exec refuses it.
	t.Chdir(dir)
	dotPath := func(k string) string {
		if k == "PATH" {
			return "." + string(os.PathListSeparator) + "" + string(os.PathListSeparator) + "bin"
		}
		return ""
	}
	if got := LookPath("my-plugin", dotPath); got != "my-plugin" {
		t.Errorf("LookPath through a relative PATH entry = %q", got)
	}
	got := LookPath("./my-plugin", dotPath)
	st1, err1 := os.Stat(got)
	st2, _ := os.Stat(bin)
	if !filepath.IsAbs(got) || err1 != nil || !os.SameFile(st1, st2) {
		t.Errorf("LookPath(./my-plugin) = %q, want %q made absolute", got, bin)
	}
	if got := LookPath("missing", getenv); got != "missing" {
		t.Errorf("LookPath(missing) = %q", got)
	}
	if os.PathSeparator == '/' {
		if got := LookPath("not-exec", getenv); got != "not-exec" {
			t.Errorf("a file without execute permission resolved: %q", got)
		}
	}
}

type mapReader map[string][]byte

func (m mapReader) ReadBytes(name string) ([]byte, error) {
	if b, ok := m[name]; ok {
		return b, nil
	}
	return nil, entryfile.ErrNotFound
}

func TestLookup(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	getenv, environ := envOf(map[string]string{"AWS_PROFILE": "a"})
	id := NewIdentity(Request{Command: "aws"}, getenv, environ)
	getenv2, environ2 := envOf(map[string]string{"AWS_PROFILE": "b"})
	other := NewIdentity(Request{Command: "aws"}, getenv2, environ2)
	st := Status{Token: "t", Expiration: now.Add(time.Hour)}
	cert := Status{ClientCertificateData: "c", ClientKeyData: "k", Expiration: now.Add(time.Hour)}
	// Entries are written by cache.Store with encoding/json.
	marshal := func(e Entry) []byte {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		entry Entry
		at    time.Time
		want  bool
	}{
		{"fresh token", NewEntry(id, st, now), now, true},
		{"fresh cert", NewEntry(id, cert, now), now, true},
		{"within margin", NewEntry(id, st, now), now.Add(59 * time.Minute), false},
		{"expired", NewEntry(id, st, now), now.Add(2 * time.Hour), false},
		{"other identity", NewEntry(other, st, now), now, false},
		{"stored in the future", NewEntry(id, st, now.Add(10*time.Minute)), now, false},
		{"no credential", NewEntry(id, Status{Expiration: now.Add(time.Hour)}, now), now, false},
		{"cert without key", NewEntry(id, Status{ClientCertificateData: "c", Expiration: now.Add(time.Hour)}, now), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mapReader{id.Name(): marshal(tc.entry)}
			got, why, ok := Lookup(r, id, tc.at, DefaultMargin)
			if ok != tc.want {
				t.Fatalf("Lookup = %v (%s), want %v", ok, why, tc.want)
			}
			if ok {
				want := Status{Token: tc.entry.Token, ClientCertificateData: tc.entry.ClientCertificateData, ClientKeyData: tc.entry.ClientKeyData, Expiration: tc.entry.Expires, Stored: tc.entry.Stored}
				if d := cmp.Diff(want, got); d != "" {
					t.Error(d)
				}
			}
		})
	}
}

func TestRefreshAhead(t *testing.T) {
	stored := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		life, margin, ahead, want time.Duration
	}{
		{time.Hour, time.Minute, 5 * time.Minute, 5 * time.Minute},       // long life: the full ahead
		{5 * time.Minute, time.Minute, 5 * time.Minute, 2 * time.Minute}, // short: half the served life
		{2 * time.Minute, 0, 5 * time.Minute, time.Minute},               // no margin
		{30 * time.Second, time.Minute, 5 * time.Minute, 0},              // served life already over
		{time.Hour, time.Minute, 0, 0},                                   // refreshing ahead off
	} {
		if got := RefreshAhead(stored, stored.Add(tc.life), tc.margin, tc.ahead); got != tc.want {
			t.Errorf("life %v margin %v ahead %v: RefreshAhead = %v, want %v", tc.life, tc.margin, tc.ahead, got, tc.want)
		}
	}
}
