// Package sandbox is the one harness of the end-to-end suites (test/e2e,
// test/logins, test/crash, test/newcomer): a private HOME with an
// environment built from scratch, a guard that refuses to start a process
// whose environment could reach AWS, an egress trap that fails the test
// when a request tries to leave 127.0.0.1 anyway, a runner with a timeout,
// and a strict reader of the ExecCredential a plugin prints.
//
// What a test does about a missing tool stays in internal/testenv.
package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// Sandbox is a private HOME and the whole environment of the processes a
// test runs in it: nothing is inherited but PATH (and pyenv's variables,
// which its shims need to find the aws CLI and moto_server).
type Sandbox struct {
	// Home is the sandbox's HOME, a fresh directory.
	Home string
	// ConfigFile and CredentialsFile are the AWS shared files, named by
	// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE; neither exists until
	// the test writes it.
	ConfigFile, CredentialsFile string
	// Bin is first on PATH, for the fake commands a test writes.
	Bin string
	// CacheDir is ekstoken's token cache: Options.CacheDir, else the
	// default, ~/.kube/cache/ekstoken.
	CacheDir string
	// Trap is the HTTP(S)_PROXY of every process of the sandbox.
	Trap *Trap

	base []string
}

// Options change what New makes.
type Options struct {
	// Home is used as HOME instead of a new t.TempDir().
	Home string
	// CacheDir, when set, is passed as EKSTOKEN_CACHE_DIR.
	CacheDir string
}

// New makes a sandbox with its own egress trap; the test fails when the
// trap has seen a request by the time the test ends.
func New(t testing.TB, o Options) *Sandbox {
	t.Helper()
	home := o.Home
	if home == "" {
		home = t.TempDir()
	}
	sb := &Sandbox{
		Home:            home,
		ConfigFile:      filepath.Join(home, ".aws", "config"),
		CredentialsFile: filepath.Join(home, ".aws", "credentials"),
		Bin:             filepath.Join(home, "bin"),
		CacheDir:        cmpOr(o.CacheDir, filepath.Join(home, ".kube", "cache", "ekstoken")),
		Trap:            StartTrap(t),
	}
	for _, d := range []string{filepath.Dir(sb.ConfigFile), sb.Bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sb.base = []string{
		"HOME=" + home,
		"PATH=" + sb.Bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + sb.ConfigFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + sb.CredentialsFile,
	}
	sb.base = append(sb.base, sb.Trap.Env()...)
	if o.CacheDir != "" {
		sb.base = append(sb.base, "EKSTOKEN_CACHE_DIR="+o.CacheDir)
	}
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			sb.base = append(sb.base, k+"="+v)
		}
	}
	// Registered after the home's TempDir, so it runs before its removal.
	t.Cleanup(func() { sb.WaitBackground(t) })
	return sb
}

