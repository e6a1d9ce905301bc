//go:build linux

package crash

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"gopkg.in/yaml.v3"
)

const (
	cluster   = "crash"
	region    = "us-west-2"
	accessKey = "AKIDCRASHEXAMPLE"
	secretKey = "crash/secret/key/EXAMPLE+never+left+behind"
	// The credential_process identity: temporary keys with a session token.
	procKey     = "ASIACRASHPROCEXAMPLE"
	procSecret  = "proc/secret/key/EXAMPLE+never+left+behind"
	procSession = "proc-session-token-EXAMPLE-never-left-behind"

	// maxN bounds the calls of one kind a thread may make before the run
	// is taken as unbounded; the write paths make far fewer.
	maxN = 64
)

// writePathCalls are the system calls a write path can die at. A leading
// "?" lets strace ignore a name this architecture does not have.
var writePathCalls = []string{
	"openat", "write", "pwrite64", "fsync", "fdatasync", "close",
	"?rename", "renameat", "?renameat2", "unlinkat", "mkdirat",
	"flock", "fchmod", "fchmodat", "fchown", "ftruncate", "linkat",
}

var ekstokenBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("test/crash: skipped under -short (builds the binary, runs it under strace)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "ekstoken-crash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ekstokenBin, err = devbin.Build(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is one run's HOME, cache and environment: internal/testenv/
// sandbox's, whose egress trap fails the test if a request tries to leave
// 127.0.0.1.
type sandbox struct {
	*harness.Sandbox
	home, cache, kubeconfig string
	env                     []string
}

func newSandbox(t *testing.T, root string) *sandbox {
	t.Helper()
	home, err := os.MkdirTemp(root, "run-")
	if err != nil {
		t.Fatal(err)
	}
	hs := harness.New(t, harness.Options{Home: home, CacheDir: filepath.Join(home, "cache")})
	return &sandbox{Sandbox: hs, home: home, cache: hs.CacheDir, kubeconfig: filepath.Join(home, ".kube", "config"), env: hs.Env()}
}

func (sb *sandbox) write(t *testing.T, rel, body string, mode os.FileMode) string {
	t.Helper()
	return sb.WriteFile(t, rel, body, mode)
}

// run runs ekstoken to its end, in the sandbox's HOME.
func (sb *sandbox) run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := harness.Proc{Env: env, Dir: sb.home}.MustExit(t, ekstokenBin, args...)
	return r.Stdout, r.Stderr, r.Code()
}

// outcome is how a run under strace ended.
type outcome int

const (
	completed outcome = iota // exit 0, not killed: N is past the last call
	failed                   // a non-zero exit, e.g. a killed credential_process
	killed
)

// killAt runs prog under strace, with SIGKILL injected on entry to the
// Nth call of syscall in each thread (strace's counters are per thread).
// The calls of that kind go to the file trace, with the paths of their file
// descriptors.
func killAt(t *testing.T, strace, call string, n int, trace string, env []string, dir, prog string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sargs := []string{"-f", "-b", "execve", "-qq", "-y", "-o", trace,
		"-e", "trace=" + call, "-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", call, n),
		"--", prog}
	cmd := exec.CommandContext(ctx, strace, append(sargs, args...)...)
	cmd.Env, cmd.Dir = env, dir
	var e bytes.Buffer
	cmd.Stderr = &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return completed
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return killed
		}
		if strings.HasPrefix(e.String(), "strace:") {
			t.Fatalf("strace %v: %v\n%s", sargs, err, e.String())
		}
		return failed
	}
	t.Fatalf("strace: %v\n%s", err, e.String())
	return failed
}

// findings gathers each broken invariant once, with every kill point that
// broke it, so that one bug does not print a hundred failures.
type findings map[string][]string

func (f findings) add(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f[msg] = append(f[msg], where)
}

func (f findings) report(t *testing.T) {
	t.Helper()
	for _, m := range slices.Sorted(maps.Keys(f)) {
		w := f[m]
		if len(w) > 8 {
			w = append(w[:8:8], fmt.Sprintf("and %d more", len(f[m])-8))
		}
		t.Errorf("%s\n\tkilled at: %s", m, strings.Join(w, ", "))
	}
}

