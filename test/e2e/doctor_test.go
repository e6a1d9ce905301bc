package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
)

// TestDoctor runs `ekstoken doctor` as a person would, through the whole
// chain: the local checks, then STS and EKS on moto_server and the
// cluster on fakeeks, which maps the ARN as an access entry would.
func TestDoctor(t *testing.T) {
	// Its own moto_server: the cluster it creates must not show in the
	// listings of other tests.
	motoURL := testenv.StartMoto(t)
	sb := newSandbox(t)
	env := sb.withKeys("AWS_ENDPOINT_URL=" + motoURL)
	if r := run(t, sb.withKeys("AWS_PAGER="), awsCLIPath(t), "eks", "create-cluster", "--name", clusterName,
		"--role-arn", "arn:aws:iam::123456789012:role/eks", "--resources-vpc-config", "subnetIds=subnet-1",
		"--endpoint-url", motoURL, "--region", region, "--output", "json"); r.err != nil {
		t.Fatalf("aws eks create-cluster: %v\n%s", r.err, r.stderr)
	}
	start := func(mapping map[string]fakeeks.KubeUser) *fakeeks.Server {
		s, err := fakeeks.Start(fakeeks.Options{ClusterID: clusterName, Mapping: mapping,
			Identities: []fakeeks.Identity{{AccessKeyID: accessKeyID, SecretAccessKey: secretKey, ARN: motoUser}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	doc := func(t *testing.T, kc string) ([]doctor.Report, string, int) {
		t.Helper()
		stdout, stderr, code := runEkstoken(t, env, "doctor", "--kubeconfig", kc, "-o", "json")
		var reps []doctor.Report
		if err := json.Unmarshal([]byte(stdout), &reps); err != nil || len(reps) != 1 {
			t.Fatalf("doctor -o json: %v\n%s%s", err, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "k8s-aws-v1.") || strings.Contains(stdout+stderr, secretKey) {
			t.Error("doctor printed a token or the secret key")
		}
		return reps, stdout, code
	}

	t.Run("healthy", func(t *testing.T) {
		s := start(map[string]fakeeks.KubeUser{motoUser: {Username: "deployer", Groups: []string{"ops"}}})
		kc := writeKubeconfig(t, s, execUser("prod", v1beta1, tokenArgs...))
		reps, out, code := doc(t, kc)
		got := map[string]doctor.Status{}
		for _, c := range reps[0].Checks {
			if got[c.Name] == "" || got[c.Name] == doctor.OK {
				got[c.Name] = c.Status // a warn or fail is kept
			}
		}
		for _, name := range []string{"kubeconfig", "command", "region", "credentials", "token", "identity", "clock", "cluster", "eks"} {
			if got[name] != doctor.OK {
				t.Errorf("check %s is %q, want ok", name, got[name])
			}
		}
		if code != 0 || !strings.Contains(out, "deployer") {
			t.Errorf("doctor: exit %d\n%s", code, out)
		}
		text, _, _ := runEkstoken(t, env, "doctor", "--kubeconfig", kc)
		t.Logf("doctor:\n%s", text)
		// kubectl, through the same kubeconfig, is let in.
		if _, errOut, err := kubectl(t, env, kc, "prod", "auth", "whoami"); err != nil {
			t.Errorf("kubectl auth whoami: %v\n%s", err, errOut)
		}
	})

	t.Run("unmapped ARN", func(t *testing.T) {
		s := start(map[string]fakeeks.KubeUser{"arn:aws:iam::123456789012:role/Someone": {Username: "x"}})
		kc := writeKubeconfig(t, s, execUser("prod", v1beta1, tokenArgs...))
		reps, out, code := doc(t, kc)
		var cluster doctor.Check
		for _, c := range reps[0].Checks {
			if c.Name == "cluster" {
				cluster = c
			}
		}
		text, _, _ := runEkstoken(t, env, "doctor", "--kubeconfig", kc)
		t.Logf("doctor, unmapped:\n%s", text)
		if code != 1 || cluster.Status != doctor.Fail || !strings.Contains(cluster.Fix, "--principal-arn "+motoUser) {
			t.Errorf("doctor with an unmapped ARN: exit %d, cluster check %+v\n%s", code, cluster, out)
		}
	})
}
