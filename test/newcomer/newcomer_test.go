// Package newcomer follows the README as a new user does, end to end: a
// fresh clone, a clean HOME holding only what `aws eks update-kubeconfig`
// and `aws configure` would have written, a PATH without ekstoken, the
// README's own install command, `ekstoken setup`, then the real kubectl.
// When the README's commands drift from what works, this test fails.
package newcomer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

const (
	cluster   = "newcomer"
	region    = "us-west-2"
	account   = "111122223333"
	accessKey = "AKIDNEWCOMEREXAMPLE"
	secretKey = "newcomer/secret/EXAMPLEKEY"
)

func TestNewcomerPath(t *testing.T) {
	testenv.SkipIfShort(t, "clones the repository, installs ekstoken, runs kubectl")
	if runtime.GOOS == "windows" {
		t.Skip("the README's install command is a POSIX shell line")
	}
	git := testenv.RequireTool(t, "git")
	goBin := testenv.RequireTool(t, "go")
	kubectl := testenv.PlainKubectl(t)
	sh := testenv.RequireTool(t, "sh")

	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	clone := filepath.Join(tmp, "ekstoken")
	cloneEnv := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "AWS_EC2_METADATA_DISABLED=true"}, harness.StartTrap(t).Env()...)
	run(t, cloneEnv, tmp, git, "clone", "--quiet", root, clone)

	install := installCommand(t, filepath.Join(clone, "README.md"))

	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: accessKey, SecretAccessKey: secretKey, ARN: "arn:aws:iam::" + account + ":user/newcomer"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	goEnv := func(k string) string {
		out, err := exec.Command(goBin, "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		return strings.TrimSpace(string(out))
	}
	caches := []string{
		// The build and module caches are the real ones, to stay fast; the
		// module cache is complete since this test was built from it, so
		// nothing is downloaded.
		"GOCACHE=" + goEnv("GOCACHE"),
		"GOMODCACHE=" + goEnv("GOMODCACHE"),
		"GOPROXY=off",
		"GOTOOLCHAIN=local",
	}
	nc := newcomer{clone: clone, install: install, srv: srv, goBin: goBin, kubectl: kubectl, sh: sh, caches: caches}
	// GOPATH is the clean HOME's default, $HOME/go; or GOBIN is set to a
	// folder that is not on PATH either, as people set it.
	t.Run("default GOPATH", func(t *testing.T) { nc.follow(t, t.TempDir(), "") })
	t.Run("GOBIN set", func(t *testing.T) {
		home := t.TempDir()
		nc.follow(t, home, filepath.Join(home, "gobin"))
	})
}

// newcomer is what every variant of the path shares.
type newcomer struct {
	clone, install     string
	srv                *fakeeks.Server
	goBin, kubectl, sh string
	caches             []string
}