// crashLoop kills the command at every write-path call and checks each
// aftermath. fresh prepares a new sandbox; check inspects it after a kill.
//
// must lists, as regular expressions, the kill points that the loop has to
// reach (see killedCall for their form): a kill that never lands on the
// write path proves nothing.
func crashLoop(t *testing.T, fresh func(t *testing.T, root string) *sandbox, args []string, must []string, check func(t *testing.T, sb *sandbox, where string, f findings)) {
	t.Helper()
	strace := testenv.RequireStrace(t)
	root := t.TempDir()
	trace := filepath.Join(root, "strace.out")
	f := findings{}
	kills := 0
	points := map[string]bool{}
	sweep := func(call string) {
		name := strings.TrimPrefix(call, "?")
		n := 1
		for ; n <= maxN; n++ {
			sb := fresh(t, root)
			if err := harness.CheckEnv(sb.env); err != nil {
				t.Fatal(err)
			}
			out := killAt(t, strace, call, n, trace, sb.env, sb.home, ekstokenBin, args...)
			if out == completed {
				os.RemoveAll(sb.home)
				break
			}
			if out == killed {
				kills++
				if p := killedCall(t, trace, name, sb.home); p != "" {
					points[p] = true
				}
			}
			check(t, sb, fmt.Sprintf("%s#%d", name, n), f)
			os.RemoveAll(sb.home)
			if t.Failed() {
				return
			}
		}
		if n > maxN {
			t.Logf("%s: still not complete after %d calls in one thread", name, maxN)
		}
	}
	for _, call := range writePathCalls {
		if sweep(call); t.Failed() {
			return
		}
	}
	if kills == 0 {
		t.Fatalf("no run was killed: strace did not inject")
	}
	// Which thread makes the Nth call depends on the scheduler, so a
	// sweep can step over a call on a busy machine: sweep again the calls
	// of the points not reached yet, a bounded number of times.
	missing := func() []string {
		var ms []string
		for _, m := range must {
			re := regexp.MustCompile(m)
			if !slices.ContainsFunc(slices.Collect(maps.Keys(points)), re.MatchString) {
				ms = append(ms, m)
			}
		}
		return ms
	}
	for retry := 0; retry < 5 && len(missing()) > 0; retry++ {
		for _, m := range missing() {
			if sweep(strings.Fields(strings.TrimPrefix(m, "^"))[0]); t.Failed() {
				return
			}
		}
	}
	t.Logf("%d runs killed, at:\n\t%s", kills, strings.Join(slices.Sorted(maps.Keys(points)), "\n\t"))
	for _, m := range missing() {
		t.Errorf("no kill landed on a call matching %s", m)
	}
	f.report(t)
}

var (
	tracePID   = regexp.MustCompile(`^(?:\[pid +(\d+)\] |(\d+) +)?`)
	quotedPath = regexp.MustCompile(`"(/[^"]*)"`)
	fdPath     = regexp.MustCompile(`\b\d+<(/[^>]*)>`)
)

// killedCall reads strace's output and names the call the kill landed on,
// as "call path" or "call from -> to", with $HOME for the sandbox and the
// random and hashed parts of names hidden. It is "" when the call touched
// nothing in the sandbox (the runtime's own files, a pipe).
func killedCall(t *testing.T, trace, call, home string) string {
	t.Helper()
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	// The killed call never returns: its line ends in "= ?", or it is left
	// <unfinished ...> and resumes only to end in "= ?".
	pending := map[string]string{}
	killedLine := ""
	for _, line := range strings.Split(string(b), "\n") {
		m := tracePID.FindStringSubmatch(line)
		pid := m[1] + m[2]
		rest := line[len(tracePID.FindString(line)):]
		switch {
		case strings.HasPrefix(rest, call+"(") && strings.HasSuffix(rest, "<unfinished ...>"):
			pending[pid] = rest
		case strings.HasPrefix(rest, "<... "+call+" resumed>"):
			if strings.HasSuffix(rest, "= ?") {
				killedLine = pending[pid]
			}
			delete(pending, pid)
		case strings.HasPrefix(rest, call+"(") && strings.HasSuffix(rest, "= ?"):
			killedLine = rest
		}
	}
	var paths []string
	for _, m := range quotedPath.FindAllStringSubmatch(killedLine, -1) {
		paths = append(paths, m[1])
	}
	if len(paths) == 0 {
		for _, m := range fdPath.FindAllStringSubmatch(killedLine, -1) {
			paths = append(paths, m[1])
		}
	}
	var inHome []string
	for _, p := range paths {
		if p == home || strings.HasPrefix(p, home+"/") {
			inHome = append(inHome, pattern("$HOME"+strings.TrimPrefix(p, home)))
		}
	}
	if len(inHome) == 0 {
		return ""
	}
	return call + " " + strings.Join(inHome, " -> ")
}

