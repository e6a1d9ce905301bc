package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"gopkg.in/yaml.v3"
)

// `setup --wrap` turns a kubeconfig user of another exec plugin (the
// counting fake plugin, which delegates to an uncached ekstoken token)
// into `ekstoken exec -- PLUGIN ARGS`; the real kubectl then authenticates
// through it, running the plugin once for three commands; `setup --undo`
// gives the file back byte for byte.
func TestSetupWrapThenKubectl(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	testenv.SkipIfShort(t, "runs kubectl")
	kubectl := testenv.PlainKubectl(t)
	const cluster, keyID, secret = "towrap", "AKIDTOWRAP", "towrap-secret"
	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: keyID, SecretAccessKey: secret, ARN: "arn:aws:iam::111122223333:user/towrap"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sb := harness.New(t, harness.Options{})
	runs := filepath.Join(t.TempDir(), "runs")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	pluginArgs := []string{"token", "--no-cache", "--cluster-name", cluster, "--region", "us-east-1"}
	orig := srv.Kubeconfig(fakeeks.User{
		Name: "plugin", Command: fake, APIVersion: apiV1, InteractiveMode: "Never",
		Args: pluginArgs,
		Env:  map[string]string{"FAKE_RUNS": runs, "FAKE_DELEGATE": bin},
	})
	if err := os.WriteFile(kc, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	env := sb.Env("AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret)

	r := harness.Proc{Env: env}.Run(t, bin, "setup", "--kubeconfig", kc, "--command", bin)
	if r.Err != nil || !strings.Contains(r.Stderr, "--wrap") {
		t.Fatalf("setup without --wrap: %v\n%s", r.Err, r.Stderr)
	}
	if b, _ := os.ReadFile(kc); string(b) != string(orig) {
		t.Fatalf("setup without --wrap changed the plugin user:\n%s", b)
	}
	r = harness.Proc{Env: env}.Run(t, bin, "setup", "--wrap", "--kubeconfig", kc, "--command", bin)
	if r.Err != nil || r.Stdout != "" {
		t.Fatalf("setup --wrap: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	var doc struct {
		Users []struct {
			User struct {
				Exec struct {
					Command string
					Args    []string
					Env     []struct{ Name, Value string }
				}
			}
		}
	}
	b, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Users) != 1 {
		t.Fatalf("%v:\n%s", err, b)
	}
	ex := doc.Users[0].User.Exec
	if want := append([]string{"exec", "--", fake}, pluginArgs...); ex.Command != bin || strings.Join(ex.Args, "\x00") != strings.Join(want, "\x00") || len(ex.Env) != 2 {
		t.Fatalf("wrapped user runs %s %q with env %v:\n%s", ex.Command, ex.Args, ex.Env, b)
	}
	for i := range 3 {
		r := harness.Proc{Env: env}.Run(t, kubectl, "--kubeconfig", kc, "get", "namespaces")
		if r.Err != nil || !strings.Contains(r.Stdout, "kube-system") {
			t.Fatalf("kubectl get namespaces (call %d): %v\n%s%s", i, r.Err, r.Stdout, r.Stderr)
		}
	}
	if c := countRuns(t, runs); c != 1 {
		t.Errorf("3 kubectl commands ran the wrapped plugin %d times, want once", c)
	}
	r = harness.Proc{Env: env}.Run(t, bin, "setup", "--undo", "--kubeconfig", kc)
	if r.Err != nil {
		t.Fatalf("setup --undo: %v\n%s", r.Err, r.Stderr)
	}
	if b, _ := os.ReadFile(kc); string(b) != string(orig) {
		t.Errorf("setup --undo did not give the file back byte for byte:\n%s", b)
	}
}
