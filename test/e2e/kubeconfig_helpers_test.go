package e2e

// Helpers for the tests of `ekstoken setup` and `ekstoken update-kubeconfig`:
// a runner that also allows the AWS variables these commands need, a PATH
// without the aws CLI, moto_server, and ways to look at kubeconfig files.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"gopkg.in/yaml.v3"
)

// run runs name with exactly env to its end (killed after the
// harness's timeout or when the test ends).
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	return command(t, env, name, args...)()
}

// ekstoken runs the binary under test, which must run to its end.
func ekstoken(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := run(t, env, ekstokenBin, args...)
	if r.code() < 0 {
		t.Fatalf("ekstoken %v: %v\n%s", args, r.err, r.stderr)
	}
	return r
}

// mustEkstoken runs ekstoken, which must succeed.
func mustEkstoken(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := ekstoken(t, env, args...)
	if r.code() != 0 {
		t.Fatalf("ekstoken %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code(), r.stdout, r.stderr)
	}
	return r
}

// kubectlDir is a directory holding only a link to kubectl.
func kubectlDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(kubectlPath(t), filepath.Join(dir, "kubectl")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// isolatedPath is a PATH entry ("PATH=...") with only dirs, checked to
// hold neither the aws CLI, aws-iam-authenticator nor eks-token-cache.sh:
// kubeconfigs that run them fail until setup rewrites them.
func isolatedPath(t *testing.T, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		for _, tool := range []string{"aws", "aws-iam-authenticator", "eks-token-cache.sh"} {
			if _, err := os.Stat(filepath.Join(d, tool)); err == nil {
				t.Fatalf("%s is in %s: the sandbox PATH must not reach it", tool, d)
			}
		}
	}
	return "PATH=" + strings.Join(dirs, string(os.PathListSeparator))
}

// getNamespaces runs `kubectl get namespaces` as context and reports
// whether it listed fakeeks's two namespaces.
func getNamespaces(t *testing.T, env []string, kubeconfig, context string) (ok bool, stderr string) {
	t.Helper()
	r := run(t, env, kubectlPath(t), "--kubeconfig", kubeconfig, "--context", context, "get", "namespaces", "-o", "name")
	if r.err != nil {
		return false, r.stderr
	}
	if r.stdout != "namespace/default\nnamespace/kube-system\n" {
		t.Errorf("kubectl get namespaces as %s printed %q", context, r.stdout)
	}
	return true, r.stderr
}

// motoSession is a role session moto handed out (/moto-api/data.json).
type motoSession struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
	ARN             string `json:"arn"`
	RoleARN         string `json:"role_arn"`
}

