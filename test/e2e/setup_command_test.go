package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// The newcomer's path: a fresh `go install` does not put GOBIN on PATH, so
// setup runs by full path, in a shell where `ekstoken` is not found.
// setup must then write a command kubectl can run, say why on stderr, and
// kubectl (with the same PATH) must get its token.
func TestSetupWithoutEkstokenOnPath(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	s := startSetupEKS(t)
	sb, _ := setupSandbox(t)
	// Other names on PATH must not matter: an unrelated binary and a dir.
	decoy := t.TempDir()
	writeFile(t, filepath.Join(decoy, "ekstoken-old"), "#!/bin/sh\nexit 1\n")
	env := sb.with(isolatedPath(t, decoy, kubectlDir(t)))
	kc := filepath.Join(t.TempDir(), "config")
	writeFile(t, kc, awsKubeconfig(s.URL, s.CAData, "", ""))

	r := mustEkstoken(t, env, "setup", "--kubeconfig", kc)
	got := parseKubeconfig(t, readFile(t, kc)).exec(t, eksARN)
	if !filepath.IsAbs(got.Command) || !sameFile(t, got.Command, ekstokenBin) {
		t.Errorf("setup without ekstoken on PATH wrote command %q, want the full path of %s", got.Command, ekstokenBin)
	}
	if !strings.Contains(r.stderr, "not on PATH") || !strings.Contains(r.stderr, got.Command) {
		t.Errorf("setup does not say why it wrote the full path:\n%s", r.stderr)
	}
	if ok, stderr := getNamespaces(t, env, kc, eksARN); !ok {
		t.Errorf("kubectl after setup without ekstoken on PATH: %s", stderr)
	}
	checkStats(t, s, 0, 1)
}

// Another ekstoken on PATH (an old install) is not this binary: setup
// writes this one's path rather than let kubectl run the other.
func TestSetupOtherEkstokenOnPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script stand-in")
	}
	t.Parallel()
	kubectlPath(t)
	s := startSetupEKS(t)
	sb, _ := setupSandbox(t)
	old := t.TempDir()
	writeFile(t, filepath.Join(old, "ekstoken"), "#!/bin/sh\necho old ekstoken >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(old, "ekstoken"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := sb.with(isolatedPath(t, old, kubectlDir(t)))
	kc := filepath.Join(t.TempDir(), "config")
	writeFile(t, kc, awsKubeconfig(s.URL, s.CAData, "", ""))

	r := mustEkstoken(t, env, "setup", "--kubeconfig", kc)
	got := parseKubeconfig(t, readFile(t, kc)).exec(t, eksARN)
	if !sameFile(t, got.Command, ekstokenBin) {
		t.Errorf("setup wrote command %q, want this binary %s", got.Command, ekstokenBin)
	}
	if !strings.Contains(r.stderr, filepath.Join(old, "ekstoken")) {
		t.Errorf("setup does not name the other ekstoken on PATH:\n%s", r.stderr)
	}
	if ok, stderr := getNamespaces(t, env, kc, eksARN); !ok {
		t.Errorf("kubectl after setup: %s", stderr)
	}

	// --command writes what it is told, even what PATH does not resolve.
	kc2 := filepath.Join(t.TempDir(), "config")
	writeFile(t, kc2, awsKubeconfig(s.URL, s.CAData, "", ""))
	r = mustEkstoken(t, env, "setup", "--kubeconfig", kc2, "--command", "ekstoken")
	if got := parseKubeconfig(t, readFile(t, kc2)).exec(t, eksARN); got.Command != "ekstoken" {
		t.Errorf("setup --command ekstoken wrote %q", got.Command)
	}
	if strings.Contains(r.stderr, "not this binary") {
		t.Errorf("setup --command still warns:\n%s", r.stderr)
	}
}

// --absolute on a machine where PATH reaches ekstoken through a symlink
// (Homebrew's bin, a nix profile) writes the symlink PATH names, which
// survives upgrades, not the versioned file it resolves to.
func TestSetupAbsoluteKeepsPathEntry(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	t.Parallel()
	kubectlPath(t)
	s := startSetupEKS(t)
	sb, _ := setupSandbox(t)
	// cellar/<version>/ekstoken is the real file; bin/ekstoken links to it.
	cellar := filepath.Join(t.TempDir(), "Cellar", "ekstoken", "0.9.1", "bin")
	if err := os.MkdirAll(cellar, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(cellar, "ekstoken")
	if err := os.Link(ekstokenBin, real); err != nil {
		copyFile(t, ekstokenBin, real)
	}
	bin := t.TempDir()
	link := filepath.Join(bin, "ekstoken")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	env := sb.with(isolatedPath(t, bin, kubectlDir(t)))
	for _, args := range [][]string{{"--absolute"}, {}} {
		kc := filepath.Join(t.TempDir(), "config")
		writeFile(t, kc, awsKubeconfig(s.URL, s.CAData, "", ""))
		// Run through the link, as a shell would.
		r := run(t, env, link, slices.Concat([]string{"setup", "--kubeconfig", kc}, args)...)
		if r.code() != 0 {
			t.Fatalf("setup %q: exit %d\n%s", args, r.code(), r.stderr)
		}
		want := "ekstoken"
		if len(args) > 0 {
			want = link
		}
		if got := parseKubeconfig(t, readFile(t, kc)).exec(t, eksARN); got.Command != want {
			t.Errorf("setup %q wrote command %q, want %q", args, got.Command, want)
		}
		if strings.Contains(r.stderr, "PATH") {
			t.Errorf("setup %q warns though PATH finds this binary:\n%s", args, r.stderr)
		}
		if ok, stderr := getNamespaces(t, env, kc, eksARN); !ok {
			t.Errorf("kubectl after setup %q: %s", args, stderr)
		}
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(sa, sb)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// eksWithRealCA is moto's EKS API behind a proxy that puts a real PEM
// certificate in every cluster's certificateAuthority.data, where moto
// puts 1,400 random characters: update-kubeconfig refuses certificate
// data that is not a certificate, as kubectl would. Both the aws CLI and
// ekstoken go through it, so they still see the same clusters.
func eksWithRealCA(t *testing.T, motoURL string) string {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	ca := base64.StdEncoding.EncodeToString(testCAPEM(t))
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		var doc map[string]any
		if json.Unmarshal(body, &doc) == nil {
			if c, ok := doc["cluster"].(map[string]any); ok {
				if _, ok := c["certificateAuthority"]; ok {
					c["certificateAuthority"] = map[string]any{"data": ca}
					if body, err = json.Marshal(doc); err != nil {
						return err
					}
				}
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

func testCAPEM(t *testing.T) []byte {
	t.Helper()
	pem, _ := testenv.CACert(t)
	return pem
}
