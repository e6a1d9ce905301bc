//go:build winesmoke

package wine

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

type smoke struct {
	t       *testing.T
	exe     string
	dir     string
	nowFile string
	env     []string
}

// winPath is the path wine's Z: drive gives a Linux path.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

func newSmoke(t *testing.T) *smoke {
	testenv.RequireTool(t, "wine")
	testenv.RequireTool(t, "wineserver")
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX is not set: run .ci/windows, which makes the prefix and puts bcryptprimitives.dll in it")
	}
	if _, err := os.Stat(filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")); err != nil {
		t.Fatalf("the wine prefix has no bcryptprimitives.dll (Go's runtime needs its ProcessPrng): run .ci/windows: %v", err)
	}
	dir := t.TempDir()
	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "ekstoken.exe")
	// The fake clock build (tests only) reads the time from a file, so
	// that the smoke can move into the refresh-ahead window at once.
	build := exec.Command("go", "build", "-tags", "ekstoken_fakeclock", "-o", exe, "./cmd/ekstoken")
	build.Dir = root
	build.Env = append(os.Environ(), devbin.StaticEnv, "GOOS=windows", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := &smoke{t: t, exe: exe, dir: dir, nowFile: filepath.Join(dir, "now")}
	// An environment from scratch: wine's own variables, environment keys
	// (signing needs no network with them), a cache under the test's
	// directory, and proxies that lead nowhere, so that any attempt to
	// reach AWS fails the command.
	s.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"WINEPREFIX=" + prefix,
		"WINEDEBUG=-all",
		"DISPLAY=",
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + winPath(filepath.Join(dir, "no-config")),
		"AWS_SHARED_CREDENTIALS_FILE=" + winPath(filepath.Join(dir, "no-credentials")),
		"EKSTOKEN_CACHE_DIR=" + winPath(filepath.Join(dir, "cache")),
		"EKSTOKEN_FAKE_NOW_FILE=" + winPath(s.nowFile),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=",
		// No Mono or Gecko prompts, no desktop menu entries.
		"WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d",
	}
	// One wineserver for the whole smoke: without one, every run starts a
	// server and wine's services (wineboot --init), about two seconds, and
	// Debian's wineserver wrapper forces -p0 (no persistence). A cmd.exe
	// reading a pipe we hold keeps it up; the cleanup closes the pipe and
	// waits until every Windows process, background refreshes included,
	// has ended, so the test leaves nothing running.
	keeper := exec.Command("wine", "cmd.exe")
	keeper.Env = s.env
	keeper.Dir = dir
	stdin, err := keeper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := keeper.Start(); err != nil {
		t.Fatalf("wine cmd.exe: %v", err)
	}
	// Wait until cmd.exe runs, so that it, with the null device for
	// output, started the server: a server that a run with our pipes
	// starts keeps them open, and that run's Wait never ends.
	ready := filepath.Join(dir, "keeper-ready")
	if _, err := io.WriteString(stdin, "echo ready> "+winPath(ready)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("wine cmd.exe did not start within a minute")
		}
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := keeper.Wait(); err != nil {
			t.Errorf("wine cmd.exe: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		wait := exec.CommandContext(ctx, "wineserver", "-w")
		wait.Env = s.env
		if err := wait.Run(); err != nil {
			t.Errorf("wineserver -w: Windows processes still running a minute after the smoke (a background refresh that never ends, or another wine program on %s): %v", prefix, err)
		}
	})
	return s
}