// WaitBackground waits until no background refresh runs in the sandbox's
// cache: a hit in its token's refresh-ahead window starts one, detached,
// which holds its identity's lock until it ends. The test's directories
// must outlive it, and the test must not end with a process of its own
// still running.
func (sb *Sandbox) WaitBackground(t testing.TB) {
	t.Helper()
	locks, _ := filepath.Glob(filepath.Join(sb.CacheDir, "*.lock"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, path := range locks {
		fl := flock.New(path, flock.SetFlag(os.O_RDWR))
		ok, err := fl.TryLockContext(ctx, 10*time.Millisecond)
		if err != nil || !ok {
			t.Errorf("a background refresh still holds %s: %v", path, err)
			continue
		}
		_ = fl.Unlock()
	}
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// Env is the sandbox's environment with kv ("K=V") set: a key given again
// replaces the earlier value, and "K=" sets K to the empty string (the aws
// CLI's AWS_PAGER= turns its pager off).
func (sb *Sandbox) Env(kv ...string) []string {
	return With(sb.base, kv...)
}

// With is env with kv set, one entry per key, as Sandbox.Env.
func With(env []string, kv ...string) []string {
	out := slices.Clone(env)
	for _, e := range kv {
		k, _, _ := strings.Cut(e, "=")
		out = slices.DeleteFunc(out, func(x string) bool { return strings.HasPrefix(x, k+"=") })
		out = append(out, e)
	}
	return out
}

// Without is env without the given keys.
func Without(env []string, keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(x string) bool {
		k, _, _ := strings.Cut(x, "=")
		return slices.Contains(keys, k)
	})
}

// Value is the value a process started with env sees for key.
func Value(env []string, key string) string {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// WriteFile writes a file under the sandbox's HOME (rel is relative to
// it), creating its directories 0700, and returns its path.
func (sb *Sandbox) WriteFile(t testing.TB, rel, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(sb.Home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// Script writes an executable shell script to the sandbox's Bin and
// returns its path.
func (sb *Sandbox) Script(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(sb.Bin, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// ---- the guard ----

// allowedAWS are the only AWS_ variables a test may hand a process:
// files, keys, profiles and the variables of the ways to log in that the
// suites fake on 127.0.0.1.
var allowedAWS = []string{
	"AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_PAGER",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
}

// localAWS are the AWS_ variables that name an endpoint: allowed only on
// 127.0.0.1.
var localAWS = []string{
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_EKS", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
}

// CheckEnv says why env could let a process reach AWS or the person's own
// files, or nil: it must have a HOME other than the real one, the egress
// trap as its proxy for both schemes, instance metadata disabled or on
// 127.0.0.1, only known AWS_ variables, and every endpoint on 127.0.0.1.
func CheckEnv(env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v // the last one wins, as in os/exec
	}
	var problems []string
	for k, v := range vars {
		switch {
		case slices.Contains(localAWS, k) || strings.HasPrefix(k, "AWS_ENDPOINT_URL"):
			if !onLoopback(v) {
				problems = append(problems, fmt.Sprintf("%s=%s is not on 127.0.0.1", k, v))
			}
		case strings.HasPrefix(k, "AWS_") && !slices.Contains(allowedAWS, k):
			problems = append(problems, k+" is not a variable the tests set on purpose")
		}
	}
	if vars["AWS_EC2_METADATA_DISABLED"] != "true" && vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "" {
		problems = append(problems, "instance metadata is neither disabled (AWS_EC2_METADATA_DISABLED=true) nor on 127.0.0.1")
	}
	if home, real := vars["HOME"], os.Getenv("HOME"); home == "" || (real != "" && filepath.Clean(home) == filepath.Clean(real)) {
		problems = append(problems, fmt.Sprintf("HOME=%q is not a sandbox", home))
	}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if !isTrap(vars[k]) {
			problems = append(problems, fmt.Sprintf("%s=%q is not an egress trap", k, vars[k]))
		}
	}
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		for h := range strings.SplitSeq(vars[k], ",") {
			if h = strings.TrimSpace(h); h != "" && h != "127.0.0.1" && h != "localhost" {
				problems = append(problems, fmt.Sprintf("%s lets %s past the egress trap", k, h))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return errors.New("refusing to start a process: " + strings.Join(problems, "; "))
}

func onLoopback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "127.0.0.1" && u.Port() != ""
}

// ---- the egress trap ----

// trapMarker is in the path of every trap's URL, so that the guard knows
// a trap from any other proxy on 127.0.0.1.
const trapMarker = "/ekstoken-egress-trap"

func isTrap(v string) bool { return onLoopback(v) && strings.HasSuffix(v, trapMarker) }

// Trap is an HTTP proxy on 127.0.0.1 that forwards nothing: every request
// it receives is one that would have left the machine. Go, Python and
// kubectl leave loopback addresses alone (NO_PROXY says so for Python), so
// the fakes and moto_server on 127.0.0.1 are reached directly.
type Trap struct {
	url string
	srv *http.Server
	mu  sync.Mutex
	got []string
}

// StartTrap starts a trap; the test fails if it has seen any request by
// the time the test ends.
func StartTrap(t testing.TB) *Trap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &Trap{url: "http://" + l.Addr().String() + trapMarker}
	tr.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.got = append(tr.got, r.Method+" "+r.Host)
		tr.mu.Unlock()
		http.Error(w, "ekstoken test: no egress", http.StatusForbidden)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = tr.srv.Serve(l) }()
	t.Cleanup(func() {
		_ = tr.srv.Close()
		if got := tr.Seen(); len(got) > 0 {
			t.Errorf("a process tried to leave 127.0.0.1 (the egress trap caught %v)", got)
		}
	})
	return tr
}

// URL is the trap as a proxy URL.
func (tr *Trap) URL() string { return tr.url }

// Env is what points a process's proxies at the trap.
func (tr *Trap) Env() []string {
	return []string{
		"HTTP_PROXY=" + tr.url, "HTTPS_PROXY=" + tr.url, "http_proxy=" + tr.url, "https_proxy=" + tr.url,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}
}

// Seen lists the requests the trap caught ("METHOD host").
func (tr *Trap) Seen() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.got)
}

// ---- the runner ----

// Timeout is how long one process may run before it is killed, unless
// Proc.Timeout says otherwise.
const Timeout = 30 * time.Second

// Proc is how to run a process: exactly Env (which must pass CheckEnv),
// in Dir, with Stdin (nil: /dev/null, as kubectl gives a plugin with no
// terminal), killed after Timeout (0: the package's Timeout).
type Proc struct {
	Env     []string
	Dir     string
	Stdin   io.Reader
	Timeout time.Duration
}

// Result is how a process ended.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Code is the exit code, or -1 when the process did not run to its end
// (not started, killed, timed out).
func (r Result) Code() int {
	var exit *exec.ExitError
	switch {
	case r.Err == nil:
		return 0
	case errors.As(r.Err, &exit) && exit.Exited():
		return exit.ExitCode()
	}
	return -1
}

// Prepare checks p.Env and returns a function that runs name to its end;
// it may be called from any goroutine, more than once. A process still
// running after Timeout, or when the test ends, is killed.
func (p Proc) Prepare(t testing.TB, name string, args ...string) func() Result {
	t.Helper()
	if err := CheckEnv(p.Env); err != nil {
		t.Fatal(err)
	}
	env := slices.Clone(p.Env)
	timeout := cmpOr(p.Timeout, Timeout)
	ctx := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		ctx = c.Context()
	}
	return func() Result {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Dir, cmd.Stdin = env, p.Dir, p.Stdin
		cmd.WaitDelay = time.Second
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return Result{out.String(), errOut.String(), err}
	}
}

// Run runs name to its end; see Prepare.
func (p Proc) Run(t testing.TB, name string, args ...string) Result {
	t.Helper()
	return p.Prepare(t, name, args...)()
}

// MustExit runs name and fails the test unless it ran to an exit (of any
// code); it returns the result.
func (p Proc) MustExit(t testing.TB, name string, args ...string) Result {
	t.Helper()
	r := p.Run(t, name, args...)
	if r.Code() < 0 {
		t.Fatalf("%s %v: %v\nstderr: %s", filepath.Base(name), args, r.Err, r.Stderr)
	}
	return r
}

// ---- the credential ----

// Credential is the ExecCredential a plugin prints for kubectl.
type Credential struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Spec       struct{} `json:"spec"`
	Status     struct {
		ExpirationTimestamp time.Time `json:"expirationTimestamp"`
		Token               string    `json:"token"`
	} `json:"status"`
}

