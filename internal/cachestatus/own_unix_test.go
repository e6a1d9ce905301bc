//go:build unix

package cachestatus

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
)

// TestClearRemovesOnlyOurs: a cache directory shared with other programs
// (a project, the aws CLI's SSO cache) loses only ekstoken's entries, temp
// files and free locks: not files of other names, not files of ekstoken's
// name pattern with another content, not another user's, not symlinks. And
// status lists none of them.
func TestClearRemovesOnlyOurs(t *testing.T) {
	for _, filter := range []Filter{{}, {Cluster: "prod"}, {Profile: "admin"}} {
		t.Run(filter.Cluster+filter.Profile, func(t *testing.T) {
			s := fill(t)
			foreign := map[string]string{
				"package.json":  `{"name":"app","format":"ekstoken/token/v2"}`,
				"tsconfig.json": `{}`,
				// The aws CLI's SSO token cache: sha1 names, no format.
				"d033e22ae348aeb5660fc2140aec35850c4da997.json": `{"startUrl":"https://x.awsapps.com/start","accessToken":"SSO"}`,
				// ekstoken's pattern, other content.
				"token-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.json":       `{"startUrl":"x"}`,
				"credentials-ffffffffffffffffffffffffffffffffffffffff.json": `not json`,
				"token-1111111111111111111111111111111111111111.json":       ``,
				// Almost ekstoken's names, ekstoken's content.
				"token-abc.json":                  `{"format":"ekstoken/token/v2"}`,
				"Token-aaaaaaaaaaaaaaaaaaaa.json": `{"format":"ekstoken/token/v2"}`,
				"build.lock":                      ``,
				".package.json.1.tmp":             `x`,
			}
			for n, content := range foreign {
				if err := os.WriteFile(filepath.Join(s.Dir, n), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// ekstoken's names, private and the user's, but content
			// ekstoken never writes: a key spelt otherwise, a second
			// format, a lock file holding something else.
			private := map[string]string{
				"token-4444444444444444444444444444444444444444.json": `{"FORMAT":"ekstoken/token/v2"}`,
				"token-5555555555555555555555555555555555555555.json": `{"format":"mine","format":"ekstoken/token/v2"}`,
				"token-6666666666666666666666666666666666666666.lock": `{"format":"ekstoken/token/v2","mine":true}`,
			}
			for n, content := range private {
				if err := os.WriteFile(filepath.Join(s.Dir, n), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				foreign[n] = content
			}
			// An empty lock file by its name, but readable by others.
			if err := os.WriteFile(filepath.Join(s.Dir, "token-7777777777777777777777777777777777777777.lock"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			foreign["token-7777777777777777777777777777777777777777.lock"] = ""
			// ekstoken's name and format, another user's file.
			theirs := "token-2222222222222222222222222222222222222222.json"
			if err := os.WriteFile(filepath.Join(s.Dir, theirs), []byte(`{"format":"ekstoken/token/v2"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				if err := os.Chown(filepath.Join(s.Dir, theirs), 65534, 65534); err != nil {
					t.Fatal(err)
				}
				foreign[theirs] = ""
			}
			// ekstoken's name, a symlink to ekstoken's format.
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			if err := os.WriteFile(target, []byte(`{"format":"ekstoken/token/v2"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			link := "token-3333333333333333333333333333333333333333.json"
			if err := os.Symlink(target, filepath.Join(s.Dir, link)); err != nil {
				t.Fatal(err)
			}
			foreign[link] = ""

			items, err := List(s, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if _, ok := foreign[filepath.Base(it.File)]; ok {
					t.Errorf("status lists %s, which ekstoken did not write", it.File)
				}
			}
			if _, err := Clear(s, filter, signedAt); err != nil {
				t.Fatal(err)
			}
			for n := range foreign {
				if _, err := os.Lstat(filepath.Join(s.Dir, n)); err != nil {
					t.Errorf("clear removed %s: %v", n, err)
				}
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("clear removed a symlink's target: %v", err)
			}
		})
	}
}

// TestClearRemovesLeftovers: clear removes the temp files of interrupted
// runs once they are old, and the lock files nobody holds; a held lock and
// a young temp file stay.
func TestClearRemovesLeftovers(t *testing.T) {
	s := fill(t)
	now := time.Now()
	old := now.Add(-cache.StaleAfter - time.Minute)
	temps := map[string]time.Time{
		"." + tokA + ".123.tmp":  old,
		"." + credC + ".456.tmp": old,
		"." + tokB + ".789.tmp":  now,
	}
	for n, mt := range temps {
		p := filepath.Join(s.Dir, n)
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	forever := cache.Wait{Short: time.Hour, Long: time.Hour}
	free, err := s.Lock(context.Background(), tokA, forever)
	if err != nil {
		t.Fatal(err)
	}
	free.Unlock()
	held, err := s.Lock(context.Background(), tokB, forever)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	res, err := Clear(s, Filter{Cluster: "none"}, now)
	if err != nil {
		t.Fatal(err)
	}
	// Every temp file goes, a fresh one too: a killed writer's holds a
	// secret, and a live writer whose temp file goes only fails to cache.
	if res.Temps != 3 || res.Locks != 1 {
		t.Errorf("removed %d temp files and %d locks, want 3 and 1", res.Temps, res.Locks)
	}
	des, _ := os.ReadDir(s.Dir)
	var left []string
	for _, de := range des {
		left = append(left, de.Name())
	}
	for _, want := range []string{tokB + ".lock"} {
		if !slices.Contains(left, want) {
			t.Errorf("%s was removed; left %v", want, left)
		}
	}
	for _, gone := range []string{"." + tokA + ".123.tmp", "." + credC + ".456.tmp", tokA + ".lock"} {
		if slices.Contains(left, gone) {
			t.Errorf("%s was left", gone)
		}
	}
}
