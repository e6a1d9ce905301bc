package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
)

// motoUser is the ARN moto's GetCallerIdentity gives any long-term keys.
const motoUser = "arn:aws:sts::123456789012:user/moto"

// TestWhoami runs `ekstoken whoami` as a person would: credentials from
// the environment, resolved by the binary; STS is moto_server, the
// cluster fakeeks, which maps the ARN as an access entry would. The same
// kubeconfig serves the real kubectl, whose `auth whoami` must agree.
func TestWhoami(t *testing.T) {
	motoURL := startMoto(t)
	start := func(mapping map[string]fakeeks.KubeUser) *fakeeks.Server {
		s, err := fakeeks.Start(fakeeks.Options{ClusterID: clusterName, Mapping: mapping,
			Identities: []fakeeks.Identity{{AccessKeyID: accessKeyID, SecretAccessKey: secretKey, ARN: motoUser}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	sb := newSandbox(t)
	env := sb.withKeys("AWS_ENDPOINT_URL_STS=" + motoURL)

	t.Run("healthy", func(t *testing.T) {
		s := start(map[string]fakeeks.KubeUser{motoUser: {Username: "deployer", Groups: []string{"ops"}}})
		kc := writeKubeconfig(t, s, execUser("prod", v1beta1, tokenArgs...))
		stdout, stderr, code := runEkstoken(t, env, "whoami", "--kubeconfig", kc, "-o", "json")
		if code != 0 {
			t.Fatalf("whoami -o json: exit %d\n%s", code, stderr)
		}
		var got struct {
			Context, Cluster, Region string
			AWS                      struct{ Account, ARN string }
			Kubernetes               struct {
				Username string
				Groups   []string
			}
			Checks []struct{ Name, Status string }
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("whoami -o json: %v\n%s", err, stdout)
		}
		if got.Context != "prod" || got.Cluster != clusterName || got.Region != region || got.AWS.ARN != motoUser ||
			got.AWS.Account != "123456789012" || got.Kubernetes.Username != "deployer" ||
			strings.Join(got.Kubernetes.Groups, ",") != "ops,system:authenticated" {
			t.Errorf("whoami -o json = %+v", got)
		}
		for _, c := range got.Checks {
			if c.Status != "ok" {
				t.Errorf("check %s is %s", c.Name, c.Status)
			}
		}
		if strings.Contains(stdout+stderr, "k8s-aws-v1.") || strings.Contains(stdout+stderr, secretKey) {
			t.Error("whoami printed a token or the secret key")
		}

		// The text block, from KUBECONFIG's current context.
		stdout, stderr, code = runEkstoken(t, append(env, "KUBECONFIG="+kc), "whoami")
		if code != 0 {
			t.Fatalf("whoami: exit %d\n%s", code, stderr)
		}
		t.Logf("whoami:\n%s", stdout)
		for _, want := range []string{"AWS ARN          " + motoUser, "Kubernetes user  deployer", "groups           ops, system:authenticated"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("whoami lacks %q:\n%s", want, stdout)
			}
		}

		// kubectl, through the same kubeconfig, sees the same user.
		out, errOut, err := kubectl(t, env, kc, "prod", "auth", "whoami", "-o", "json")
		if err != nil {
			t.Fatalf("kubectl auth whoami: %v\n%s", err, errOut)
		}
		var kw struct {
			Status struct{ UserInfo struct{ Username string } }
		}
		if err := json.Unmarshal([]byte(out), &kw); err != nil || kw.Status.UserInfo.Username != got.Kubernetes.Username {
			t.Errorf("kubectl auth whoami says %q (%v), ekstoken whoami %q", kw.Status.UserInfo.Username, err, got.Kubernetes.Username)
		}
	})

	t.Run("unmapped ARN", func(t *testing.T) {
		s := start(map[string]fakeeks.KubeUser{"arn:aws:iam::123456789012:role/Someone": {Username: "x"}})
		kc := writeKubeconfig(t, s, execUser("prod", v1beta1, dropInArgs...))
		stdout, stderr, code := runEkstoken(t, env, "whoami", "--kubeconfig", kc)
		if code != 1 {
			t.Fatalf("whoami with an unmapped ARN: exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		t.Logf("whoami, unmapped:\n%s%s", stdout, stderr)
		// The AWS identity is still shown; the error says what to add.
		if !strings.Contains(stdout, motoUser) {
			t.Errorf("stdout lacks the AWS identity:\n%s", stdout)
		}
		for _, want := range []string{"401", "aws eks create-access-entry --cluster-name " + clusterName + " --region " + region + " --principal-arn " + motoUser} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("token flags", func(t *testing.T) {
		stdout, stderr, code := runEkstoken(t, env, "whoami", "--region", region, "-o", "json")
		if code != 0 || !strings.Contains(stdout, `"arn": "`+motoUser+`"`) || strings.Contains(stdout, "kubernetes") {
			t.Errorf("whoami --region: exit %d\n%s%s", code, stdout, stderr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		_, stderr, code := runEkstoken(t, env, "whoami", "--context", "prod", "--cluster-name", "x")
		if code != 1 || !strings.Contains(stderr, "--context") {
			t.Errorf("whoami --context --cluster-name: exit %d\n%s", code, stderr)
		}
	})
}
