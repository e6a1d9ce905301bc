package e2e

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/kubeconfig"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"gopkg.in/yaml.v3"
)

// kubeconfigTestdata is internal/kubeconfig's testdata: the kubeconfigs
// its unit tests rewrite, checked here against the real tools.
func kubeconfigTestdata(t *testing.T) string {
	t.Helper()
	root, err := devbin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "internal", "kubeconfig", "testdata")
}

// TestLiveAWSUpdateKubeconfig regenerates internal/kubeconfig's
// testdata/input/aws-role.yaml with the real aws CLI against moto, checks
// it has the committed layout (only moto's random endpoint and CA differ)
// and that Rewrite converts it.
func TestLiveAWSUpdateKubeconfig(t *testing.T) {
	t.Parallel()
	aws := awsCLIPath(t)
	// Its own moto: TestUpdateKubeconfig's --all must not see this cluster.
	endpoint := testenv.StartMoto(t)
	testdata := kubeconfigTestdata(t)
	sb := newSandbox(t)
	env := sb.with("AWS_ACCESS_KEY_ID=AKIDEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=dummy-secret-key", "AWS_PAGER=")
	awsRun := func(args ...string) {
		t.Helper()
		r := harnessRun(t, env, sb.home, aws, append(args, "--endpoint-url", endpoint, "--region", "us-west-2")...)
		if r.err != nil {
			t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
		}
	}
	awsRun("eks", "create-cluster", "--name", "demo",
		"--role-arn", "arn:aws:iam::123456789012:role/eks-cluster",
		"--resources-vpc-config", "subnetIds=subnet-1,subnet-2")
	kc := filepath.Join(sb.home, "kubeconfig")
	awsRun("eks", "update-kubeconfig", "--name", "demo", "--kubeconfig", kc,
		"--role-arn", "arn:aws:iam::123456789012:role/eks-admin")
	live := readFile(t, kc)

	// Same file as the committed one once moto's random values are swapped.
	committed := readFile(t, filepath.Join(testdata, "input", "aws-role.yaml"))
	random := regexp.MustCompile(`(?m)^(\s*(?:certificate-authority-data|server): ).*$`)
	pick := func(b []byte) [][]byte { return random.FindAll(b, -1) }
	liveVals, committedVals := pick(live), pick(committed)
	if len(liveVals) != 2 || len(committedVals) != 2 {
		t.Fatalf("expected server and CA lines:\n%s", live)
	}
	normalized := committed
	for i := range committedVals {
		normalized = bytes.Replace(normalized, committedVals[i], liveVals[i], 1)
	}
	if !bytes.Equal(live, normalized) {
		t.Errorf("the aws CLI now writes a different kubeconfig; regenerate internal/kubeconfig/testdata/input/aws-*.yaml:\n%s",
			kubeconfig.Diff("aws-role.yaml", normalized, live))
	}

	out, changes, err := kubeconfig.Rewrite(live, kubeconfig.RewriteOptions{Command: "ekstoken"})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Summary != "ekstoken token --cluster-name demo --region us-west-2 --role-arn arn:aws:iam::123456789012:role/eks-admin" {
		t.Errorf("changes: %v", changes)
	}
	// Everything but the user's exec entry is untouched.
	wantOut := readFile(t, filepath.Join(testdata, "rewrite", "aws-role.yaml.golden"))
	for i := range committedVals {
		wantOut = bytes.Replace(wantOut, committedVals[i], liveVals[i], 1)
	}
	if !bytes.Equal(out, wantOut) {
		t.Errorf("Rewrite of the live file:\n%s", kubeconfig.Diff("kubeconfig", wantOut, out))
	}
	again, changes, err := kubeconfig.Rewrite(out, kubeconfig.RewriteOptions{Command: "ekstoken"})
	if err != nil || len(changes) != 0 || !bytes.Equal(again, out) {
		t.Errorf("second Rewrite: %v %v", changes, err)
	}
}

// viewUser is a user as `kubectl config view -o json` prints it, and as
// the golden file says it.
type viewUser struct {
	Name string
	User struct {
		Exec *struct {
			Command string
			Args    []string
		}
	}
}

// kubectl itself loads every golden output of internal/kubeconfig (JSON
// included) and sees the exec users Rewrite wrote.
func TestKubectlLoadsOutputs(t *testing.T) {
	t.Parallel()
	kubectl := kubectlPath(t)
	goldens, _ := filepath.Glob(filepath.Join(kubeconfigTestdata(t), "*", "*.golden"))
	if len(goldens) == 0 {
		t.Fatal("no golden files")
	}
	sb := newSandbox(t)
	for _, g := range goldens {
		name := filepath.Base(filepath.Dir(g)) + "/" + filepath.Base(g)
		r := harnessRun(t, sb.with(), sb.home, kubectl, "config", "view", "--raw", "-o", "json", "--kubeconfig", g)
		if r.err != nil {
			t.Errorf("kubectl cannot load %s: %v\n%s", name, r.err, r.stderr)
			continue
		}
		var seen struct{ Users []viewUser }
		if err := json.Unmarshal([]byte(r.stdout), &seen); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want struct{ Users []viewUser }
		if err := yaml.Unmarshal(readFile(t, g), &want); err != nil {
			t.Fatal(err)
		}
		if len(seen.Users) != len(want.Users) {
			t.Errorf("%s: kubectl sees %d users, want %d", name, len(seen.Users), len(want.Users))
			continue
		}
		for _, u := range want.Users {
			if u.User.Exec == nil {
				continue
			}
			i := slices.IndexFunc(seen.Users, func(s viewUser) bool { return s.Name == u.Name })
			if i < 0 {
				t.Errorf("%s: kubectl does not see user %s", name, u.Name)
				continue
			}
			got := seen.Users[i].User.Exec
			if got == nil || got.Command != u.User.Exec.Command || !slices.Equal(got.Args, u.User.Exec.Args) {
				t.Errorf("%s: user %s: kubectl sees %+v", name, u.Name, got)
			}
		}
	}
}
