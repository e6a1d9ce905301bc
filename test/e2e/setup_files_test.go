package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
)

// eksctlV1alpha1 is the exec entry of eksctl's aws-iam-authenticator form.
const eksctlV1alpha1 = `      apiVersion: client.authentication.k8s.io/v1alpha1
      args:
      - token
      - -i
      - e2e-cluster
      command: aws-iam-authenticator
      env: null
`

// eksctlContext is the context (and user) name eksctl writes.
const eksctlContext = "alice@e2e-cluster.us-west-2.eksctl.io"

// parseErrorLine matches the message of a file setup cannot parse.
var parseErrorLine = regexp.MustCompile(`(?m)^(.+): line (\d+): .+; the file is left untouched$`)

// Garbage and half-written kubeconfigs: setup fails, names the file and a
// line, and leaves the file byte for byte as it was, with no backup, lock
// or temporary file beside it. --dry-run fails the same way.
func TestSetupBrokenFiles(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)

	random := make([]byte, 1024)
	_, _ = rand.NewChaCha8([32]byte{'e', 'k', 's'}).Read(random)
	aws := awsKubeconfig(s.URL, s.CAData, "", "")
	awsLines := strings.SplitAfter(aws, "\n")
	awsLines[5] = strings.Replace(awsLines[5], "name", "na\x00me", 1)
	if !strings.Contains(awsLines[5], "\x00") {
		t.Fatalf("line 6 of the aws kubeconfig is %q", awsLines[5])
	}
	asJSON := string(s.Kubeconfig(fakeeks.User{Name: "eks", Command: "aws", Args: dropInArgs}))
	asYAML := handwrittenKubeconfig(s.URL, s.CAData, s.URL, s.CAData, "static-token")
	cutAfter := func(text, marker string, more int) string {
		i := strings.Index(text, marker)
		if i < 0 {
			t.Fatalf("no %q in the kubeconfig", marker)
		}
		return text[:i+len(marker)+more]
	}

	for _, tc := range []struct {
		name, content string
		line          int // the line the message must name; 0: any line of the file
	}{
		{"random bytes", string(random), 0},
		{"a NUL byte on line 6", strings.Join(awsLines, ""), 6},
		{"JSON cut after a third", asJSON[:len(asJSON)/3], 0},
		{"JSON cut after two thirds", asJSON[:2*len(asJSON)/3], 0},
		{"JSON without its closing brace", strings.TrimSuffix(asJSON, "}\n"), 0},
		{"YAML cut inside a quoted string", cutAfter(asYAML, `server: "https://`, 5), 0},
		{"YAML cut inside a flow mapping", cutAfter(asYAML, "context: {cluster: eks, user: prod-", 0), 0},
		{"YAML cut inside the exec entry's flow args", cutAfter(aws, "    exec:\n", 0) + "      args: [--region, us-w", 0},
		{"a list, not a mapping", "- apiVersion: v1\n- kind: Config\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kc := filepath.Join(dir, "config")
			writeFile(t, kc, tc.content)
			for _, args := range [][]string{{"--dry-run"}, {}} {
				r := ekstoken(t, env, append([]string{"setup", "--kubeconfig", kc}, args...)...)
				if r.code() == 0 || r.stdout != "" {
					t.Fatalf("setup %v: exit %d, stdout %q; want a failure and no stdout", args, r.code(), r.stdout)
				}
				m := parseErrorLine.FindStringSubmatch(r.stderr)
				if m == nil || m[1] != kc {
					t.Fatalf("setup %v: stderr does not name %s and a line:\n%s", args, kc, r.stderr)
				}
				line, _ := strconv.Atoi(m[2])
				if lines := strings.Count(tc.content, "\n") + 1; line < 1 || line > lines || tc.line != 0 && line != tc.line {
					t.Errorf("setup %v: the message names line %d of a file of %d lines (want %d, 0 is any):\n%s", args, line, lines, tc.line, r.stderr)
				}
				if !strings.Contains(r.stderr, "could not rewrite "+kc) {
					t.Errorf("setup %v: stderr does not end in a summary naming %s:\n%s", args, kc, r.stderr)
				}
				if got := readFile(t, kc); string(got) != tc.content {
					t.Errorf("setup %v changed the broken file", args)
				}
				if names := dirNames(t, dir); !slices.Equal(names, []string{"config"}) {
					t.Errorf("setup %v left %v beside the broken file", args, names)
				}
			}
		})
	}

	// In a KUBECONFIG list a broken file does not keep setup from the
	// others, but the run still fails.
	t.Run("one broken file in a list", func(t *testing.T) {
		dir := t.TempDir()
		good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
		writeFile(t, good, aws)
		writeFile(t, bad, asJSON[:len(asJSON)/2])
		r := ekstoken(t, append(slices.Clone(env), "KUBECONFIG="+bad+":"+good), "setup")
		if r.code() == 0 || !strings.Contains(r.stderr, "could not rewrite "+bad) {
			t.Errorf("exit %d, want a failure naming %s:\n%s", r.code(), bad, r.stderr)
		}
		if got := readFile(t, bad); string(got) != asJSON[:len(asJSON)/2] {
			t.Errorf("the broken file changed")
		}
		if got := parseKubeconfig(t, readFile(t, good)).exec(t, eksARN).Command; got != "ekstoken" {
			t.Errorf("the good file was not rewritten: command %q", got)
		}
		if b := backupsOf(t, bad); len(b) != 0 {
			t.Errorf("backups of the broken file: %v", b)
		}
	})
}