// tokenOf returns the token of an ExecCredential.
func tokenOf(stdout string) (string, error) {
	var ec struct {
		Kind   string
		Status struct{ Token string }
	}
	if err := json.Unmarshal([]byte(stdout), &ec); err != nil {
		return "", fmt.Errorf("stdout is not an ExecCredential: %w: %q", err, stdout)
	}
	if ec.Kind != "ExecCredential" || ec.Status.Token == "" {
		return "", fmt.Errorf("stdout is not an ExecCredential with a token: %q", stdout)
	}
	return ec.Status.Token, nil
}

// checkEntries flags any cache entry (not a dot-file temp) that is not
// complete JSON: a reader must never find a torn entry in place.
func checkEntries(sb *sandbox, where string, f findings) {
	entries, _ := os.ReadDir(sb.cache)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sb.cache, name))
		if err == nil && !json.Valid(b) {
			f.add(where, "a torn cache entry is in place (%d bytes, not JSON)", len(b))
		}
	}
}

// checkNoSecrets flags every file under the cache that holds a token or a
// secret, after `ekstoken clear`.
func checkNoSecrets(t *testing.T, sb *sandbox, where string, f findings) {
	t.Helper()
	if _, stderr, code := sb.run(t, sb.env, "clear"); code != 0 {
		f.add(where, "`ekstoken clear` after the kill failed: %s", lastLine(strings.ReplaceAll(stderr, sb.home, "$HOME")))
		return
	}
	secrets := []string{"k8s-aws-v1.", secretKey, procSecret, procSession}
	_ = filepath.WalkDir(sb.cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				f.add(where, "after `ekstoken clear`, %s still holds a token or secret (%s)", pattern(d.Name()), strings.TrimSuffix(s, "."))
				return nil
			}
		}
		return nil
	})
}

var (
	hashPart   = regexp.MustCompile(`[0-9a-f]{16,}`)
	timePart   = regexp.MustCompile(`[0-9]{8}T[0-9]{6}Z`)
	randomPart = regexp.MustCompile(`[0-9]{5,}`)
)

// pattern hides the hashed, dated and random parts of a file name, so that
// one kind of leftover is one finding.
func pattern(name string) string {
	name = hashPart.ReplaceAllString(name, "<hash>")
	name = timePart.ReplaceAllString(name, "<time>")
	return randomPart.ReplaceAllString(name, "*")
}

// lastLine is the last line of a command's stderr, where ekstoken puts
// its error after any progress lines.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

