// Package e2e runs the built ekstoken binary the way kubectl and client-go
// do, against fakeeks: a local EKS-like API server that checks tokens as
// EKS and STS would. Nothing here reaches AWS: every subprocess gets an
// environment built from scratch, with EC2 instance metadata disabled, and
// every server listens on 127.0.0.1.
package e2e

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/google/go-cmp/cmp"
)

const (
	clusterName = "e2e-cluster"
	region      = "us-west-2"
	accessKeyID = "AKIDEXAMPLE"
	secretKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	aliceARN    = "arn:aws:iam::111122223333:user/alice"

	v1      = "client.authentication.k8s.io/v1"
	v1beta1 = "client.authentication.k8s.io/v1beta1"
)

var (
	// tokenArgs is the native form; dropInArgs is exactly what
	// `aws eks update-kubeconfig` writes, with ekstoken as the command.
	tokenArgs  = []string{"token", "--cluster-name", clusterName, "--region", region}
	dropInArgs = []string{"--region", region, "eks", "get-token", "--cluster-name", clusterName, "--output", "json"}
)

// ekstokenBin is the binary under test, built once by TestMain.
var ekstokenBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("test/e2e: skipped under -short (builds the binary, runs kubectl, client-go and moto_server)")
		return 0
	}
	dir, err := os.MkdirTemp("", "ekstoken-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer stopMoto()
	if ekstokenBin, err = devbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// sandbox is a private HOME and token cache, and the whole environment of
// the processes run in it (internal/testenv/sandbox: nothing inherited
// but PATH, instance metadata off, proxies at an egress trap that fails
// the test).
type sandbox struct {
	*harness.Sandbox
	home     string
	cacheDir string
	env      []string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	home := t.TempDir()
	hs := harness.New(t, harness.Options{Home: home, CacheDir: filepath.Join(home, "ekstoken-cache")})
	return &sandbox{Sandbox: hs, home: hs.Home, cacheDir: hs.CacheDir, env: hs.Env()}
}

// with returns the sandbox's environment plus kv ("K=V"); a later entry
// wins over an earlier one with the same key, as in os/exec.
func (sb *sandbox) with(kv ...string) []string {
	return harness.With(sb.env, kv...)
}

// withKeys is the sandbox's environment with alice's long-term keys.
func (sb *sandbox) withKeys(kv ...string) []string {
	return sb.with(append([]string{"AWS_ACCESS_KEY_ID=" + accessKeyID, "AWS_SECRET_ACCESS_KEY=" + secretKey}, kv...)...)
}

// result is how a process ended.
type result struct {
	stdout, stderr string
	err            error
}

// code is the exit code, or -1 when the process did not run to its end.
func (r result) code() int { return harness.Result{Err: r.err}.Code() }

// command prepares name to run with exactly env, which the harness's
// guard must accept. The returned function runs it to its end and may be
// called from any goroutine; a process still running after the harness's
// timeout, or when the test ends, is killed.
func command(t *testing.T, env []string, name string, args ...string) func() result {
	t.Helper()
	run := harness.Proc{Env: env}.Prepare(t, name, args...)
	return func() result {
		r := run()
		return result{r.Stdout, r.Stderr, r.Err}
	}
}

// harnessRun runs name with exactly env, in dir, to its end.
func harnessRun(t *testing.T, env []string, dir, name string, args ...string) result {
	t.Helper()
	r := harness.Proc{Env: env, Dir: dir}.Run(t, name, args...)
	return result{r.Stdout, r.Stderr, r.Err}
}

// envValue is the value a process started with env sees for key.
func envValue(env []string, key string) string { return harness.Value(env, key) }

// runParallel starts n copies of one command at once and waits for all.
func runParallel(t *testing.T, n int, env []string, name string, args ...string) []result {
	t.Helper()
	cmd := command(t, env, name, args...)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = cmd() })
	}
	wg.Wait()
	return results
}

// runEkstoken runs the binary under test and returns its exit code.
func runEkstoken(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := command(t, env, ekstokenBin, args...)()
	if r.code() < 0 {
		t.Fatalf("ekstoken %v: %v", args, r.err)
	}
	return r.stdout, r.stderr, r.code()
}

// kubectlPath finds the real kubectl, not the Google Cloud SDK's
// dispatcher in front of it (which runs the plugin twice per command);
// CI must have it.
func kubectlPath(t *testing.T) string { return testenv.PlainKubectl(t) }

// requireTool finds a tool on PATH; testenv decides what a missing one
// does to the test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return testenv.RequireTool(t, name)
}

// kubectl runs `kubectl --kubeconfig kubeconfig --context context args...`.
func kubectl(t *testing.T, env []string, kubeconfig, context string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	r := command(t, env, kubectlPath(t), append([]string{"--kubeconfig", kubeconfig, "--context", context}, args...)...)()
	return r.stdout, r.stderr, r.err
}

