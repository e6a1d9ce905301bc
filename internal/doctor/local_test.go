package doctor_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/doctor"
	"github.com/ekstoken/ekstoken/internal/testenv"
	"github.com/ekstoken/ekstoken/internal/testenv/sandbox"
	"github.com/ekstoken/ekstoken/internal/tokencache"
	"github.com/google/go-cmp/cmp"
)

// Dummy keys: nothing here may reach AWS.
const (
	envKeyID  = "AKIAENVKEYS0000TEST"
	fileKeyID = "AKIAFILEKEYS000TEST"
)

// fixture is a private HOME with a kubeconfig, AWS files and a bin folder
// holding a stand-in for this ekstoken.
type fixture struct {
	home, bin, self, kubeconfig string
	env                         map[string]string
}

// user is the exec entry of the fixture's one context.
type user struct {
	apiVersion, command, mode string
	args                      []string
	env                       map[string]string
}

// awsVars are cleared for every test: the SDK reads the process's
// environment itself, and the developer's own must not leak in.
var awsVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "KUBECONFIG",
	"EKSTOKEN_CACHE_DIR", "KUBECACHEDIR",
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	home := t.TempDir()
	f := &fixture{home: home, bin: filepath.Join(home, "bin"), kubeconfig: filepath.Join(home, ".kube", "config"),
		env: map[string]string{"HOME": home, "AWS_EC2_METADATA_DISABLED": "true"}}
	for _, d := range []string{f.bin, filepath.Join(home, ".kube"), filepath.Join(home, ".aws")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The SDK computes its default file names from HOME once, at init:
	// name the files, as the sandbox does.
	f.env["AWS_CONFIG_FILE"] = filepath.Join(home, ".aws", "config")
	f.env["AWS_SHARED_CREDENTIALS_FILE"] = filepath.Join(home, ".aws", "credentials")
	f.self = f.writeExe(t, "ekstoken")
	f.env["PATH"] = f.bin
	return f
}