func motoSessions(motoURL string) ([]motoSession, error) {
	resp, err := http.Get(motoURL + "/moto-api/data.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var data struct {
		STS struct {
			AssumedRole []motoSession `json:"AssumedRole"`
		} `json:"sts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return nil, fmt.Errorf("moto data.json: %w", err)
	}
	return data.STS.AssumedRole, nil
}

// startRoleFront puts a TLS front before s that, ahead of each request,
// makes every role session moto has handed out known to s: a token signed
// with credentials from AssumeRole (which happens inside kubectl's run of
// ekstoken) then verifies as EKS would verify it. It returns the front's
// URL and certificate (PEM).
func startRoleFront(t *testing.T, s *fakeeks.Server, motoURL string) (string, []byte) {
	t.Helper()
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CAData) {
		t.Fatal("fakeeks CA data is not PEM")
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions, err := motoSessions(motoURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for _, ms := range sessions {
			s.AddIdentity(fakeeks.Identity{AccessKeyID: ms.AccessKeyID, SecretAccessKey: ms.SecretAccessKey,
				SessionToken: ms.SessionToken, ARN: ms.ARN})
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
}

// kubeconfigDoc is the part of a kubeconfig the tests look at, read
// without decoding anything (moto's certificate data is not base64).
type kubeconfigDoc struct {
	Clusters       []clusterEntry
	Contexts       []contextEntry
	CurrentContext string `yaml:"current-context"`
	Users          []userEntry
}

type clusterEntry struct {
	Name    string
	Cluster struct {
		Server string
		CAData string `yaml:"certificate-authority-data"`
	}
}

type contextEntry struct {
	Name    string
	Context struct{ Cluster, User string }
}

type userEntry struct {
	Name string
	User struct {
		Token string
		Exec  *execEntry
	}
}

type execEntry struct {
	APIVersion      string `yaml:"apiVersion"`
	Command         string
	Args            []string
	Env             []envEntry
	InteractiveMode string `yaml:"interactiveMode"`
}

type envEntry struct{ Name, Value string }

func parseKubeconfig(t *testing.T, b []byte) kubeconfigDoc {
	t.Helper()
	var d kubeconfigDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("kubeconfig does not parse: %v\n%s", err, b)
	}
	return d
}

// exec is the exec entry of user name.
func (d kubeconfigDoc) exec(t *testing.T, name string) execEntry {
	t.Helper()
	for _, u := range d.Users {
		if u.Name == name {
			if u.User.Exec == nil {
				t.Fatalf("user %s has no exec entry", name)
			}
			return *u.User.Exec
		}
	}
	t.Fatalf("no user %s", name)
	return execEntry{}
}

// outsideExec is the lines of a kubeconfig that are not inside an exec
// mapping (block YAML or indented JSON): what setup must keep as it was.
func outsideExec(b []byte) []string {
	var out []string
	execIndent := -1
	for line := range strings.Lines(string(b)) {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if execIndent >= 0 {
			if strings.TrimSpace(line) == "" || indent > execIndent {
				continue
			}
			execIndent = -1
		}
		if strings.HasPrefix(trimmed, "exec:") || strings.HasPrefix(trimmed, `"exec":`) {
			execIndent = indent
			continue
		}
		out = append(out, line)
	}
	return out
}

// readFile reads path, which must exist.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// backupsOf lists the files ekstoken left beside path: backups, temp
// files, locks. It must leave none.
func backupsOf(t *testing.T, path string) []string {
	t.Helper()
	var all []string
	for _, pattern := range []string{path + ".*", filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".*")} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	return all
}

// undoDir is where setup keeps its undo records for the HOME of env.
func undoDir(env []string) string {
	return filepath.Join(envValue(env, "HOME"), ".kube", "ekstoken", "undo")
}

// undoRecords lists the undo records setup keeps for the HOME of env.
func undoRecords(t *testing.T, env []string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(undoDir(env), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recordOriginal is the whole original file an undo record holds.
func recordOriginal(t *testing.T, record string) []byte {
	t.Helper()
	var rec struct {
		Original []byte `json:"original"`
	}
	if err := json.Unmarshal(readFile(t, record), &rec); err != nil {
		t.Fatalf("undo record %s: %v", record, err)
	}
	return rec.Original
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// applyUnifiedDiff applies a unified diff of one file to old, checking
// every context and removed line and the line counts of every hunk: a diff
// that applies is one a reader (or patch) can trust.
func applyUnifiedDiff(old, diff string) (string, error) {
	src := strings.SplitAfter(old, "\n")
	if src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	dl := strings.SplitAfter(diff, "\n")
	if dl[len(dl)-1] == "" {
		dl = dl[:len(dl)-1]
	}
	if len(dl) < 3 || !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		return "", errors.New("no ---/+++ header")
	}
	var out []string
	pos := 0
	for i := 2; i < len(dl); {
		oldStart, oldN, newN, err := parseHunkHeader(dl[i])
		if err != nil {
			return "", err
		}
		if oldN > 0 {
			oldStart-- // 0-based; with oldN 0 it names the line before
		}
		if oldStart < pos || oldStart > len(src) {
			return "", fmt.Errorf("hunk %q out of order", dl[i])
		}
		out = append(out, src[pos:oldStart]...)
		pos = oldStart
		gotOld, gotNew := 0, 0
		for i++; i < len(dl) && !strings.HasPrefix(dl[i], "@@ "); i++ {
			l := dl[i]
			if strings.HasPrefix(l, `\`) {
				return "", fmt.Errorf("misplaced %q", l)
			}
			kind, text := l[0], l[1:]
			if i+1 < len(dl) && strings.HasPrefix(dl[i+1], `\ No newline at end of file`) {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch kind {
			case ' ', '-':
				if pos >= len(src) || src[pos] != text {
					return "", fmt.Errorf("line %d of the file is not %q", pos+1, text)
				}
				if kind == ' ' {
					out = append(out, text)
					gotNew++
				}
				pos++
				gotOld++
			case '+':
				out = append(out, text)
				gotNew++
			default:
				return "", fmt.Errorf("bad diff line %q", l)
			}
		}
		if gotOld != oldN || gotNew != newN {
			return "", fmt.Errorf("hunk counts: header says -%d +%d, body has -%d +%d", oldN, newN, gotOld, gotNew)
		}
	}
	return strings.Join(append(out, src[pos:]...), ""), nil
}

// parseHunkHeader reads "@@ -l[,n] +l[,n] @@".
func parseHunkHeader(h string) (oldStart, oldN, newN int, err error) {
	f := strings.Fields(h)
	if len(f) < 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q", h)
	}
	side := func(s string) (start, n int, err error) {
		a, b, found := strings.Cut(s[1:], ",")
		if start, err = strconv.Atoi(a); err != nil {
			return 0, 0, err
		}
		n = 1
		if found {
			n, err = strconv.Atoi(b)
		}
		return start, n, err
	}
	if oldStart, oldN, err = side(f[1]); err != nil {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q: %w", h, err)
	}
	_, newN, err = side(f[2])
	return oldStart, oldN, newN, err
}