func (s *smoke) setNow(now time.Time) {
	s.t.Helper()
	if err := os.WriteFile(s.nowFile, []byte(now.UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// run runs ekstoken.exe under wine and fails the test unless it exits 0.
func (s *smoke) run(args ...string) (stdout, stderr string) {
	s.t.Helper()
	defer func(start time.Time) {
		s.t.Logf("%v: ekstoken.exe %s", time.Since(start).Round(time.Millisecond), strings.Join(args, " "))
	}(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", append([]string{s.exe}, args...)...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("ekstoken.exe %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

type credential struct {
	Kind   string `json:"kind"`
	Status struct {
		Token      string    `json:"token"`
		Expiration time.Time `json:"expirationTimestamp"`
	} `json:"status"`
}

func (s *smoke) token(cluster string) credential {
	s.t.Helper()
	out, _ := s.run("token", "--cluster-name", cluster)
	var c credential
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Kind != "ExecCredential" || !strings.HasPrefix(c.Status.Token, "k8s-aws-v1.") {
		s.t.Fatalf("token --cluster-name %s printed no ExecCredential (%v): %q", cluster, err, out)
	}
	return c
}

// entries lists the cache directory: token entries, and anything else.
func (s *smoke) entries() (tokens, other []string) {
	s.t.Helper()
	des, err := os.ReadDir(filepath.Join(s.dir, "cache"))
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), "token-") && strings.HasSuffix(de.Name(), ".json") {
			tokens = append(tokens, de.Name())
		} else if !strings.HasSuffix(de.Name(), ".lock") {
			other = append(other, de.Name())
		}
	}
	return tokens, other
}

func TestWindowsBuildUnderWine(t *testing.T) {
	s := newSmoke(t)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	// Miss: a token is signed, printed and cached.
	s.setNow(t0)
	miss := s.token("c1")
	if tokens, other := s.entries(); len(tokens) != 1 || len(other) != 0 {
		t.Fatalf("after a miss the cache holds %v and %v, want one token entry", tokens, other)
	}

	// Hit: a minute later a new signature would differ (its date does);
	// the same token means it came from the cache.
	s.setNow(t0.Add(time.Minute))
	if hit := s.token("c1"); hit.Status.Token != miss.Status.Token {
		t.Fatalf("second run signed again instead of answering from the cache")
	}

	// Parallel misses of another cluster: every run prints a token, one
	// entry is written, no temp file stays.
	var wg sync.WaitGroup
	creds := make([]credential, 6)
	for i := range creds {
		wg.Go(func() { creds[i] = s.token("c2") })
	}
	wg.Wait()
	for i, c := range creds {
		if c.Status.Token != creds[0].Status.Token {
			t.Errorf("parallel miss %d printed another token than the first", i)
		}
	}
	if tokens, other := s.entries(); len(tokens) != 2 || len(other) != 0 {
		t.Fatalf("after parallel misses the cache holds %v and %v, want two token entries", tokens, other)
	}

	// status lists both.
	out, _ := s.run("status")
	for _, want := range []string{"c1", "c2", "(environment keys)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}

	// A hit inside the refresh-ahead window (five minutes before the
	// token's served end by default) prints the cached token and starts a
	// detached background refresh, which writes a newer token.
	s.setNow(miss.Status.Expiration.Add(-2 * time.Minute))
	if hit := s.token("c1"); hit.Status.Token != miss.Status.Token {
		t.Fatalf("a hit in the refresh-ahead window printed a new token: the refresh belongs in the background")
	}
	started := time.Now()
	deadline := started.Add(60 * time.Second)
	var refreshed credential
	for {
		refreshed = s.token("c1")
		if refreshed.Status.Token != miss.Status.Token {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh wrote a new token within 60 s of a hit in the refresh-ahead window")
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the background refresh wrote a new token %v after the hit", time.Since(started).Round(time.Millisecond))
	if !refreshed.Status.Expiration.After(miss.Status.Expiration) {
		t.Errorf("the refreshed token ends %v, not after the old one's %v", refreshed.Status.Expiration, miss.Status.Expiration)
	}

	// clear removes every entry.
	s.run("clear")
	if tokens, other := s.entries(); len(tokens) != 0 || len(other) != 0 {
		t.Errorf("after clear the cache holds %v and %v", tokens, other)
	}

	// setup --dry-run shows the change and writes nothing.
	kc := filepath.Join(s.dir, "config")
	before := []byte(`apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://ABC.gr7.eu-west-1.eks.amazonaws.com
  name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
contexts:
- context:
    cluster: arn:aws:eks:eu-west-1:111122223333:cluster/prod
    user: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  name: prod
current-context: prod
users:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod, --output, json]
`)
	if err := os.WriteFile(kc, before, 0o600); err != nil {
		t.Fatal(err)
	}
	diff, _ := s.run("setup", "--dry-run", "--kubeconfig", winPath(kc))
	if !strings.Contains(diff, "+") || !strings.Contains(diff, "ekstoken") || !strings.Contains(diff, "-      command: aws") {
		t.Errorf("setup --dry-run shows no change to ekstoken:\n%s", diff)
	}
	if after, err := os.ReadFile(kc); err != nil || !bytes.Equal(after, before) {
		t.Errorf("setup --dry-run changed the kubeconfig (%v)", err)
	}
}