// With KUBECONFIG naming several files, setup works on each of them;
// --context limits it to the file that defines the context, and leaves
// the other byte for byte. kubectl then works with the merged files.
func TestSetupKubeconfigList(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	origA, origB := awsKubeconfig(s.URL, s.CAData, "", ""), eksctlKubeconfig(s.URL, s.CAData, eksctlV1alpha1)
	writeFile(t, a, origA)
	writeFile(t, b, origB)
	// kubectl skips a missing file of the list; so does setup.
	env = append(env, "KUBECONFIG="+strings.Join([]string{a, filepath.Join(dir, "missing.yaml"), b}, ":"))
	works := func(t *testing.T, context string) bool {
		t.Helper()
		r := run(t, env, kubectlPath(t), "--context", context, "get", "namespaces", "-o", "name")
		return r.err == nil
	}
	if works(t, eksARN) || works(t, eksctlContext) {
		t.Fatal("before setup, a context works")
	}

	r := mustEkstoken(t, env, "setup", "--dry-run")
	for _, f := range []string{a, b} {
		if !strings.Contains(r.stdout, "--- "+f+"\n+++ "+f+"\n") {
			t.Errorf("setup --dry-run prints no diff of %s:\n%s", f, r.stdout)
		}
	}
	if string(readFile(t, a)) != origA || string(readFile(t, b)) != origB {
		t.Fatal("setup --dry-run changed a file")
	}

	mustEkstoken(t, env, "setup", "--context", eksctlContext)
	if got := readFile(t, a); string(got) != origA {
		t.Errorf("setup --context %s changed %s, which does not define it:\n%s", eksctlContext, a, got)
	}
	if bk := backupsOf(t, a); len(bk) != 0 {
		t.Errorf("setup --context %s made backups of %s: %v", eksctlContext, a, bk)
	}
	if got := parseKubeconfig(t, readFile(t, b)).exec(t, eksctlContext); got.Command != "ekstoken" || got.APIVersion != v1beta1 {
		t.Errorf("setup --context %s did not rewrite its user: %+v", eksctlContext, got)
	}
	if !works(t, eksctlContext) {
		t.Errorf("after setup --context %s, kubectl fails as it", eksctlContext)
	}
	if works(t, eksARN) {
		t.Errorf("kubectl works as %s, which setup --context %s should have left alone", eksARN, eksctlContext)
	}

	afterB := readFile(t, b)
	r = mustEkstoken(t, env, "setup")
	if !strings.Contains(r.stderr, b+": nothing to change") {
		t.Errorf("setup does not say %s has nothing to change:\n%s", b, r.stderr)
	}
	if !bytes.Equal(readFile(t, b), afterB) {
		t.Errorf("setup changed %s again", b)
	}
	if got := parseKubeconfig(t, readFile(t, a)).exec(t, eksARN); got.Command != "ekstoken" || !slices.Equal(got.Args, nativeArgs) {
		t.Errorf("setup did not rewrite the user of %s: %+v", a, got)
	}
	for _, c := range []string{eksARN, eksctlContext} {
		if !works(t, c) {
			t.Errorf("after setup, kubectl fails as %s", c)
		}
	}

	// --undo puts back what setup changed in each file of the list.
	r = mustEkstoken(t, env, "setup", "--undo")
	if string(readFile(t, a)) != origA || string(readFile(t, b)) != origB {
		t.Errorf("setup --undo did not restore both files:\n%s", r.stderr)
	}
}

