package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"

	"github.com/ekstoken/ekstoken/internal/testenv"
)

// build compiles ekstoken into a temp dir, static as it ships.
func build(t *testing.T) string {
	t.Helper()
	testenv.SkipIfShort(t, "builds the binary")
	bin, err := devbin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
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
	home := t.TempDir()
	env := []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
	}
	args := []string{"token", "--cluster-name", "prod", "--region", "eu-west-1"}
	// Of the SDK, only two trivial packages (internal/sdk and
	// internal/timeouts: a few allocations) sort before the hit path and
	// need nothing it does not; no other SDK or cobra package may
	// initialize before a hit is served.
	heavy := regexp.MustCompile(`^(github\.com/(aws/|spf13/)|net/http$|crypto/tls$)`)
	allowed := regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/internal/(sdk|timeouts)$`)
	missOut, missInits := initTrace(t, bin, env, args...)
	if !anyMatch(heavy, missInits) {
		t.Fatalf("the miss ran no SDK init; the trace is not what this test expects: %v", missInits)
	}
	hitOut, hitInits := initTrace(t, bin, env, args...)
	for _, p := range hitInits {
		if heavy.MatchString(p) && !allowed.MatchString(p) {
			t.Errorf("the hit ran the init of %s", p)
		}
	}
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
