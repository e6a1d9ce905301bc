package fastpath

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// An exec hit prints the cached credential rebuilt for the apiVersion
// kubectl asks now; anything else declines having printed nothing.
func TestServeExec(t *testing.T) {
	home := t.TempDir()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	vars := map[string]string{"AWS_PROFILE": "a", "PATH": "/nonexistent"}
	getenv := func(k string) string { return vars[k] }
	environ := func() []string {
		var e []string
		for k, v := range vars {
			e = append(e, k+"="+v)
		}
		return e
	}
	req := execcache.Request{Command: "aws", Args: []string{"eks", "get-token", "--cluster-name", "x"}, Margin: execcache.DefaultMargin}
	id := execcache.NewIdentity(req, getenv, environ())
	store := cache.Store{Dir: filepath.Join(home, ".kube", "cache", "ekstoken")}
	st := execcache.Status{Token: "tok", Expiration: now.Add(10 * time.Minute)}
	if err := store.Write(id.Name(), execcache.NewEntry(id, st, now)); err != nil {
		t.Fatal(err)
	}
	serve := func(args string, at time.Time) (bool, string) {
		var out, errOut bytes.Buffer
		served, err := Serve(Env{Args: strings.Fields(args), Getenv: getenv, Environ: environ, Stdout: &out, Stderr: &errOut,
			Now: func() time.Time { return at }, Home: home})
		if err != nil {
			t.Fatal(err)
		}
		if !served && out.Len()+errOut.Len() != 0 {
			t.Errorf("%q declined after printing %q %q", args, out.String(), errOut.String())
		}
		return served, out.String()
	}
	line := "exec -- aws eks get-token --cluster-name x"
	for _, api := range []string{execcred.V1, execcred.V1beta1} {
		vars[execcred.EnvVar] = `{"apiVersion":"` + api + `","spec":{"interactive":false}}`
		// The identity includes the apiVersion: cache it for this one too.
		id := execcache.NewIdentity(req, getenv, environ())
		if err := store.Write(id.Name(), execcache.NewEntry(id, st, now)); err != nil {
			t.Fatal(err)
		}
		served, out := serve(line, now)
		if want := string(execcache.Marshal(api, st)); !served || out != want {
			t.Errorf("%s: served %v %q, want %q", api, served, out, want)
		}
	}
	for _, tc := range []struct {
		args string
		at   time.Time
		env  map[string]string
	}{
		{line, now.Add(9 * time.Minute), nil},                                         // within the margin
		{"exec -- aws eks get-token --cluster-name y", now, nil},                      // other args
		{"exec --refresh-margin 20m -- aws eks get-token --cluster-name x", now, nil}, // margin beyond life
		{"exec --debug -- aws eks get-token --cluster-name x", now, nil},
		{"exec --no-cache -- aws eks get-token --cluster-name x", now, nil},
		{line, now, map[string]string{"AWS_PROFILE": "b"}},
		{line, now, map[string]string{"AWS_REGION": "eu-west-1"}},
		{line, now, map[string]string{"EKSTOKEN_DEBUG": "1"}},
	} {
		saved := map[string]string{}
		for k, v := range tc.env {
			saved[k] = vars[k]
			vars[k] = v
		}
		if served, out := serve(tc.args, tc.at); served {
			t.Errorf("%q with %v at +%v: served %q", tc.args, tc.env, tc.at.Sub(now), out)
		}
		for k, v := range saved {
			if v == "" {
				delete(vars, k)
			} else {
				vars[k] = v
			}
		}
	}
}

// A hit in the last stretch of an entry's served life starts its
// background refresh, after printing; earlier, or with a backoff in
// force, it does not.
func TestServeExecStartsRefresh(t *testing.T) {
	home := t.TempDir()
	stored := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	getenv := func(k string) string { return map[string]string{"PATH": "/nonexistent"}[k] }
	req := execcache.Request{Command: "kubelogin", Args: []string{"get-token"}, Margin: execcache.DefaultMargin}
	id := execcache.NewIdentity(req, getenv, nil)
	store := cache.Store{Dir: filepath.Join(home, ".kube", "cache", "ekstoken")}
	if err := store.Write(id.Name(), execcache.NewEntry(id, execcache.Status{Token: "t", Expiration: stored.Add(time.Hour)}, stored)); err != nil {
		t.Fatal(err)
	}
	serve := func(at time.Time) (printed bool, lock string) {
		var out bytes.Buffer
		served, err := Serve(Env{Args: []string{"exec", "--", "kubelogin", "get-token"}, Getenv: getenv, Stdout: &out, Stderr: &out,
			Now: func() time.Time { return at }, Home: home,
			StartExecRefresh: func(lockPath string) (bool, error) {
				if out.Len() == 0 {
					t.Error("refresh started before the credential was printed")
				}
				lock = lockPath
				return true, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return served, lock
	}
	if served, lock := serve(stored.Add(50 * time.Minute)); !served || lock != "" {
		t.Errorf("10 min before served-until: served %v, refresh %q", served, lock)
	}
	if served, lock := serve(stored.Add(56 * time.Minute)); !served || lock != entryfile.Dir(store.Dir).LockPath(id.Name()) {
		t.Errorf("4 min before served-until: served %v, refresh %q", served, lock)
	}
	key := id.Key()
	bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: key, Failures: 1, Since: stored.Add(55 * time.Minute), Until: stored.Add(58 * time.Minute)}
	if err := store.Write(tokencache.BackoffName(key), bo); err != nil {
		t.Fatal(err)
	}
	if served, lock := serve(stored.Add(56 * time.Minute)); !served || lock != "" {
		t.Errorf("backing off: served %v, refresh %q", served, lock)
	}
}