func (f *fixture) writeExe(t *testing.T, name string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	p := filepath.Join(f.bin, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) write(t *testing.T, rel, body string) string {
	t.Helper()
	p := filepath.Join(f.home, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubeconfig writes one context, ctx, whose user is u.
func (f *fixture) kubeconfigFor(t *testing.T, ctx string, u user) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\ncurrent-context: %s\n", ctx)
	fmt.Fprintf(&b, "clusters:\n- name: c-%s\n  cluster:\n    server: https://127.0.0.1:1\n", ctx)
	fmt.Fprintf(&b, "contexts:\n- name: %s\n  context:\n    cluster: c-%s\n    user: u-%s\n", ctx, ctx, ctx)
	fmt.Fprintf(&b, "users:\n- name: u-%s\n  user:\n    exec:\n      apiVersion: %s\n      command: %q\n", ctx, u.apiVersion, u.command)
	if u.mode != "" {
		fmt.Fprintf(&b, "      interactiveMode: %s\n", u.mode)
	}
	b.WriteString("      args:\n")
	for _, a := range u.args {
		fmt.Fprintf(&b, "      - %q\n", a)
	}
	if len(u.env) > 0 {
		b.WriteString("      env:\n")
		for k, v := range u.env {
			fmt.Fprintf(&b, "      - name: %s\n        value: %q\n", k, v)
		}
	}
	f.write(t, ".kube/config", b.String())
}

// run runs doctor on the fixture, with the fixture's environment also set
// in the process for the SDK.
func (f *fixture) run(t *testing.T, o doctor.Options) doctor.Report {
	t.Helper()
	// The SDK reads the process's environment: give it the fixture's for
	// the run only, so that the real kubectl still runs in a sandbox.
	restore := setProcessEnv(t, f.env)
	defer restore()
	o.Getenv = func(k string) string { return f.env[k] }
	o.Home = f.home
	o.Now = time.Now
	o.Executable = func() (string, error) { return f.self, nil }
	o.Version = "test"
	reps, err := doctor.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 {
		t.Fatalf("got %d reports, want 1", len(reps))
	}
	return reps[0]
}

// setProcessEnv makes env the process's AWS and HOME environment and
// returns what puts the old one back. The SDK tells unset from empty.
func setProcessEnv(t *testing.T, env map[string]string) func() {
	t.Helper()
	t.Setenv("HOME", os.Getenv("HOME")) // refuses t.Parallel
	keys := append(slices.Clone(awsVars), "HOME", "PATH", "AWS_EC2_METADATA_DISABLED")
	type saved struct {
		v  string
		ok bool
	}
	old := map[string]saved{}
	for _, k := range keys {
		v, ok := os.LookupEnv(k)
		old[k] = saved{v, ok}
		if err := setOrUnset(k, env[k], k != "HOME" && env[k] == ""); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for k, s := range old {
			if err := setOrUnset(k, s.v, !s.ok); err != nil {
				t.Error(err)
			}
		}
	}
}

func setOrUnset(k, v string, unset bool) error {
	if unset {
		return os.Unsetenv(k)
	}
	return os.Setenv(k, v)
}

func statuses(r doctor.Report) map[string]doctor.Status {
	m := map[string]doctor.Status{}
	for _, c := range r.Checks {
		if m[c.Name] != doctor.Fail && m[c.Name] != doctor.Warn {
			m[c.Name] = c.Status
		}
	}
	return m
}

func find(r doctor.Report, name string, st doctor.Status) (doctor.Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name && c.Status == st {
			return c, true
		}
	}
	return doctor.Check{}, false
}

func ekstokenUser(cluster, region string, extra ...string) user {
	args := []string{"token", "--cluster-name", cluster}
	if region != "" {
		args = append(args, "--region", region)
	}
	return user{apiVersion: "client.authentication.k8s.io/v1beta1", command: "ekstoken", args: append(args, extra...)}
}

func (f *fixture) keysProfile(t *testing.T, profile string) {
	t.Helper()
	f.write(t, ".aws/credentials", fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = dummy-secret-%s\n", profile, fileKeyID, profile))
}

// secrets that must never appear in a report.
func checkNoSecrets(t *testing.T, r doctor.Report) {
	t.Helper()
	all := fmt.Sprint(r)
	for _, s := range []string{"dummy-secret", "k8s-aws-v1.", "env-secret"} {
		if strings.Contains(all, s) {
			t.Errorf("the report holds a secret (%q): %s", s, all)
		}
	}
}

// TestBrokenSetups builds each broken setup on purpose and checks that
// doctor names the failing check, its status and its fix.
func TestBrokenSetups(t *testing.T) {
	tests := []struct {
		name    string
		build   func(t *testing.T, f *fixture) // writes kubeconfig and AWS files
		check   string
		status  doctor.Status
		detail  []string // substrings of the check's detail
		fix     []string // substrings of its fix
		passing []string // checks that must still pass
		// fixed: the fix is a kubectl command; run it with the real
		// kubectl and check that the check then passes.
		fixed bool
	}{{
		name: "profile shadowed by env keys",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "team-blue")
			f.env["AWS_ACCESS_KEY_ID"], f.env["AWS_SECRET_ACCESS_KEY"] = envKeyID, "env-secret"
			u := ekstokenUser("blue", "ap-south-1")
			u.env = map[string]string{"AWS_PROFILE": "team-blue"}
			f.kubeconfigFor(t, "blue", u)
		},
		check: "credentials", status: doctor.Warn,
		detail:  []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE=team-blue", "AKIA…TEST"},
		fix:     []string{"unset AWS_ACCESS_KEY_ID", "--profile team-blue"},
		passing: []string{"kubeconfig", "region", "token"},
	}, {
		name: "profile that does not exist",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "staging")
			f.kubeconfigFor(t, "ghost", ekstokenUser("ghost", "eu-north-1", "--profile", "stagign"))
		},
		check: "credentials", status: doctor.Fail,
		detail:  []string{`"stagign"`, "staging"},
		fix:     []string{"aws configure --profile stagign"},
		passing: []string{"kubeconfig", "region"},
	}, {
		name: "command not on PATH",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			f.env["PATH"] = filepath.Join(f.home, "elsewhere")
			f.kubeconfigFor(t, "nopath", ekstokenUser("nopath", "us-west-2"))
		},
		check: "command", status: doctor.Fail,
		detail:  []string{"not found on PATH", "elsewhere"},
		fix:     []string{"kubectl config set-credentials u-nopath --exec-command=", "--exec-arg=token --exec-arg=--cluster-name --exec-arg=nopath"},
		passing: []string{"kubeconfig", "region", "credentials", "token"},
		fixed:   true,
	}, {
		name: "absolute command that is gone",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			u := ekstokenUser("gone", "us-west-2")
			u.command = filepath.Join(f.home, "old-go", "bin", "ekstoken")
			f.kubeconfigFor(t, "gone", u)
		},
		check: "command", status: doctor.Fail,
		fix:   []string{"kubectl config set-credentials u-gone --exec-command="},
		fixed: true,
	}, {
		name: "another ekstoken first on PATH",
		build: func(t *testing.T, f *fixture) {
			if runtime.GOOS == "windows" {
				t.Skip("the stand-in is a shell script")
			}
			f.keysProfile(t, "default")
			old := filepath.Join(f.home, "old-bin")
			if err := os.MkdirAll(old, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(old, "ekstoken"), []byte("#!/bin/sh\necho 'ekstoken v0.0.7-old'\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			f.env["PATH"] = old + string(os.PathListSeparator) + f.bin
			f.kubeconfigFor(t, "other", ekstokenUser("other", "us-west-2"))
		},
		check: "command", status: doctor.Warn,
		detail:  []string{"old-bin", "version v0.0.7-old", "not this ekstoken"},
		fix:     []string{"kubectl config set-credentials u-other --exec-command="},
		passing: []string{"kubeconfig", "region", "credentials", "token"},
		fixed:   true,
	}, {
		name: "minimal GUI PATH",
		build: func(t *testing.T, f *fixture) {
			if runtime.GOOS == "windows" {
				t.Skip("no GUI PATH check on Windows")
			}
			f.keysProfile(t, "default")
			f.kubeconfigFor(t, "gui", ekstokenUser("gui", "us-west-2"))
		},
		check: "command", status: doctor.Warn,
		detail: []string{doctor.GUIPath},
		fix:    []string{"kubectl config set-credentials u-gui --exec-command="},
		fixed:  true,
	}, {
		name: "v1alpha1",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			u := ekstokenUser("alpha", "eu-west-3")
			u.apiVersion = "client.authentication.k8s.io/v1alpha1"
			f.kubeconfigFor(t, "alpha", u)
		},
		check: "kubeconfig", status: doctor.Fail,
		detail: []string{"v1alpha1"},
		fix:    []string{"kubectl config set-credentials u-alpha --exec-api-version=client.authentication.k8s.io/v1beta1"},
		fixed:  true,
	}, {
		name: "v1 without interactiveMode",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			u := ekstokenUser("v1", "eu-west-3")
			u.apiVersion = "client.authentication.k8s.io/v1"
			f.kubeconfigFor(t, "v1", u)
		},
		check: "kubeconfig", status: doctor.Fail,
		fix:   []string{"--exec-interactive-mode=IfAvailable"},
		fixed: true,
	}, {
		name: "missing region",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "ops")
			f.write(t, ".aws/config", "[profile ops]\noutput = json\n")
			u := ekstokenUser("noregion", "")
			u.env = map[string]string{"AWS_PROFILE": "ops"}
			f.kubeconfigFor(t, "noregion", u)
		},
		check: "region", status: doctor.Fail,
		detail:  []string{"no region", "profile ops"},
		fix:     []string{"--region", `"u-noregion"`},
		passing: []string{"kubeconfig"},
	}, {
		name: "args without a cluster",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			u := ekstokenUser("x", "eu-west-1")
			u.args = []string{"token", "--region", "eu-west-1", "--role-arn", "arn:aws:iam::123456789012:role/secret-ish"}
			f.kubeconfigFor(t, "nocluster", u)
		},
		check: "region", status: doctor.Fail,
		detail: []string{`"u-nocluster"`, "--cluster-name"},
		fix:    []string{"ekstoken update-kubeconfig --name"},
	}, {
		name: "aws eks get-token user",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "default")
			f.writeExe(t, "aws")
			f.kubeconfigFor(t, "legacy", user{apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws",
				args: []string{"--region", "ca-central-1", "eks", "get-token", "--cluster-name", "legacy", "--output", "json"}})
		},
		check: "kubeconfig", status: doctor.Warn,
		detail:  []string{"aws eks get-token"},
		fix:     []string{"ekstoken setup --context legacy"},
		passing: []string{"region", "credentials", "token"},
	}, {
		name: "aws-iam-authenticator user",
		build: func(t *testing.T, f *fixture) {
			f.writeExe(t, "aws-iam-authenticator")
			f.kubeconfigFor(t, "iam", user{apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws-iam-authenticator",
				args: []string{"token", "-i", "iam"}})
		},
		check: "kubeconfig", status: doctor.Warn,
		detail: []string{"aws-iam-authenticator", "skipped"},
		fix:    []string{"ekstoken setup --context iam"},
	}, {
		name: "profile that needs an MFA code",
		build: func(t *testing.T, f *fixture) {
			f.keysProfile(t, "base")
			f.write(t, ".aws/config", "[profile base]\n[profile mfa-admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\n"+
				"source_profile = base\nmfa_serial = arn:aws:iam::123456789012:mfa/me\nregion = us-east-1\n")
			f.kubeconfigFor(t, "mfa", ekstokenUser("mfa", "", "--profile", "mfa-admin"))
		},
		check: "credentials", status: doctor.Warn,
		detail:  []string{"MFA", "mfa-admin"},
		fix:     []string{"ekstoken token --cluster-name mfa --profile mfa-admin"},
		passing: []string{"kubeconfig", "region"},
	}, {
		name: "expired SSO session",
		build: func(t *testing.T, f *fixture) {
			start := "https://d-1234567890.awsapps.com/start"
			f.write(t, ".aws/config", "[profile sso-dev]\nsso_start_url = "+start+
				"\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = eu-central-1\n")
			sum := sha1.Sum([]byte(start))
			f.write(t, ".aws/sso/cache/"+hex.EncodeToString(sum[:])+".json", fmt.Sprintf(
				`{"startUrl":%q,"region":"us-east-1","accessToken":"dummy-secret-sso","expiresAt":%q}`,
				start, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)))
			u := ekstokenUser("sso", "")
			u.env = map[string]string{"AWS_PROFILE": "sso-dev"}
			f.kubeconfigFor(t, "sso", u)
		},
		check: "credentials", status: doctor.Fail,
		detail:  []string{"SSO", "sso-dev"},
		fix:     []string{"aws sso login --profile sso-dev"},
		passing: []string{"kubeconfig", "region"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.build(t, f)
			var kubectl func(fix string)
			if tt.fixed && !testing.Short() && runtime.GOOS != "windows" {
				path := testenv.PlainKubectl(t)
				sb := sandbox.New(t, sandbox.Options{Home: f.home})
				kubectl = func(fix string) {
					cmd, ok := strings.CutPrefix(fix, "kubectl ")
					if !ok {
						t.Fatalf("fix %q is not a kubectl command", fix)
					}
					res := sandbox.Proc{Env: sb.Env()}.MustExit(t, "/bin/sh", "-c", "\"$0\" "+cmd, path)
					if res.Code() != 0 {
						t.Fatalf("%s: %s", fix, res.Stderr)
					}
				}
			}
			r := f.run(t, doctor.Options{})
			c, ok := find(r, tt.check, tt.status)
			if !ok {
				t.Fatalf("no %s %s check in %+v", tt.status, tt.check, r.Checks)
			}
			for _, s := range tt.detail {
				if !strings.Contains(c.Detail, s) {
					t.Errorf("detail %q does not say %q", c.Detail, s)
				}
			}
			for _, s := range tt.fix {
				if !strings.Contains(c.Fix, s) {
					t.Errorf("fix %q does not say %q", c.Fix, s)
				}
			}
			st := statuses(r)
			for _, name := range tt.passing {
				if st[name] != doctor.OK {
					t.Errorf("check %s: %q, want ok; report %+v", name, st[name], r.Checks)
				}
			}
			if got, want := r.Failed(), tt.status == doctor.Fail; got != want {
				t.Errorf("Failed() = %v, want %v", got, want)
			}
			checkNoSecrets(t, r)
			if kubectl != nil {
				kubectl(c.Fix)
				r := f.run(t, doctor.Options{})
				if st := statuses(r)[tt.check]; st != doctor.OK {
					t.Errorf("after the fix, check %s is %q, want ok: %+v", tt.check, st, r.Checks)
				}
			}
		})
	}
}

