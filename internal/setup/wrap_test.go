package setup

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A gcloud user without args and a kubelogin user with args: setup alone
// leaves them and moves the EKS user; --wrap --dry-run lists them in the
// diff and writes nothing; --wrap wraps them; --undo puts the file back
// byte for byte.
func TestRunWrap(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(t.TempDir(), "config")
	orig := kubeconfigWith("eks", "eks-user", "prod", "", "") +
		"- name: gke\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: gke-gcloud-auth-plugin\n      provideClusterInfo: true\n" +
		"- name: aks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - get-token\n      - --login # how\n      - azurecli\n      command: kubelogin\n" +
		"      env:\n      - name: AAD_LOGIN_METHOD\n        value: azurecli\n"
	write(t, path, orig)
	in := Input{Kubeconfig: path, Command: "ekstoken"}

	dry := in
	dry.DryRun = true
	r := runSetup(t, home, nil, dry)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if strings.Contains(r.stdout, "exec\n") || !strings.Contains(r.stderr, `left user "gke" alone`) || !strings.Contains(r.stderr, "--wrap") {
		t.Errorf("without --wrap:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}

	dry.Wrap = true
	r = runSetup(t, home, nil, dry)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, line := range []string{"+      args:\n+      - exec\n+      - --\n+      - gke-gcloud-auth-plugin\n", "+      - exec\n+      - --\n+      - kubelogin\n", "-      command: kubelogin\n+      command: ekstoken\n"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("dry-run diff lacks\n%s\nin\n%s", line, r.stdout)
		}
	}
	if string(read(t, path)) != orig {
		t.Fatal("a dry run wrote the file")
	}

	wrap := in
	wrap.Wrap = true
	if r = runSetup(t, home, nil, wrap); r.err != nil || !strings.Contains(r.stderr, "rewrote 3 users") {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	want := map[string]execOf{
		"eks-user": {Command: "ekstoken", Args: []string{"token", "--cluster-name", "prod", "--region", "eu-west-1"}, InteractiveMode: "IfAvailable"},
		"gke":      {Command: "ekstoken", Args: []string{"exec", "--", "gke-gcloud-auth-plugin"}},
		"aks":      {Command: "ekstoken", Args: []string{"exec", "--", "kubelogin", "get-token", "--login", "azurecli"}},
	}
	if diff := cmp.Diff(want, users(t, path)); diff != "" {
		t.Errorf("after setup --wrap (-want +got):\n%s", diff)
	}
	got := string(read(t, path))
	for _, kept := range []string{"      provideClusterInfo: true\n", "      - --login # how\n", "      env:\n      - name: AAD_LOGIN_METHOD\n        value: azurecli\n"} {
		if !strings.Contains(got, kept) {
			t.Errorf("lost %q:\n%s", kept, got)
		}
	}
	if r = runSetup(t, home, nil, wrap); r.err != nil || !strings.Contains(r.stderr, "nothing to change") || string(read(t, path)) != got {
		t.Errorf("second setup --wrap: %v\n%s", r.err, r.stderr)
	}

	if r = runSetup(t, home, nil, Input{Kubeconfig: path, Undo: true}); r.err != nil {
		t.Fatalf("undo: %v\n%s", r.err, r.stderr)
	}
	if back := string(read(t, path)); back != orig {
		t.Errorf("undo did not restore the file byte for byte:\n%s", back)
	}
}
