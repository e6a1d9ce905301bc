package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/google/go-cmp/cmp"
)

// TestDoctorJSONAndExitCode runs `ekstoken doctor` on a kubeconfig with a
// healthy context and a broken one: -o json gives the reports, and the
// exit code is 1 exactly when a check fails.
func TestDoctorJSONAndExitCode(t *testing.T) {
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	self := filepath.Join(bin, "ekstoken")
	kc := filepath.Join(home, "kc.yaml")
	env := map[string]string{
		"HOME": home, "PATH": bin, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE":             filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
	}
	files := map[string]string{
		self:                               "#!/bin/sh\n",
		env["AWS_CONFIG_FILE"]:             "[profile ci]\nregion = us-east-2\n",
		env["AWS_SHARED_CREDENTIALS_FILE"]: "[ci]\naws_access_key_id = AKIADOCTORJSON0TEST\naws_secret_access_key = dummy-secret-json\n",
		kc: `apiVersion: v1
kind: Config
current-context: good
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
contexts:
- {name: good, context: {cluster: c, user: good}}
- {name: bad, context: {cluster: c, user: bad}}
users:
- name: good
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ` + self + `
      args: [token, --cluster-name, c, --profile, ci]
- name: bad
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1alpha1
      command: ` + self + `
      args: [token, --cluster-name, c, --profile, ci]
`,
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "KUBECONFIG"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil { // the SDK tells unset from empty
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v) // the SDK reads the process's environment
	}
	doc := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), Env{
			Args: append([]string{"doctor", "--kubeconfig", kc}, args...), Getenv: func(k string) string { return env[k] },
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Now: time.Now, Home: home, Version: "v9.9.9",
			Executable: func() (string, error) { return self, nil },
			// The network checks have their own tests; here they must
			// not leave the machine.
			DoctorRemote: func(context.Context, doctor.RemoteInput) []doctor.Check { return nil },
		})
		return out.String(), errb.String(), code
	}
	failed := func(r doctor.Report) bool { return r.Failed() }

	out, stderr, code := doc("--all-contexts", "-o", "json")
	var reps []doctor.Report
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, r := range reps {
		got[r.Context] = failed(r)
		if r.User != r.Context || r.File != kc {
			t.Errorf("report header %q %q %q", r.Context, r.User, r.File)
		}
	}
	if d := cmp.Diff(map[string]bool{"good": false, "bad": true}, got); d != "" {
		t.Errorf("failed per context (-want +got):\n%s\n%s", d, out)
	}
	if code != 1 || !strings.Contains(stderr, "a check failed") {
		t.Errorf("--all-contexts: code %d, stderr %q; want 1", code, stderr)
	}
	if strings.Contains(out, "dummy-secret") || strings.Contains(out, "k8s-aws-v1.") {
		t.Errorf("the report holds a secret:\n%s", out)
	}

	// The current context is the healthy one.
	out, stderr, code = doc()
	if code != 0 || stderr != "" || !strings.HasPrefix(out, "context good (user good, "+kc+")\n") || strings.Contains(out, "fail") {
		t.Errorf("doctor: code %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
	out, _, code = doc("--context", "bad")
	if code != 1 || !strings.Contains(out, "\nfail  kubeconfig ") || !strings.Contains(out, "\n      → kubectl config set-credentials bad --exec-api-version=client.authentication.k8s.io/v1beta1") {
		t.Errorf("doctor --context bad: code %d, stdout:\n%s", code, out)
	}
	if _, stderr, code = doc("-o", "yaml"); code != 1 || !strings.Contains(stderr, "use text or json") {
		t.Errorf("-o yaml: code %d, stderr %q", code, stderr)
	}
}
