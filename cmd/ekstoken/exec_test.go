package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

const (
	apiV1      = "client.authentication.k8s.io/v1"
	apiV1beta1 = "client.authentication.k8s.io/v1beta1"
)

var plugin struct {
	once     sync.Once
	dir, bin string
	err      error
}

// fakePlugin builds internal/execwrap/fakeplugin once for the package.
func fakePlugin(t *testing.T) string {
	t.Helper()
	testenv.SkipIfShort(t, "builds the fake plugin")
	plugin.once.Do(func() {
		if plugin.dir, plugin.err = os.MkdirTemp("", "ekstoken-fakeplugin-"); plugin.err == nil {
			plugin.bin, plugin.err = devbin.BuildFakePlugin(plugin.dir)
		}
	})
	if plugin.err != nil {
		t.Fatal(plugin.err)
	}
	return plugin.bin
}

// execEnv is a sandbox for a wrapped plugin that counts its runs in the
// returned file, as kubectl would run it for apiVersion.
func execEnv(t *testing.T, apiVersion string, kv ...string) (env []string, runs string) {
	t.Helper()
	sb := harness.New(t, harness.Options{})
	runs = filepath.Join(t.TempDir(), "runs")
	env = sb.Env(append([]string{
		"FAKE_RUNS=" + runs,
		`KUBERNETES_EXEC_INFO={"kind":"ExecCredential","apiVersion":"` + apiVersion + `","spec":{"interactive":false}}`,
	}, kv...)...)
	return env, runs
}

func countRuns(t *testing.T, runs string) int {
	t.Helper()
	b, err := os.ReadFile(runs)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// A hit of a wrapped plugin is served by the fast path, before the SDK
// and cobra initialize, as a token hit is.
func TestExecHitSkipsSDKInit(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	for _, api := range []string{apiV1, apiV1beta1} {
		t.Run(api, func(t *testing.T) {
			env, runs := execEnv(t, api, "AWS_PROFILE=team-a")
			args := []string{"exec", "--", fake, "get-token", "--cluster", "a"}
			missOut, missInits := initTrace(t, bin, env, args...)
			if !anyMatch(heavy, missInits) {
				t.Fatalf("the miss ran no cobra or SDK init; the trace is not what this test expects: %v", missInits)
			}
			hitOut, hitInits := initTrace(t, bin, env, args...)
			checkLightHit(t, hitInits)
			if hitOut != missOut || countRuns(t, runs) != 1 {
				t.Errorf("the hit printed %q after the miss printed %q (%d plugin runs)", hitOut, missOut, countRuns(t, runs))
			}
			var c struct{ APIVersion string }
			if err := json.Unmarshal([]byte(hitOut), &c); err != nil || c.APIVersion != api {
				t.Errorf("hit answered apiVersion %q (%v), kubectl asked for %q", c.APIVersion, err, api)
			}
		})
	}
}

// Parallel cold calls (kubectl in several shells, a prompt and a
// completion) run the plugin once: the others wait on the lock and read
// the entry it wrote.
func TestExecParallelColdCallsRunPluginOnce(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	env, runs := execEnv(t, apiV1, "FAKE_SLEEP=300ms")
	const n = 6
	run := harness.Proc{Env: env}.Prepare(t, bin, "exec", "--", fake)
	results := make([]harness.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = run() })
	}
	wg.Wait()
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("call %d: %v\n%s", i, r.Err, r.Stderr)
		}
		if r.Stdout != results[0].Stdout {
			t.Errorf("call %d answered %q, call 0 %q", i, r.Stdout, results[0].Stdout)
		}
	}
	if c := countRuns(t, runs); c != 1 {
		t.Errorf("%d parallel cold calls ran the plugin %d times, want once", n, c)
	}
}

// Environments that choose another identity never share an entry; the
// same identity does.
func TestExecIdentitiesDoNotShareEntries(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	env, runs := execEnv(t, apiV1)
	for _, tc := range []struct{ cmd, variable string }{
		{"aws", "AWS_PROFILE"}, {"aws", "AWS_ROLE_ARN"}, {"gke-gcloud-auth-plugin", "CLOUDSDK_CORE_ACCOUNT"},
		{"gke-gcloud-auth-plugin", "CLOUDSDK_ACTIVE_CONFIG_NAME"}, {"kubelogin", "AZURE_CLIENT_ID"}, {"kubelogin", "AAD_SERVICE_PRINCIPAL_CLIENT_ID"},
		{"corp-login", "AWS_PROFILE"}, {"corp-login", "AZURE_TENANT_ID"},
	} {
		t.Run(tc.cmd+"/"+tc.variable, func(t *testing.T) {
			// The plugin under a known plugin's name, so that its list applies.
			dir := t.TempDir()
			named := filepath.Join(dir, tc.cmd+filepath.Ext(fake))
			if err := os.Link(fake, named); err != nil {
				t.Skip("no hard links here:", err)
			}
			tokens := map[string]string{}
			for _, who := range []string{"alice", "bob", "alice", "bob"} {
				e := harness.With(env, tc.variable+"="+who, "FAKE_IDENTITY="+who)
				r := harness.Proc{Env: e}.MustExit(t, bin, "exec", "--", named)
				if r.Err != nil {
					t.Fatalf("%s: %v\n%s", who, r.Err, r.Stderr)
				}
				if !strings.Contains(r.Stdout, "-"+who+`"`) {
					t.Fatalf("%s=%s was answered %s", tc.variable, who, r.Stdout)
				}
				if prev, ok := tokens[who]; ok && prev != r.Stdout {
					t.Errorf("%s: second call not served from its entry", who)
				}
				tokens[who] = r.Stdout
			}
		})
	}
	if c := countRuns(t, runs); c != 16 {
		t.Errorf("%d plugin runs for 8 cases of 2 identities, want 16", c)
	}
}