// Several kubeconfig files are merged as kubectl merges them: a context
// and its user may live in different files, a broken file does not stop the
// others, and a name no file defines is an error.
func TestSetupKubeconfigListMerged(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)

	t.Run("context and user in different files", func(t *testing.T) {
		dir := t.TempDir()
		contexts, users := filepath.Join(dir, "contexts"), filepath.Join(dir, "users")
		writeFile(t, contexts, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "+s.URL+
			"\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n")
		writeFile(t, users, "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    exec:\n"+
			"      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n"+
			"      args: [--region, us-west-2, eks, get-token, --cluster-name, e2e-cluster]\n")
		mustEkstoken(t, append(slices.Clone(env), "KUBECONFIG="+contexts+":"+users), "setup", "--context", "x")
		if got := parseKubeconfig(t, readFile(t, users)).exec(t, "u").Command; got != "ekstoken" {
			t.Errorf("user u of context x: command %q", got)
		}
	})

	t.Run("broken file before the one with the context", func(t *testing.T) {
		dir := t.TempDir()
		bad, good := filepath.Join(dir, "bad"), filepath.Join(dir, "good")
		writeFile(t, bad, "{\"apiVersion\": \"v1\", \"users\": [\n")
		writeFile(t, good, awsKubeconfig(s.URL, s.CAData, "", ""))
		r := ekstoken(t, append(slices.Clone(env), "KUBECONFIG="+bad+":"+good), "setup", "--context", eksARN)
		if r.code() == 0 || !strings.Contains(r.stderr, bad+": line 1: ") {
			t.Errorf("exit %d, want a failure naming %s and a line:\n%s", r.code(), bad, r.stderr)
		}
		if got := parseKubeconfig(t, readFile(t, good)).exec(t, eksARN).Command; got != "ekstoken" {
			t.Errorf("the file with the context was not rewritten: command %q", got)
		}
	})

	t.Run("unknown context", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		writeFile(t, a, awsKubeconfig(s.URL, s.CAData, "", ""))
		writeFile(t, b, eksctlKubeconfig(s.URL, s.CAData, eksctlV1alpha1))
		r := ekstoken(t, append(slices.Clone(env), "KUBECONFIG="+a+":"+b), "setup", "--context", "typo")
		if r.code() == 0 || !strings.Contains(r.stderr, `"typo"`) {
			t.Errorf("exit %d, want a failure naming the unknown context:\n%s", r.code(), r.stderr)
		}
	})
}

// KUBECONFIG may name one file twice, through a symlink: setup edits it
// once and does not report a conflict with itself.
func TestSetupSameFileTwice(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real"), filepath.Join(dir, "link")
	writeFile(t, real, awsKubeconfig(s.URL, s.CAData, "", ""))
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := ekstoken(t, append(slices.Clone(env), "KUBECONFIG="+link+":"+real), "setup")
	if r.code() != 0 {
		t.Fatalf("exit %d: %s", r.code(), r.stderr)
	}
	if got := parseKubeconfig(t, readFile(t, real)).exec(t, eksARN).Command; got != "ekstoken" {
		t.Errorf("command %q after setup", got)
	}
	if recs := undoRecords(t, env); len(recs) != 1 {
		t.Errorf("undo records %v, want one", recs)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"link", "real"}) {
		t.Errorf("beside the kubeconfig: %v", names)
	}
}