func startEKS(t *testing.T) *fakeeks.Server {
	t.Helper()
	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: accessKey, SecretAccessKey: secretKey, ARN: "arn:aws:iam::111122223333:user/crash"},
		{AccessKeyID: procKey, SecretAccessKey: procSecret, SessionToken: procSession, ARN: "arn:aws:sts::111122223333:assumed-role/proc/crash"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// ageTemps moves the clock of the temp files a killed writer left to
// twice cache.StaleAfter ago: a temp file younger than that may still be a
// live writer's, which ekstoken leaves alone by design, so the guarantee is
// that none survives the next run and clear once it is that old.
func ageTemps(t *testing.T, sb *sandbox) {
	t.Helper()
	entries, _ := os.ReadDir(sb.cache)
	old := time.Now().Add(-2 * cache.StaleAfter)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			if err := os.Chtimes(filepath.Join(sb.cache, e.Name()), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// tokenCheck is the aftermath check of the two token paths.
func tokenCheck(srv *fakeeks.Server, args []string) func(t *testing.T, sb *sandbox, where string, f findings) {
	return func(t *testing.T, sb *sandbox, where string, f findings) {
		checkEntries(sb, where, f)
		ageTemps(t, sb)
		stdout, stderr, code := sb.run(t, sb.env, args...)
		if code != 0 {
			f.add(where, "the next run failed: %s", lastLine(strings.ReplaceAll(stderr, sb.home, "$HOME")))
		} else if tok, err := tokenOf(stdout); err != nil {
			f.add(where, "the next run printed no token: %v", err)
		} else if _, err := srv.Verify(tok); err != nil {
			f.add(where, "the next run printed a token the cluster rejects: %v", err)
		}
		checkNoSecrets(t, sb, where, f)
	}
}

// The token write path: a miss with environment keys signs and caches.
func TestCrashTokenWrite(t *testing.T) {
	srv := startEKS(t)
	args := []string{"token", "--cluster-name", cluster, "--region", region}
	fresh := func(t *testing.T, root string) *sandbox {
		sb := newSandbox(t, root)
		sb.env = append(sb.env, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
		return sb
	}
	crashLoop(t, fresh, args, []string{
		`^openat \$HOME/cache/\S*token`,
		`^write \$HOME/cache/\S*token`,
		`^renameat \$HOME/cache/\S*token\S* -> \$HOME/cache/\S*token`,
	}, tokenCheck(srv, args))
}

// The credential write path: credential_process credentials with an
// expiry are cached beside the tokens, secret key included.
func TestCrashCredentialWrite(t *testing.T) {
	srv := startEKS(t)
	args := []string{"token", "--cluster-name", cluster, "--region", region, "--profile", "proc"}
	expires := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	fresh := func(t *testing.T, root string) *sandbox {
		sb := newSandbox(t, root)
		script := sb.write(t, "creds.sh", fmt.Sprintf(`#!/bin/sh
echo '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"%s","Expiration":"%s"}'
`, procKey, procSecret, procSession, expires), 0o700)
		sb.write(t, ".aws/config", "[profile proc]\ncredential_process = "+script+"\nregion = "+region+"\n", 0o600)
		return sb
	}
	// The credential entry must exist after a normal run, or this test
	// covers no credential write.
	sb := fresh(t, t.TempDir())
	if _, stderr, code := sb.run(t, sb.env, args...); code != 0 {
		t.Fatalf("a normal run failed: %s", stderr)
	}
	if creds, _ := filepath.Glob(filepath.Join(sb.cache, "*credentials*")); len(creds) == 0 {
		entries, _ := os.ReadDir(sb.cache)
		t.Fatalf("no credential entry cached: %v", entries)
	}
	crashLoop(t, fresh, args, []string{
		`^write \$HOME/cache/\S*credentials`,
		`^renameat \$HOME/cache/\S*credentials\S* -> \$HOME/cache/\S*credentials`,
		`^renameat \$HOME/cache/\S*token\S* -> \$HOME/cache/\S*token`,
	}, tokenCheck(srv, args))
}

// awsKubeconfig is what `aws eks update-kubeconfig` writes for two
// clusters, plus a comment that setup must keep.
func awsKubeconfig(srv *fakeeks.Server) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nclusters:\n")
	names := []string{"alpha", "beta"}
	arn := func(n string) string { return "arn:aws:eks:" + region + ":111122223333:cluster/" + n }
	for _, n := range names {
		fmt.Fprintf(&b, "- cluster:\n    certificate-authority-data: %s\n    server: %s\n  name: %s\n",
			base64.StdEncoding.EncodeToString(srv.CAData), srv.URL, arn(n))
	}
	b.WriteString("contexts:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "- context:\n    cluster: %[1]s\n    user: %[1]s\n  name: %[1]s\n", arn(n))
	}
	fmt.Fprintf(&b, "current-context: %s\nkind: Config\npreferences: {}\n# kept by setup\nusers:\n", arn(names[0]))
	for _, n := range names {
		fmt.Fprintf(&b, `- name: %s
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - %s
      - eks
      - get-token
      - --cluster-name
      - %s
      - --output
      - json
      command: aws
`, arn(n), region, n)
	}
	return b.String()
}

var cpAdvice = regexp.MustCompile(`\bcp\s+(?:-\S+\s+)*('[^']+'|"[^"]+"|\S+)\s`)

// The setup write path: back up, then rewrite the kubeconfig.
func TestCrashSetupWrite(t *testing.T) {
	srv := startEKS(t)
	original := awsKubeconfig(srv)
	fresh := func(t *testing.T, root string) *sandbox {
		sb := newSandbox(t, root)
		sb.write(t, ".kube/config", original, 0o600)
		return sb
	}
	// The complete rewrite, from a run that is not killed.
	ref := fresh(t, t.TempDir())
	if _, stderr, code := ref.run(t, ref.env, "setup"); code != 0 {
		t.Fatalf("a normal setup failed: %s", stderr)
	}
	rewrite, err := os.ReadFile(ref.kubeconfig)
	if err != nil || string(rewrite) == original {
		t.Fatalf("a normal setup did not rewrite the kubeconfig: %v", err)
	}
	parses := func(b []byte) bool {
		var doc struct {
			Users []any `yaml:"users"`
		}
		return len(bytes.TrimSpace(b)) > 0 && yaml.Unmarshal(b, &doc) == nil && len(doc.Users) > 0
	}
	if !parses(rewrite) {
		t.Fatalf("the rewrite does not parse:\n%s", rewrite)
	}

	staleLocks := 0
	check := func(t *testing.T, sb *sandbox, where string, f findings) {
		// kubectl's lock is a file created with O_EXCL: a killed writer
		// leaves it, and every later writer (kubectl included) refuses
		// until someone removes it, as ekstoken's message says. That is
		// the protocol's cost, not damage: count it, do what the message
		// says, and check the rest.
		if err := os.Remove(sb.kubeconfig + ".lock"); err == nil {
			staleLocks++
		}
		got, err := os.ReadFile(sb.kubeconfig)
		switch {
		case err != nil:
			f.add(where, "the kubeconfig is gone: %v", err)
			return
		case string(got) != original && !bytes.Equal(got, rewrite):
			f.add(where, "the kubeconfig is neither the original nor the complete rewrite (parses: %v, %d bytes)", parses(got), len(got))
		}
		// Undo right after the crash: whatever it says, it never points at
		// an empty or broken file to copy.
		stdout, stderr, code := sb.run(t, sb.env, "setup", "--undo")
		for _, m := range cpAdvice.FindAllStringSubmatch(stdout+stderr, -1) {
			src := strings.Trim(m[1], `'"`)
			if !filepath.IsAbs(src) {
				src = filepath.Join(sb.home, src)
			}
			if b, err := os.ReadFile(src); err != nil || !parses(b) {
				f.add(where, "`setup --undo` suggests copying a file that is empty, missing or broken (%d bytes)", len(b))
			}
		}
		now, _ := os.ReadFile(sb.kubeconfig)
		if code == 0 && string(now) != original {
			f.add(where, "`setup --undo` succeeded but the kubeconfig is not the original")
		}
		// Then a person runs setup again, and undo: both must work.
		if _, stderr, code := sb.run(t, sb.env, "setup"); code != 0 {
			f.add(where, "the next setup failed: %s", lastLine(strings.ReplaceAll(stderr, sb.home, "$HOME")))
			return
		}
		if now, _ := os.ReadFile(sb.kubeconfig); !bytes.Equal(now, rewrite) {
			f.add(where, "the next setup did not give the complete rewrite")
		}
		if _, stderr, code := sb.run(t, sb.env, "setup", "--undo"); code != 0 {
			f.add(where, "the next setup --undo failed: %s", lastLine(strings.ReplaceAll(stderr, sb.home, "$HOME")))
		} else if now, _ := os.ReadFile(sb.kubeconfig); string(now) != original {
			f.add(where, "the next setup --undo did not put the original back")
		}
	}
	crashLoop(t, fresh, []string{"setup"}, []string{
		`^write \$HOME/\.kube/`,
		`^renameat \S+ -> \$HOME/\.kube/config$`,
	}, check)
	t.Logf("%d kills left kubectl's lock file behind", staleLocks)
}

// The harness must see a kill and its damage, or the tests above prove
// nothing: a writer that fills a file in place in two writes, killed at its
// second, leaves half a JSON document, and the entry check flags it.
func TestHarnessCatchesTornWrite(t *testing.T) {
	strace := testenv.RequireStrace(t)
	sh := testenv.RequireTool(t, "sh")
	for _, name := range []string{"token-x.json", "credentials-y.json"} {
		cache := t.TempDir()
		target := filepath.Join(cache, name)
		script := "printf '{\"a\":' > " + target + "; printf '1}' >> " + target
		tornAt := 0
		for n := 1; n <= maxN; n++ {
			os.Remove(target)
			if killAt(t, strace, "write", n, os.DevNull, os.Environ(), cache, sh, "-c", script) == completed {
				break
			}
			f := findings{}
			checkEntries(&sandbox{cache: cache}, fmt.Sprintf("write#%d", n), f)
			if len(f) > 0 {
				tornAt = n
			}
		}
		if tornAt == 0 {
			t.Errorf("%s: no kill left a torn entry that the check saw", name)
		}
		b, err := os.ReadFile(target)
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: the unkilled run did not write the whole entry: %q, %v", name, b, err)
		}
	}
}