// A failing plugin's exit code and stderr are ekstoken's; stdout stays
// empty and the next call runs the plugin again.
func TestExecPluginFailurePassesThrough(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	for _, code := range []int{1, 3, 77} {
		env, runs := execEnv(t, apiV1, "FAKE_FAIL="+itoa(code))
		for i := 1; i <= 2; i++ {
			r := harness.Proc{Env: env}.MustExit(t, bin, "exec", "--", fake)
			if r.Code() != code || r.Stdout != "" || !strings.Contains(r.Stderr, "failing on demand") {
				t.Errorf("exit %d: ekstoken exited %d, stdout %q, stderr %q", code, r.Code(), r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stderr, "ekstoken:") {
				t.Errorf("exit %d: ekstoken added to the plugin's error: %q", code, r.Stderr)
			}
			if countRuns(t, runs) != i {
				t.Errorf("exit %d: call %d: %d runs", code, i, countRuns(t, runs))
			}
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// kubectl, the real one, authenticates to the fake EKS API server through
// a wrapped plugin (ekstoken itself, uncached, behind the counting fake
// plugin): the first command runs it, the next ones are served from the
// exec cache.
func TestExecKubectlThroughWrappedPlugin(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	testenv.SkipIfShort(t, "runs kubectl")
	kubectl := testenv.PlainKubectl(t)
	const cluster, keyID, secret = "wrapped", "AKIDWRAPPED", "wrapped-secret"
	srv, err := fakeeks.Start(fakeeks.Options{ClusterID: cluster, Identities: []fakeeks.Identity{
		{AccessKeyID: keyID, SecretAccessKey: secret, ARN: "arn:aws:iam::111122223333:user/wrapped"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, api := range []string{apiV1, apiV1beta1} {
		t.Run(api, func(t *testing.T) {
			sb := harness.New(t, harness.Options{})
			runs := filepath.Join(t.TempDir(), "runs")
			kc := filepath.Join(t.TempDir(), "kubeconfig")
			user := fakeeks.User{
				Name: "wrapped", Command: bin, APIVersion: api, InteractiveMode: "Never",
				Args: []string{"exec", "--", fake, "token", "--no-cache", "--cluster-name", cluster, "--region", "us-east-1"},
				Env:  map[string]string{"FAKE_RUNS": runs, "FAKE_DELEGATE": bin},
			}
			if err := os.WriteFile(kc, srv.Kubeconfig(user), 0o600); err != nil {
				t.Fatal(err)
			}
			env := sb.Env("AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret)
			for i := range 3 {
				r := harness.Proc{Env: env}.Run(t, kubectl, "--kubeconfig", kc, "get", "namespaces")
				if r.Err != nil || !strings.Contains(r.Stdout, "kube-system") {
					t.Fatalf("kubectl get namespaces (call %d): %v\n%s%s", i, r.Err, r.Stdout, r.Stderr)
				}
			}
			if c := countRuns(t, runs); c != 1 {
				t.Errorf("3 kubectl commands ran the wrapped plugin %d times, want once", c)
			}
		})
	}
}

// A hit in the last stretch of the served life starts a background
// refresh (the real binary, detached): the plugin runs once more, without
// kubectl waiting, and the next hit serves its new credential.
func TestExecHitRefreshesAhead(t *testing.T) {
	bin, fake := build(t), fakePlugin(t)
	// 4 s of life, no margin: the refresh window is its second half.
	env, runs := execEnv(t, apiV1, "FAKE_EXPIRY=4s")
	args := []string{"exec", "--refresh-margin", "0s", "--", fake}
	first := harness.Proc{Env: env}.Run(t, bin, args...)
	if first.Err != nil || !strings.Contains(first.Stdout, "run1") {
		t.Fatalf("miss: %v %q %s", first.Err, first.Stdout, first.Stderr)
	}
	time.Sleep(2500 * time.Millisecond)
	hit := harness.Proc{Env: env}.Run(t, bin, args...)
	if hit.Err != nil || hit.Stdout != first.Stdout {
		t.Fatalf("the hit in the refresh window answered %q (%v), want the cached %q", hit.Stdout, hit.Err, first.Stdout)
	}
	deadline := time.Now().Add(10 * time.Second)
	for countRuns(t, runs) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := countRuns(t, runs); c != 2 {
		t.Fatalf("%d plugin runs, want 2: no background refresh", c)
	}
	for time.Now().Before(deadline) {
		next := harness.Proc{Env: env}.Run(t, bin, args...)
		if strings.Contains(next.Stdout, "run2") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("the refreshed credential was never served")
}