// APIVersions are the ExecCredential versions kubectl reads.
var APIVersions = []string{"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}

// ParseCredential reads stdout as kubectl would, strictly: exactly one
// line holding one JSON object and nothing else, with no field kubectl
// does not know, kind ExecCredential, a version kubectl reads, an EKS
// token and an expiry.
func ParseCredential(stdout string) (Credential, error) {
	var c Credential
	line, rest, _ := strings.Cut(stdout, "\n")
	if rest != "" || !strings.HasSuffix(stdout, "\n") || !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
		return c, fmt.Errorf("stdout is not one JSON object on one line: %q", stdout)
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("stdout is not an ExecCredential: %w: %q", err, stdout)
	}
	if dec.More() {
		return c, fmt.Errorf("stdout holds more than one JSON value: %q", stdout)
	}
	switch {
	case c.Kind != "ExecCredential":
		return c, fmt.Errorf("kind %q, want ExecCredential: %q", c.Kind, stdout)
	case !slices.Contains(APIVersions, c.APIVersion):
		return c, fmt.Errorf("apiVersion %q is none kubectl reads: %q", c.APIVersion, stdout)
	case !strings.HasPrefix(c.Status.Token, "k8s-aws-v1."):
		return c, fmt.Errorf("token is not a k8s-aws-v1. token: %q", stdout)
	case c.Status.ExpirationTimestamp.IsZero():
		return c, fmt.Errorf("no expirationTimestamp: %q", stdout)
	}
	return c, nil
}
