package doctor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

// whoamiKubeconfig writes a kubeconfig with one ekstoken context per
// cluster name against server s (or server, when s is nil).
func whoamiKubeconfig(t *testing.T, server string, ca []byte, clusters ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\ncurrent-context: %s\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\ncontexts:\n",
		clusters[0], server, base64.StdEncoding.EncodeToString(ca))
	for _, c := range clusters {
		fmt.Fprintf(&b, "- name: %s\n  context: {cluster: c, user: %s}\n", c, c)
	}
	b.WriteString("users:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "- name: %s\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ekstoken\n      args: [token, --cluster-name, %s, --region, eu-west-1]\n", c, c)
	}
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWhoami(t *testing.T) {
	motoURL := testenv.StartMoto(t)
	akid, secret, session := assumeRole(t, motoURL, "arn:aws:iam::123456789012:role/Admin", "alice")
	const arn = "arn:aws:sts::123456789012:assumed-role/Admin/alice"
	const role = "arn:aws:iam::123456789012:role/Admin"
	// The fake cluster knows moto's role session, as EKS knows STS's.
	s, err := fakeeks.Start(fakeeks.Options{ClusterID: "prod",
		Identities: []fakeeks.Identity{{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: session, ARN: arn}},
		Mapping:    map[string]fakeeks.KubeUser{role: {Username: "admin", Groups: []string{"ops"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	kc := whoamiKubeconfig(t, s.URL, s.CAData, "prod", "staging")
	dead := whoamiKubeconfig(t, closedURL(t, "https"), s.CAData, "prod")

	var asked []awsauth.Options
	env := func(now func() time.Time) WhoamiEnv {
		return WhoamiEnv{Getenv: func(string) string { return "" }, Home: t.TempDir(), Now: now,
			Resolve: func(_ context.Context, o awsauth.Options) (awsauth.Result, error) {
				asked = append(asked, o)
				cfg := awsConfig(motoURL, o.Region, akid, secret, session)
				c, _ := cfg.Credentials.Retrieve(context.Background())
				return awsauth.Result{Config: cfg, Credentials: c}, nil
			}}
	}
	id := &AWSIdentity{Account: "123456789012", ARN: arn, Role: role}
	for _, tc := range []struct {
		name   string
		now    func() time.Time
		in     WhoamiInput
		want   WhoamiResult
		failed string // name of the check that fails
		fix    string
	}{
		{name: "current context", now: time.Now, in: WhoamiInput{FromKubeconfig: true, Kubeconfig: kc},
			want: WhoamiResult{Context: "prod", Cluster: "prod", Region: "eu-west-1", Server: s.URL, AWS: id,
				Kubernetes: &KubeUser{Username: "admin", Groups: []string{"ops", "system:authenticated"}}}},
		{name: "token for another cluster", now: time.Now, in: WhoamiInput{FromKubeconfig: true, Kubeconfig: kc, Context: "staging"},
			want:   WhoamiResult{Context: "staging", Cluster: "staging", Region: "eu-west-1", Server: s.URL, AWS: id},
			failed: "cluster", fix: "--cluster-name"},
		{name: "unreachable server", now: time.Now, in: WhoamiInput{FromKubeconfig: true, Kubeconfig: dead},
			want:   WhoamiResult{Context: "prod", Cluster: "prod", Region: "eu-west-1", AWS: id},
			failed: "cluster", fix: "VPN"},
		{name: "token flags", now: time.Now, in: WhoamiInput{Request: tokencache.Request{Region: "us-east-2", Profile: "p"}},
			want: WhoamiResult{Region: "us-east-2", AWS: id}},
		{name: "clock far behind", now: func() time.Time { return time.Now().Add(-10 * time.Minute) },
			in:   WhoamiInput{Request: tokencache.Request{Region: "eu-west-1"}},
			want: WhoamiResult{Region: "eu-west-1", AWS: id}, failed: "clock", fix: "timedatectl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Whoami(context.Background(), env(tc.now), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			f, failed := res.Failed()
			if tc.failed == "" && failed || tc.failed != "" && (f.Name != tc.failed || !strings.Contains(f.Fix, tc.fix)) {
				t.Fatalf("failed check = %+v (%v), want %q with fix %q; checks %+v", f, failed, tc.failed, tc.fix, res.Checks)
			}
			res.Checks = nil
			if tc.name == "unreachable server" {
				res.Server = ""
			}
			if diff := cmp.Diff(tc.want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
	if last := asked[len(asked)-1]; last.Profile != "" || last.Region != "eu-west-1" {
		t.Errorf("resolve options = %+v", last)
	}
	if o := asked[3]; o.Profile != "p" || o.Region != "us-east-2" {
		t.Errorf("token flags reached resolve as %+v", o)
	}

	t.Run("output", func(t *testing.T) {
		res, err := Whoami(context.Background(), env(time.Now), WhoamiInput{FromKubeconfig: true, Kubeconfig: kc})
		if err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		if err := WriteWhoami(&text, res, false); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"AWS account      123456789012\n", "AWS ARN          " + arn + "\n", "IAM role         " + role + "\n",
			"context          prod\n", "cluster          prod (eu-west-1)\n", "Kubernetes user  admin\n", "groups           ops, system:authenticated\n"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("text output lacks %q:\n%s", want, text.String())
			}
		}
		if err := WriteWhoami(&js, res, true); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Context    string
			AWS        AWSIdentity
			Kubernetes KubeUser
			Checks     []Check
		}
		if err := json.Unmarshal(js.Bytes(), &got); err != nil {
			t.Fatalf("json: %v\n%s", err, js.String())
		}
		if got.Context != "prod" || got.AWS != *id || got.Kubernetes.Username != "admin" || len(got.Checks) != 3 {
			t.Errorf("json = %+v\n%s", got, js.String())
		}
		if strings.Contains(js.String()+text.String(), "k8s-aws-v1.") || strings.Contains(js.String()+text.String(), secret) {
			t.Error("output holds a token or a secret")
		}
	})
}

func TestWhoamiCredentialsFail(t *testing.T) {
	env := WhoamiEnv{Getenv: func(string) string { return "" }, Now: time.Now,
		Resolve: func(context.Context, awsauth.Options) (awsauth.Result, error) {
			return awsauth.Result{}, fmt.Errorf("the SSO session for profile %q has expired: run aws sso login --profile dev", "dev")
		}}
	res, err := Whoami(context.Background(), env, WhoamiInput{Request: tokencache.Request{Profile: "dev"}})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := res.Failed(); !ok || f.Name != "credentials" || !strings.Contains(f.Detail, "aws sso login --profile dev") || res.AWS != nil {
		t.Errorf("result = %+v", res)
	}
}

func TestLoadContext(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, _ := os.ReadFile(write("ca.pem", "PEM"))
	a := write("a", `current-context: a1
contexts:
- {name: a1, context: {cluster: ca, user: ua}}
- {name: shared, context: {cluster: ca, user: ua}}
clusters:
- {name: ca, cluster: {server: "https://a", certificate-authority: ca.pem}}
users:
- name: ua
  user:
    exec:
      command: aws
      args: [--region, us-west-2, eks, get-token, --cluster-name, a, --output, json]
      env: [{name: AWS_PROFILE, value: dev}]
`)
	b := write("b", `current-context: b1
contexts:
- {name: b1, context: {cluster: cb, user: ub}}
- {name: shared, context: {cluster: cb, user: ub}}
clusters:
- {name: cb, cluster: {server: "https://b", insecure-skip-tls-verify: true}}
- {name: ca, cluster: {server: "https://not-this-one"}}
users:
- {name: ub, user: {token: static}}
`)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		files []string
		name  string
		want  KubeContext
		err   string
	}{
		{[]string{missing, a, b}, "", KubeContext{Name: "a1", File: a, User: "ua", Cluster: "ca", Target: Target{Server: "https://a", CAData: ca},
			Exec: &Exec{Command: "aws", Args: []string{"--region", "us-west-2", "eks", "get-token", "--cluster-name", "a", "--output", "json"}, Env: map[string]string{"AWS_PROFILE": "dev"}}}, ""},
		{[]string{b, a}, "", KubeContext{Name: "b1", File: b, User: "ub", Cluster: "cb", Target: Target{Server: "https://b", Insecure: true}}, ""},
		{[]string{b, a}, "shared", KubeContext{Name: "shared", File: b, User: "ub", Cluster: "cb", Target: Target{Server: "https://b", Insecure: true}}, ""},
		{[]string{a, b}, "nope", KubeContext{}, `no context "nope"`},
		{[]string{missing}, "", KubeContext{}, "no kubeconfig"},
	} {
		got, err := LoadContext(tc.files, tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %q: err %v, want %q", tc.files, tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%v %q (-want +got):\n%s", tc.files, tc.name, diff)
		}
	}
}

func TestTokenRequest(t *testing.T) {
	for _, tc := range []struct {
		command string
		args    []string
		want    tokencache.Request
		err     string
	}{
		{"ekstoken", []string{"token", "--cluster-name", "p", "--region", "eu-west-1", "--profile", "dev", "--no-cache"},
			tokencache.Request{ClusterName: "p", Region: "eu-west-1", Profile: "dev"}, ""},
		{"/usr/local/bin/ekstoken", []string{"--region=eu-west-1", "eks", "get-token", "--cluster-id", "id-1", "--output", "json", "--role", "arn:r"},
			tokencache.Request{ClusterID: "id-1", Region: "eu-west-1", RoleARN: "arn:r"}, ""},
		{`C:\bin\aws.exe`, []string{"eks", "get-token", "--cluster-name", "p", "--role-arn", "arn:r", "--session-name", "s", "--external-id", "e"},
			tokencache.Request{ClusterName: "p", RoleARN: "arn:r", SessionName: "s", ExternalID: "e"}, ""},
		{"aws-iam-authenticator", []string{"token", "-i", "p"}, tokencache.Request{}, "ekstoken setup --dry-run"},
		{"ekstoken", []string{"status"}, tokencache.Request{}, "not a token command"},
		{"ekstoken", []string{"token", "--region", "x"}, tokencache.Request{}, "no --cluster-name"},
		{"ekstoken", []string{"token", "--cluster-name"}, tokencache.Request{}, "has no value"},
	} {
		got, err := (&Exec{Command: tc.command, Args: tc.args}).TokenRequest()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %v: err %v, want %q", tc.command, tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %v = %+v, %v; want %+v", tc.command, tc.args, got, err, tc.want)
		}
	}
}

func TestWithExecEnv(t *testing.T) {
	process := map[string]string{"AWS_REGION": "us-east-1"}
	getenv := func(k string) string { return process[k] }
	r, merged := withExecEnv(tokencache.Request{ClusterName: "p"}, map[string]string{"AWS_PROFILE": "dev", "AWS_REGION": "eu-west-1"}, getenv)
	if r.Profile != "dev" || r.Region != "eu-west-1" || merged("AWS_REGION") != "eu-west-1" {
		t.Errorf("request %+v, region %q", r, merged("AWS_REGION"))
	}
	// Keys in the environment beat a profile from env, as the SDK decides.
	process["AWS_ACCESS_KEY_ID"], process["AWS_SECRET_ACCESS_KEY"] = "AKID", "secret"
	if r, _ := withExecEnv(tokencache.Request{ClusterName: "p"}, map[string]string{"AWS_PROFILE": "dev"}, getenv); r.Profile != "" {
		t.Errorf("profile %q chosen over environment keys", r.Profile)
	}
	// Flags beat env.
	if r, _ := withExecEnv(tokencache.Request{Profile: "flag", Region: "r"}, map[string]string{"AWS_PROFILE": "dev", "AWS_REGION": "x"}, getenv); r.Profile != "flag" || r.Region != "r" {
		t.Errorf("request %+v", r)
	}
}
