package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"

	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

// built is the binary the tests run, built once for the package.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	if plugin.dir != "" {
		os.RemoveAll(plugin.dir)
	}
	os.Exit(code)
}

// build compiles ekstoken, static as it ships, once for the package.
func build(t *testing.T) string {
	t.Helper()
	testenv.SkipIfShort(t, "builds the binary")
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "ekstoken-main-"); built.err == nil {
			built.bin, built.err = devbin.Build(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// keysEnv is a sandbox (internal/testenv/sandbox: a private HOME, nothing
// inherited but PATH, an egress trap) with keys in the environment.
func keysEnv(t *testing.T) (home string, env []string) {
	t.Helper()
	sb := harness.New(t, harness.Options{})
	env = sb.Env("AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret")
	if err := harness.CheckEnv(env); err != nil {
		t.Fatal(err)
	}
	return sb.Home, env
}

// initTrace runs ekstoken with GODEBUG=inittrace=1 and returns stdout and
// the packages whose init ran.
func initTrace(t *testing.T, bin string, env []string, args ...string) (string, []string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(env, "GODEBUG=inittrace=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ekstoken %v: %v\n%s", args, err, stderr.String())
	}
	var inits []string
	for _, m := range regexp.MustCompile(`(?m)^init (\S+) @`).FindAllStringSubmatch(stderr.String(), -1) {
		inits = append(inits, m[1])
	}
	return stdout.String(), inits
}

// The cache hit must be answered before the AWS SDK and cobra initialize:
// their init alone costs more than the whole hit (see internal/fastpath).
// A new import in the hit path's packages that drags them in fails here.
func TestHitSkipsSDKInit(t *testing.T) {
	bin := build(t)
	_, env := keysEnv(t)
	args := []string{"token", "--cluster-name", "prod", "--region", "eu-west-1"}
	// Of the SDK, only two trivial packages (internal/sdk and
	// internal/timeouts: a few allocations) sort before the hit path and
	// need nothing it does not; no other SDK or cobra package may
	// initialize before a hit is served.
	missOut, missInits := initTrace(t, bin, env, args...)
	if !anyMatch(heavy, missInits) {
		t.Fatalf("the miss ran no SDK init; the trace is not what this test expects: %v", missInits)
	}
	hitOut, hitInits := initTrace(t, bin, env, args...)
	checkLightHit(t, hitInits)
	var miss, hit struct{ Status struct{ Token string } }
	if err := json.Unmarshal([]byte(missOut), &miss); err != nil {
		t.Fatalf("miss stdout: %v: %q", err, missOut)
	}
	if err := json.Unmarshal([]byte(hitOut), &hit); err != nil {
		t.Fatalf("hit stdout: %v: %q", err, hitOut)
	}
	if hit.Status.Token != miss.Status.Token || !strings.HasPrefix(hit.Status.Token, "k8s-aws-v1.") {
		t.Errorf("the hit printed another token than the miss cached")
	}
}

// heavy are the packages whose init a hit must not wait for; allowed
// are the two trivial SDK packages that sort before the hit path.
var (
	heavy   = regexp.MustCompile(`^(github\.com/(aws/|spf13/)|net/http$|crypto/tls$)`)
	allowed = regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/internal/(sdk|timeouts)$`)
)

// checkLightHit fails when a hit waited for a heavy package's init.
func checkLightHit(t *testing.T, hitInits []string) {
	t.Helper()
	for _, p := range hitInits {
		if heavy.MatchString(p) && !allowed.MatchString(p) {
			t.Errorf("the hit ran the init of %s", p)
		}
	}
	// Nor may the standard library's heavy packages: the hit path waits on
	// none of them, so it is answered right after package os. Those that
	// still run first are a handful of cheap ones that sort before
	// github.com and need only what os needs (the runtime's, errors, sync,
	// time, encoding/base64, hash/crc*, context, crypto's CPU flags).
	stdHeavy := regexp.MustCompile(`^(unicode|reflect|fmt|strings|encoding/(json|xml|hex)|compress/|flag$|log|regexp|crypto/(sha|md5|ecdsa|ed25519|rsa|tls|x509|internal/fips140/)|net/)`)
	for _, p := range hitInits {
		if stdHeavy.MatchString(p) {
			t.Errorf("the hit waited for the init of %s", p)
		}
	}
	const maxInits = 30 // 23 with Go 1.26
	if len(hitInits) > maxInits {
		t.Errorf("%d packages initialized before the hit was answered, more than %d: %v", len(hitInits), maxInits, hitInits)
	}
}

func anyMatch(re *regexp.Regexp, ss []string) bool {
	for _, s := range ss {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// The binary must not link clients whose package init would run on every
// start: service/eks (see internal/eksapi) and client-go (tests only).
func TestBinaryLinksNoHeavyClients(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/eks") || strings.HasPrefix(pkg, "k8s.io/") {
			t.Errorf("the binary links %s", pkg)
		}
	}
}

// Go initializes packages in import-path order, each as soon as its imports
// are done. The hit is answered before the SDK's packages only because this
// module's path sorts before net/, which they wait on (through net/http):
// moved to a path after it, the hit would run last. See
// cmd/ekstoken/internal/hit.
func TestModulePathSortsFirst(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "./internal/hit").Output()
	if err != nil {
		t.Fatal(err)
	}
	hit := strings.TrimSpace(string(out))
	for _, later := range []string{"net/", "net/http", "github.com/spf13/cobra"} {
		if hit >= later {
			t.Errorf("the hit's package %s does not sort before %s", hit, later)
		}
	}
}

// A miss writes its token entry without a sync: a token lost to a power cut
// is only a miss, and a sync costs about a millisecond of every miss.
func TestMissDoesNotSyncTokenEntry(t *testing.T) {
	bin := build(t) // skips under -short
	strace := testenv.RequireStrace(t)
	home, env := keysEnv(t)
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-o", trace, "-e", "trace=fsync,fdatasync,sync_file_range,syncfs",
		bin, "token", "--cluster-name", "prod", "--region", "eu-west-1")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "sync") {
		t.Errorf("the miss synced a file:\n%s", b)
	}
	entries, _ := filepath.Glob(filepath.Join(home, ".kube", "cache", "ekstoken", "token-*.json"))
	if len(entries) != 1 {
		t.Errorf("token entries written: %v, want one", entries)
	}
}

// A hit reads its files as plain blocking files: a non-blocking os.File
// joins the runtime's network poller, which costs an epoll instance, an
// eventfd and a thread, and a hit writes nothing but its answer.
func TestHitStaysOffThePoller(t *testing.T) {
	bin := build(t) // skips under -short
	strace := testenv.RequireStrace(t)
	_, env := keysEnv(t)
	args := []string{"token", "--cluster-name", "prod", "--region", "eu-west-1"}
	miss := exec.Command(bin, args...)
	miss.Env = env
	if out, err := miss.CombinedOutput(); err != nil {
		t.Fatalf("miss: %v\n%s", err, out)
	}
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, append([]string{"-f", "-o", trace, "-e", "trace=epoll_create,epoll_create1,eventfd2,write,pwrite64,openat", bin}, args...)...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hit: %v", err)
	}
	if !strings.Contains(string(out), `"kind":"ExecCredential"`) {
		t.Fatalf("hit printed %q", out)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(line, "epoll_create"), strings.Contains(line, "eventfd"):
			t.Errorf("the hit set up the network poller: %s", line)
		case strings.Contains(line, "write(") && !strings.Contains(line, "write(1,"):
			t.Errorf("the hit wrote something besides its answer: %s", line)
		case strings.Contains(line, "openat(") && strings.Contains(line, "O_CREAT"):
			t.Errorf("the hit created a file: %s", line)
		}
	}
}
