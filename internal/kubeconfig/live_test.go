package kubeconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv"
	"gopkg.in/yaml.v3"
)

// needTool returns the path of a tool; testenv decides what a missing one
// does to the test. -short runs no external tool.
func needTool(t *testing.T, name string) string {
	t.Helper()
	testenv.SkipIfShort(t, "runs "+name)
	return testenv.RequireTool(t, name)
}

// awsEnv is a closed environment for the aws CLI and moto: dummy keys, no
// IMDS, a throwaway HOME and config, nothing inherited but PATH.
func awsEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLEKEY",
		"AWS_SECRET_ACCESS_KEY=dummy-secret-key",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_PAGER=",
		"PYENV_VERSION=" + os.Getenv("PYENV_VERSION"),
		"PYENV_ROOT=" + os.Getenv("PYENV_ROOT"),
	}
}

// startMoto runs moto_server on a free 127.0.0.1 port until the test ends.
func startMoto(t *testing.T, home string) string {
	t.Helper()
	moto := needTool(t, "moto_server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = awsEnv(home)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveAWSUpdateKubeconfig regenerates testdata/input/aws-role.yaml
// with the real aws CLI against moto, checks it has the committed layout
// (only moto's random endpoint and CA differ) and that Rewrite converts it.
func TestLiveAWSUpdateKubeconfig(t *testing.T) {
	testenv.SkipIfShort(t, "starts moto_server and the aws CLI")
	aws := needTool(t, "aws")
	home := t.TempDir()
	endpoint := startMoto(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, aws, append(args, "--endpoint-url", endpoint, "--region", "us-west-2")...)
		cmd.Env = awsEnv(home)
		cmd.Dir = home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run("eks", "create-cluster", "--name", "demo",
		"--role-arn", "arn:aws:iam::123456789012:role/eks-cluster",
		"--resources-vpc-config", "subnetIds=subnet-1,subnet-2")
	kubeconfig := filepath.Join(home, "kubeconfig")
	run("eks", "update-kubeconfig", "--name", "demo", "--kubeconfig", kubeconfig,
		"--role-arn", "arn:aws:iam::123456789012:role/eks-admin")
	live, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	// Same file as the committed one once moto's random values are swapped.
	committed := read(t, "testdata/input/aws-role.yaml")
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
		t.Errorf("the aws CLI now writes a different kubeconfig; regenerate testdata/input/aws-*.yaml:\n%s", Diff("aws-role.yaml", normalized, live))
	}

	out, changes, err := Rewrite(live, RewriteOptions{Command: "ekstoken"})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Summary != "ekstoken token --cluster-name demo --region us-west-2 --role-arn arn:aws:iam::123456789012:role/eks-admin" {
		t.Errorf("changes: %v", changes)
	}
	// Everything but the user's exec entry is untouched.
	wantOut := read(t, "testdata/rewrite/aws-role.yaml.golden")
	for i := range committedVals {
		wantOut = bytes.Replace(wantOut, committedVals[i], liveVals[i], 1)
	}
	if !bytes.Equal(out, wantOut) {
		t.Errorf("Rewrite of the live file:\n%s", Diff("kubeconfig", wantOut, out))
	}
	again, changes, err := Rewrite(out, RewriteOptions{Command: "ekstoken"})
	if err != nil || len(changes) != 0 || !bytes.Equal(again, out) {
		t.Errorf("second Rewrite: %v %v", changes, err)
	}
}

// viewUser is a user as `kubectl config view -o json` prints it.
type viewUser struct {
	Name string
	User struct {
		Exec *struct {
			Command string
			Args    []string
		}
	}
}

// kubectl itself loads every golden output (JSON included) and sees the
// exec users Rewrite wrote.
func TestKubectlLoadsOutputs(t *testing.T) {
	kubectl := needTool(t, "kubectl")
	goldens, _ := filepath.Glob("testdata/*/*.golden")
	if len(goldens) == 0 {
		t.Fatal("no golden files")
	}
	for _, g := range goldens {
		cmd := exec.Command(kubectl, "config", "view", "--raw", "-o", "json", "--kubeconfig", g)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("kubectl cannot load %s: %v", g, err)
			continue
		}
		var seen struct{ Users []viewUser }
		if err := json.Unmarshal(out, &seen); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		var want kubeconfigDoc
		if err := yaml.Unmarshal(read(t, g), &want); err != nil {
			t.Fatal(err)
		}
		if len(seen.Users) != len(want.Users) {
			t.Errorf("%s: kubectl sees %d users, want %d", g, len(seen.Users), len(want.Users))
			continue
		}
		for _, u := range want.Users {
			if u.User.Exec == nil {
				continue
			}
			i := slices.IndexFunc(seen.Users, func(s viewUser) bool { return s.Name == u.Name })
			if i < 0 {
				t.Errorf("%s: kubectl does not see user %s", g, u.Name)
				continue
			}
			got := seen.Users[i].User.Exec
			if got == nil || got.Command != u.User.Exec.Command || !slices.Equal(got.Args, u.User.Exec.Args) {
				t.Errorf("%s: user %s: kubectl sees %+v", g, u.Name, got)
			}
		}
	}
}