// follow runs the README's steps in a clean home; gobin is GOBIN, or "" to
// leave it unset.
func (nc newcomer) follow(t *testing.T, home, gobin string) {
	srv, clone, install, goBin, kubectl, sh := nc.srv, nc.clone, nc.install, nc.goBin, nc.kubectl, nc.sh
	tmp := t.TempDir()
	kubeconfig := filepath.Join(home, ".kube", "config")
	writeFile(t, kubeconfig, awsUpdateKubeconfig(srv), 0o600)
	writeFile(t, filepath.Join(home, ".aws", "credentials"),
		fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", accessKey, secretKey), 0o600)
	original, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	// The PATH of someone who has Go, git and kubectl, and no ekstoken:
	// the toolchain's folder, a folder with the plain kubectl, and the
	// system folders that hold none of ekstoken, GOBIN or GOPATH/bin.
	tools := filepath.Join(tmp, "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(kubectl, filepath.Join(tools, "kubectl")); err != nil {
		t.Fatal(err)
	}
	path := []string{tools, filepath.Dir(goBin)}
	for _, d := range []string{"/usr/local/bin", "/usr/bin", "/bin"} {
		if _, err := os.Stat(filepath.Join(d, "ekstoken")); err == nil {
			continue
		}
		path = append(path, d)
	}
	// Nothing inherited; proxies at an egress trap that fails the test.
	env := slices.Concat([]string{
		"HOME=" + home,
		"PATH=" + strings.Join(path, string(os.PathListSeparator)),
		"AWS_EC2_METADATA_DISABLED=true",
	}, harness.StartTrap(t).Env(), nc.caches)
	if gobin != "" {
		env = append(env, "GOBIN="+gobin)
	}
	for _, p := range path {
		if _, err := os.Stat(filepath.Join(p, "ekstoken")); err == nil {
			t.Fatalf("%s on the newcomer's PATH holds an ekstoken", p)
		}
	}

	// 1. The README's install line, as written.
	out := run(t, env, clone, sh, "-c", install)
	if !strings.Contains(out, "ekstoken") {
		t.Errorf("the README's install line printed no diff of the ekstoken users:\n%s", out)
	}
	if got, _ := os.ReadFile(kubeconfig); !bytes.Equal(got, original) {
		t.Fatalf("`setup --dry-run` changed %s", kubeconfig)
	}
	bin := filepath.Join(home, "go", "bin", "ekstoken")
	if gobin != "" {
		bin = filepath.Join(gobin, "ekstoken")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the README's install line did not install ekstoken where Go puts it (%s): %v", bin, err)
	}
	if err := devbin.CheckStatic(bin); err != nil {
		t.Errorf("the README's install line builds a binary that is not static: %v", err)
	}

	// 2. setup, for real, the way the README says: the binary by its path.
	run(t, env, home, bin, "setup")
	rewritten, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rewritten, original) {
		t.Fatalf("setup left %s as it was", kubeconfig)
	}

	// 3. The real kubectl, with the same PATH: it must reach the cluster
	// through ekstoken.
	signedBefore := srv.Stats().ByAccessKeyID[accessKey]
	r := harness.Proc{Env: env, Dir: home, Timeout: time.Minute}.Run(t, filepath.Join(tools, "kubectl"), "get", "namespaces", "-o", "name")
	if err := r.Err; err != nil {
		var commands []string
		for _, line := range strings.Split(string(rewritten), "\n") {
			if strings.Contains(line, "command:") {
				commands = append(commands, strings.TrimSpace(line))
			}
		}
		t.Fatalf("kubectl get namespaces after the README's steps: %v\nsetup wrote %q for a PATH of %s\n%s",
			err, commands, strings.Join(path, string(os.PathListSeparator)), lastLines(r.Stderr, 3))
	}
	if !strings.Contains(r.Stdout, "namespace/default") {
		t.Errorf("kubectl get namespaces printed %q", r.Stdout)
	}
	if st := srv.Stats(); st.ByAccessKeyID[accessKey] <= signedBefore {
		t.Errorf("the cluster saw no token signed with the newcomer's keys: %+v", st)
	}
	entries, _ := filepath.Glob(filepath.Join(home, ".kube", "cache", "ekstoken", "*"))
	if len(entries) == 0 {
		t.Errorf("kubectl's token did not come through ekstoken's cache in ~/.kube/cache/ekstoken")
	}
}

// installCommand is the first ```sh block under "## Two commands".
func installCommand(t *testing.T, readme string) string {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		section, inBlock bool
		lines            []string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			if section && !inBlock {
				t.Fatalf("%s: no ```sh block under ## Two commands", readme)
			}
			section = strings.TrimSpace(line) == "## Two commands"
		case section && !inBlock && strings.TrimSpace(line) == "```sh":
			inBlock = true
		case inBlock && strings.TrimSpace(line) == "```":
			if len(lines) == 0 {
				t.Fatalf("%s: the install block is empty", readme)
			}
			return strings.Join(lines, "\n")
		case inBlock:
			lines = append(lines, line)
		}
	}
	t.Fatalf("%s: no ```sh block under ## Two commands", readme)
	return ""
}

// awsUpdateKubeconfig is what `aws eks update-kubeconfig --name newcomer
// --region us-west-2` writes, for a cluster whose endpoint and CA are
// fakeeks'.
func awsUpdateKubeconfig(srv *fakeeks.Server) string {
	arn := "arn:aws:eks:" + region + ":" + account + ":cluster/" + cluster
	return fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: %s
    server: %s
  name: %s
contexts:
- context:
    cluster: %[3]s
    user: %[3]s
  name: %[3]s
current-context: %[3]s
kind: Config
preferences: {}
users:
- name: %[3]s
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
`, base64.StdEncoding.EncodeToString(srv.CAData), srv.URL, arn, region, cluster)
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// run runs a command to its end, with exactly env (which the harness's
// guard must accept), and returns its stdout.
func run(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	r := harness.Proc{Env: env, Dir: dir, Timeout: 5 * time.Minute}.Run(t, name, args...)
	if r.Err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// lastLines is the end of a command's stderr, or kubectl's line about the
// credential plugin when it has one: what says why.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(l, "getting credentials") {
			return strings.TrimSpace(l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
