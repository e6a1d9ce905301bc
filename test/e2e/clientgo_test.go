package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// client-go, as controllers and tools other than kubectl use it, loads the
// kubeconfig and runs ekstoken in both forms.
func TestClientGo(t *testing.T) {
	t.Parallel()
	s := startEKS(t, nil)
	sb := newSandbox(t)
	plugin := sandboxedPlugin(t, sb.withKeys())
	users := []fakeeks.User{
		execUser("token", v1beta1, tokenArgs...),
		execUser("get-token", v1, dropInArgs...),
	}
	for i := range users {
		users[i].Command = plugin
	}
	kc := writeKubeconfig(t, s, users...)

	for i, u := range users {
		if i > 0 {
			_, cached := onlyEntry(t, sb.cacheDir)
			nextSecond(t, cached)
		}
		t.Run(u.Name, func(t *testing.T) {
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kc},
				&clientcmd.ConfigOverrides{CurrentContext: u.Name}).ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ExecProvider == nil || cfg.ExecProvider.Command != plugin {
				t.Fatalf("rest.Config does not run the plugin: %+v", cfg.ExecProvider)
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}

			list, err := client.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list namespaces: %v", err)
			}
			var names []string
			for _, ns := range list.Items {
				names = append(names, ns.Name)
			}
			if diff := cmp.Diff([]string{"default", "kube-system"}, names); diff != "" {
				t.Errorf("namespaces (-want +got):\n%s", diff)
			}

			review, err := client.AuthenticationV1().SelfSubjectReviews().Create(t.Context(),
				&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create SelfSubjectReview: %v", err)
			}
			if got := review.Status.UserInfo.Username; got != aliceARN {
				t.Errorf("username %q, want %q", got, aliceARN)
			}
		})
	}
	// Both forms are one identity: one entry, one token.
	onlyEntry(t, sb.cacheDir)
	checkStats(t, s, 0, 1)
}

// sandboxedPlugin writes a script that runs ekstoken with exactly env, plus
// the KUBERNETES_EXEC_INFO that client-go hands it. client-go starts exec
// plugins with the environment of its own process, the test's, which must
// not reach ekstoken.
func sandboxedPlugin(t *testing.T, env []string) string {
	t.Helper()
	if err := harness.CheckEnv(env); err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := `#!/bin/sh` + "\n" + `exec /usr/bin/env -i KUBERNETES_EXEC_INFO="$KUBERNETES_EXEC_INFO"`
	for _, kv := range env {
		script += " " + quote(kv)
	}
	script += " " + quote(ekstokenBin) + ` "$@"` + "\n"
	path := filepath.Join(t.TempDir(), "ekstoken-sandboxed")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// client-go is for these tests only: the binary must not link it.
func TestBinaryLinksNoKubernetesModule(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "version", "-m", ekstokenBin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "dep" && (strings.HasPrefix(f[1], "k8s.io/") || strings.HasPrefix(f[1], "sigs.k8s.io/")) {
			t.Errorf("ekstoken links %s", f[1])
		}
	}
}