// startEKS starts fakeeks for clusterName, knowing alice's keys.
func startEKS(t *testing.T, now func() time.Time) *fakeeks.Server {
	t.Helper()
	s, err := fakeeks.Start(fakeeks.Options{
		ClusterID:  clusterName,
		Identities: []fakeeks.Identity{{AccessKeyID: accessKeyID, SecretAccessKey: secretKey, ARN: aliceARN}},
		Now:        now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// execUser is a kubeconfig user that runs ekstoken with args.
func execUser(name, apiVersion string, args ...string) fakeeks.User {
	return fakeeks.User{Name: name, Command: ekstokenBin, Args: args, APIVersion: apiVersion, InteractiveMode: "Never"}
}

// writeKubeconfig writes a kubeconfig with a context per user, named as
// the user, and returns its path.
func writeKubeconfig(t *testing.T, s *fakeeks.Server, users ...fakeeks.User) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, s.Kubeconfig(users...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// execCredential is what kubectl reads from the plugin's stdout.
type execCredential = harness.Credential

// parseCredential checks that stdout is one ExecCredential of apiVersion on
// one line, and nothing else, and returns it.
func parseCredential(t *testing.T, stdout, apiVersion string) execCredential {
	t.Helper()
	c, err := harness.ParseCredential(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIVersion != apiVersion {
		t.Fatalf("ExecCredential apiVersion %s, want %s", c.APIVersion, apiVersion)
	}
	if d := time.Until(c.Status.ExpirationTimestamp); d < 10*time.Minute || d > 15*time.Minute {
		t.Errorf("expirationTimestamp %v is %v away, want 10m to 15m", c.Status.ExpirationTimestamp, d)
	}
	return c
}

// getToken runs ekstoken, which must succeed, and returns the token after
// checking its ExecCredential.
func getToken(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, code := runEkstoken(t, env, args...)
	if code != 0 {
		t.Fatalf("ekstoken %v: exit %d\n%s", args, code, stderr)
	}
	return parseCredential(t, stdout, v1beta1).Status.Token
}

// mustVerify checks that fakeeks accepts tok as alice.
func mustVerify(t *testing.T, s *fakeeks.Server, tok string) {
	t.Helper()
	c, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("fakeeks rejects the token: %v", err)
	}
	if c.Username != aliceARN {
		t.Fatalf("token authenticates %s, want %s", c.Username, aliceARN)
	}
}

// presignedURL decodes a token into its presigned STS URL.
func presignedURL(t *testing.T, tok string) *url.URL {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "k8s-aws-v1."))
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// cacheEntry is the part of a cache entry the tests look at.
type cacheEntry struct {
	Token string `json:"token"`
}

// tokenEntries checks the cache directory's permissions, that every file in
// it (token entries, cached credentials, locks) is private and that no
// temporary file is left, and returns the paths of its token entries.
func tokenEntries(t *testing.T, dir string) []string {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("cache directory %s has mode %v, want 0700", dir, st.Mode().Perm())
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch name := de.Name(); {
		case !info.Mode().IsRegular():
			t.Errorf("cache file %s is not a regular file: %v", name, info.Mode())
		case info.Mode().Perm() != 0o600:
			t.Errorf("cache file %s has mode %v, want 0600", name, info.Mode().Perm())
		case strings.HasSuffix(name, ".tmp"):
			t.Errorf("temporary file %s left in the cache", name)
		case strings.HasPrefix(name, "token-") && strings.HasSuffix(name, ".json"):
			entries = append(entries, filepath.Join(dir, name))
		}
	}
	return entries
}

// onlyEntry checks that dir holds exactly one token entry and returns its
// path and token.
func onlyEntry(t *testing.T, dir string) (path, token string) {
	t.Helper()
	entries := tokenEntries(t, dir)
	if len(entries) != 1 {
		t.Fatalf("cache %s holds %d token entries, want 1: %v", dir, len(entries), entries)
	}
	b, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("cache entry %s: %v", entries[0], err)
	}
	return entries[0], e.Token
}

// checkStats checks what fakeeks has seen: some requests authenticated, all
// as alice, and the given numbers of rejections and distinct tokens.
func checkStats(t *testing.T, s *fakeeks.Server, rejected, distinctTokens int) fakeeks.Stats {
	t.Helper()
	type counts struct {
		SomeAuthenticated        bool
		NotAlice                 int
		Rejected, DistinctTokens int
	}
	st := s.Stats()
	got := counts{st.Authenticated > 0, st.Authenticated - st.ByAccessKeyID[accessKeyID], st.Rejected, st.DistinctTokens}
	want := counts{distinctTokens > 0, 0, rejected, distinctTokens}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fakeeks stats (-want +got):\n%s\nlast rejection: %s", diff, st.LastRejectReason)
	}
	return st
}

// nextSecond waits until tok's signing second has passed. Tokens signed in
// the same second with the same keys are identical, so only a token that
// comes back after this shows that it came from the cache.
func nextSecond(t *testing.T, tok string) {
	t.Helper()
	signed, err := time.Parse("20060102T150405Z", presignedURL(t, tok).Query().Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("token has no X-Amz-Date: %v", err)
	}
	time.Sleep(time.Until(signed.Add(time.Second)))
}