// TestHealthy checks that a working setup passes every local check, and
// that the real kubectl reads the same kubeconfig.
func TestHealthy(t *testing.T) {
	f := newFixture(t)
	f.keysProfile(t, "prod-admin")
	f.write(t, ".aws/config", "[profile prod-admin]\nregion = sa-east-1\n")
	u := ekstokenUser("prod", "", "--profile", "prod-admin")
	u.command = f.self // as `setup --absolute` writes it
	f.kubeconfigFor(t, "prod", u)

	// The real kubectl reads this kubeconfig.
	if !testing.Short() {
		kubectl := testenv.PlainKubectl(t)
		sb := sandbox.New(t, sandbox.Options{Home: f.home})
		res := sandbox.Proc{Env: sb.Env("KUBECONFIG=" + f.kubeconfig)}.MustExit(t, kubectl, "config", "view", "-o", "jsonpath={.users[0].user.exec.command}")
		if res.Code() != 0 || res.Stdout != f.self {
			t.Errorf("kubectl config view: code %d, stdout %q, stderr %s", res.Code(), res.Stdout, res.Stderr)
		}
	}

	var remote *doctor.RemoteInput
	r := f.run(t, doctor.Options{Remote: func(_ context.Context, tg doctor.RemoteInput) []doctor.Check {
		remote = &tg
		return []doctor.Check{{Name: "identity", Status: doctor.OK, Detail: "from the hook"}}
	}})
	want := map[string]doctor.Status{"kubeconfig": doctor.OK, "command": doctor.OK, "region": doctor.OK,
		"credentials": doctor.OK, "token": doctor.OK, "identity": doctor.OK}
	if d := cmp.Diff(want, statuses(r)); d != "" {
		t.Errorf("statuses (-want +got):\n%s\n%+v", d, r.Checks)
	}
	if r.Context != "prod" || r.User != "u-prod" || r.File != f.kubeconfig {
		t.Errorf("header: %q %q %q", r.Context, r.User, r.File)
	}
	if remote == nil {
		t.Fatal("the remote hook was not called")
	}
	if remote.Region != "sa-east-1" || remote.Request.ClusterName != "prod" || !strings.HasPrefix(remote.Token, "k8s-aws-v1.") ||
		remote.Cluster.Server != "https://127.0.0.1:1" || remote.Credentials.Credentials.AccessKeyID != fileKeyID {
		t.Errorf("the hook got %+v", remote)
	}
	checkNoSecrets(t, r)
	if c, _ := find(r, "token", doctor.OK); !strings.Contains(c.Detail, "no cached token to serve (no entry)") {
		t.Errorf("token check before any entry: %q", c.Detail)
	}

	// Once the token command has cached a token, doctor says for how long
	// kubectl is served it.
	getenv := func(k string) string { return f.env[k] }
	id := tokencache.NewIdentity(remote.Request, getenv, f.home)
	store := cache.Store{Dir: tokencache.DefaultDir(getenv, f.home)}
	e := tokencache.NewEntry(id.Key(), remote.Token)
	e.Cluster, e.Region, e.Profile, e.AccessKeyID = id.Cluster, remote.Region, id.Profile, fileKeyID
	if err := store.Write(id.Name(), e); err != nil {
		t.Fatal(err)
	}
	r = f.run(t, doctor.Options{})
	c, _ := find(r, "token", doctor.OK)
	if !regexp.MustCompile(`served the cached token in .* for 1[34]m\d+s more`).MatchString(c.Detail) {
		t.Errorf("token check with a cached token: %q", c.Detail)
	}
	checkNoSecrets(t, r)
	if _, ok := find(r, "backoff", doctor.Warn); ok {
		t.Error("a backoff warning without a backoff record")
	}

	// A backoff in force for this identity is named, with its message and
	// how to end it; one for another identity, or one that is over, is not.
	now := time.Now()
	for _, tc := range []struct {
		name  string
		key   string
		until time.Time
		want  bool
	}{
		{"in force", id.Key(), now.Add(time.Minute), true},
		{"over", id.Key(), now.Add(-time.Second), false},
		{"another identity", id.Key() + "x", now.Add(time.Minute), false},
	} {
		bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: tc.key, Failures: 3, Since: now.Add(-time.Minute), Until: tc.until,
			Message: "the SSO session of profile \"prod-admin\" is missing or expired", NeedsPerson: true}
		if err := store.Write(tokencache.BackoffName(id.Key()), bo); err != nil {
			t.Fatal(err)
		}
		r = f.run(t, doctor.Options{})
		c, ok := find(r, "backoff", doctor.Warn)
		if ok != tc.want {
			t.Errorf("%s: backoff warning %v, want %v: %+v", tc.name, ok, tc.want, r.Checks)
			continue
		}
		if ok && (!strings.Contains(c.Detail, "is missing or expired") || !strings.Contains(c.Detail, "3 in a row") ||
			!strings.Contains(c.Fix, "ekstoken clear --cluster prod")) {
			t.Errorf("%s: backoff check %+v", tc.name, c)
		}
	}
	// The record is a file: whatever wrote it, its message reaches the
	// terminal shown, never acted on.
	for _, msg := range []string{"\x1b[2J\x1b[Hcleared", "\x1b]52;c;ZXZpbA==\x07 clipboard", "\u009b31m C1", "a\rb"} {
		bo := tokencache.Backoff{Format: tokencache.BackoffFormat, Key: id.Key(), Failures: 1, Since: now.Add(-time.Second), Until: now.Add(time.Minute), Message: msg}
		if err := store.Write(tokencache.BackoffName(id.Key()), bo); err != nil {
			t.Fatal(err)
		}
		r = f.run(t, doctor.Options{})
		c, ok := find(r, "backoff", doctor.Warn)
		if !ok {
			t.Fatalf("no backoff warning for a record in force: %+v", r.Checks)
		}
		if strings.ContainsFunc(c.Detail, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }) {
			t.Errorf("doctor prints the record's message %q raw: %q", msg, c.Detail)
		}
	}
}
