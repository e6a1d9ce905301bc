package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A failed run prints nothing on stdout, where kubectl would take it for a
// credential, exits non-zero and says why on stderr.
func TestFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		keys       bool
		args       []string
		wantStderr []string
	}{
		{"no region", true, []string{"token", "--cluster-name", clusterName}, []string{"--region"}},
		{"cluster name and id", true, slices.Concat(tokenArgs, []string{"--cluster-id", "0123-abcd"}), []string{"--cluster-id"}},
		{"unknown flag", true, slices.Concat(tokenArgs, []string{"--no-such-flag"}), []string{"--no-such-flag"}},
		{"drop-in, unknown flag", true, slices.Concat(dropInArgs, []string{"--no-such-flag"}), []string{"--no-such-flag"}},
		{"no credentials", false, tokenArgs, []string{
			"no AWS credentials found", "AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "container credentials", "instance metadata",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t)
			env := sb.with()
			if tc.keys {
				env = sb.withKeys()
			}
			stdout, stderr, code := runEkstoken(t, env, tc.args...)
			if code == 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want a failure and no stdout", code, stdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			if entries, err := filepath.Glob(filepath.Join(sb.cacheDir, "token-*.json")); err != nil || len(entries) != 0 {
				t.Errorf("a failed run left cache entries: %v", entries)
			}
		})
	}
}

// A cache that cannot be created costs speed, never the credential.
func TestUnusableCacheDir(t *testing.T) {
	t.Parallel()
	s := startEKS(t, nil)
	sb := newSandbox(t)
	file := filepath.Join(sb.home, "a-file")
	writeFile(t, file, "not a directory\n")
	env := sb.withKeys("EKSTOKEN_CACHE_DIR=" + filepath.Join(file, "cache"))
	for range 2 {
		mustVerify(t, s, getToken(t, env, tokenArgs...))
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "not a directory\n" {
		t.Errorf("the file in the way changed: %q, %v", b, err)
	}
}

// A garbled entry is a miss, and the refresh writes a good one over it.
func TestCorruptEntryIsRepaired(t *testing.T) {
	t.Parallel()
	s := startEKS(t, nil)
	sb := newSandbox(t)
	env := sb.withKeys("EKSTOKEN_DEBUG=1")
	getToken(t, env, tokenArgs...)
	path, _ := onlyEntry(t, sb.cacheDir)
	writeFile(t, path, "\x00garbage{\"token\":")

	stdout, stderr, code := runEkstoken(t, env, tokenArgs...)
	if code != 0 {
		t.Fatalf("exit %d with a corrupt entry:\n%s", code, stderr)
	}
	tok := parseCredential(t, stdout, v1beta1).Status.Token
	mustVerify(t, s, tok)
	if !strings.Contains(stderr, "cache miss") {
		t.Errorf("the corrupt entry was not a miss:\n%s", stderr)
	}
	if _, repaired := onlyEntry(t, sb.cacheDir); repaired != tok {
		t.Errorf("the entry was not repaired with the new token")
	}
	stdout, stderr, _ = runEkstoken(t, env, tokenArgs...)
	if got := parseCredential(t, stdout, v1beta1).Status.Token; got != tok || !strings.Contains(stderr, "cache hit") {
		t.Errorf("the repaired entry was not served:\n%s", stderr)
	}
}

// An entry that is a symlink is neither read through nor written through:
// whatever it points to stays as it was, and the entry becomes a file.
func TestSymlinkedEntryIsNotFollowed(t *testing.T) {
	t.Parallel()
	s := startEKS(t, nil)
	sb := newSandbox(t)
	env := sb.withKeys("EKSTOKEN_DEBUG=1")
	getToken(t, env, tokenArgs...)
	path, _ := onlyEntry(t, sb.cacheDir)

	// The target holds a fresh, valid entry: following the link to read
	// would serve it as a hit.
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, string(content))
	before, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runEkstoken(t, env, tokenArgs...)
	if code != 0 {
		t.Fatalf("exit %d with a symlinked entry:\n%s", code, stderr)
	}
	tok := parseCredential(t, stdout, v1beta1).Status.Token
	mustVerify(t, s, tok)
	if strings.Contains(stderr, "cache hit") || !strings.Contains(stderr, "cache miss") {
		t.Errorf("the symlinked entry was read as a hit:\n%s", stderr)
	}
	after, err := os.Stat(target)
	if err != nil {
		t.Fatalf("the target is gone: %v", err)
	}
	if now, _ := os.ReadFile(target); !bytes.Equal(now, content) || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the symlink's target was written through")
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the entry is not a regular file after the refresh: %v", err)
	}
	if _, cached := onlyEntry(t, sb.cacheDir); cached != tok {
		t.Errorf("the entry does not hold the new token")
	}
}

// Debug output goes to stderr only, and holds neither the token, nor its
// signature, nor the secret key, on any path through the program.
func TestDebugNeverLeaks(t *testing.T) {
	t.Parallel()
	s := startEKS(t, nil)
	sb := newSandbox(t)
	env := sb.withKeys()
	for _, extra := range [][]string{
		{"--debug"},                    // miss: signs and caches
		{"--debug"},                    // hit
		{"--debug", "--force-refresh"}, // refresh past a hit
		{"--debug", "--no-cache"},
		{},
	} {
		args := slices.Concat(tokenArgs, extra)
		stdout, stderr, code := runEkstoken(t, env, args...)
		if code != 0 {
			t.Fatalf("ekstoken %v: exit %d\n%s", args, code, stderr)
		}
		tok := parseCredential(t, stdout, v1beta1).Status.Token
		mustVerify(t, s, tok)
		if len(extra) > 0 && stderr == "" {
			t.Errorf("ekstoken %v: no debug output", args)
		}
		if len(extra) == 0 && stderr != "" {
			t.Errorf("ekstoken %v: stderr without --debug: %q", args, stderr)
		}
		sig := presignedURL(t, tok).Query().Get("X-Amz-Signature")
		for what, secret := range map[string]string{"token": tok, "signature": sig, "secret key": secretKey} {
			if secret == "" || strings.Contains(stderr, secret) {
				t.Errorf("ekstoken %v: stderr holds the %s:\n%s", args, what, stderr)
			}
		}
	}
}

// EKS_TOKEN_DEBUG=1, the variable the blog's script read, explains a miss
// and then a hit.
func TestDebugMissThenHit(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	env := sb.withKeys("EKS_TOKEN_DEBUG=1")
	var tokens []string
	for i, want := range []string{"cache miss", "cache hit"} {
		stdout, stderr, code := runEkstoken(t, env, tokenArgs...)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
		}
		tokens = append(tokens, parseCredential(t, stdout, v1beta1).Status.Token)
		if !strings.Contains(stderr, want) {
			t.Errorf("run %d: stderr does not say %q:\n%s", i+1, want, stderr)
		}
		if i == 0 {
			nextSecond(t, tokens[0]) // a new signature from here on
		} else if strings.Contains(stderr, "cache miss") {
			t.Errorf("run 2 missed:\n%s", stderr)
		}
	}
	if tokens[0] != tokens[1] {
		t.Error("the hit served another token than the miss signed")
	}
}
