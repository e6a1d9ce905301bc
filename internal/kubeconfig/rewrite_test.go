package kubeconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/yamledit"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Inputs under testdata/input:
//
//   - aws-*.yaml: written by the real `aws eks update-kubeconfig` (aws CLI
//     1.45.11) against moto_server: plain, --role-arn, --alias, --profile
//     (AWS_PROFILE env) and two clusters in one file;
//   - eksctl-*.yaml: what eksctl writes (aws-iam-authenticator with
//     v1alpha1 and v1beta1; aws eks get-token with AWS_STS_REGIONAL_ENDPOINTS);
//   - handwritten.yaml: comments everywhere, odd indentation, quoting, flow
//     lists, non-EKS users, an unknown aws option and an ekstoken user;
//   - blog-script.yaml: the blog's eks-token-cache.sh with interactiveMode
//     Never, one profile needing MFA;
//   - kubeconfig.json, compact.json: JSON kubeconfigs.
func inputs(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("testdata/input/*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	return names
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/<name>, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, Diff(name, want, got))
	}
}

func needsMFA(p string) bool { return p == "prod-mfa" || p == "prod-sso" }

func testOptions() RewriteOptions {
	return RewriteOptions{Command: "ekstoken", ProfileNeedsMFA: needsMFA}
}

// report renders changes and skips for a golden file.
func report(changes []Change, skipped []string) []byte {
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintf(&b, "line %d: %s\n", c.Line, c)
	}
	for _, s := range skipped {
		fmt.Fprintf(&b, "skipped %s\n", s)
	}
	return []byte(b.String())
}

func TestRewriteGolden(t *testing.T) {
	type tc struct {
		name, input string
		opts        RewriteOptions
	}
	var cases []tc
	for _, in := range inputs(t) {
		cases = append(cases, tc{filepath.Base(in), in, testOptions()})
	}
	abs := testOptions()
	abs.Command = "/usr/local/bin/ekstoken"
	cases = append(cases, tc{"aws-role-abs-command.yaml", "testdata/input/aws-role.yaml", abs})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := read(t, c.input)
			var skipped []string
			opts := c.opts
			opts.Skipped = func(u, why string) { skipped = append(skipped, fmt.Sprintf("%s: %s", u, why)) }
			out, changes, err := Rewrite(src, opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "rewrite/"+c.name+".golden", out)
			golden(t, "rewrite/"+c.name+".changes", report(changes, skipped))

			// Twice is once, and nothing to change means the very same bytes.
			again, changes2, err := Rewrite(out, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, out) || len(changes2) != 0 {
				t.Errorf("second Rewrite changed %v:\n%s", changes2, Diff(c.name, out, again))
			}
			if (Diff(c.name, src, out) != "") != (len(changes) > 0) {
				t.Errorf("Diff non-empty = %v, changes = %d", Diff(c.name, src, out) != "", len(changes))
			}
			if len(changes) == 0 && !bytes.Equal(out, src) {
				t.Error("no changes but different bytes")
			}
			// The result is a kubeconfig (JSON stays JSON).
			if strings.HasSuffix(c.input, ".json") && !jsonValid(out) {
				t.Errorf("output is not JSON:\n%s", out)
			}
			checkConverted(t, out)
		})
	}
}

// checkConverted checks, independently of the splicing, that every user of
// out that runs ekstoken has args ekstoken accepts, an apiVersion kubectl
// accepts and an interactiveMode.
func checkConverted(t *testing.T, out []byte) {
	t.Helper()
	var kc struct {
		Users []struct {
			Name string
			User struct {
				Exec *struct {
					APIVersion      string `yaml:"apiVersion"`
					Command         string
					Args            []string
					InteractiveMode string `yaml:"interactiveMode"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(out, &kc); err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	for _, u := range kc.Users {
		ex := u.User.Exec
		if ex == nil || commandBase(ex.Command) != "ekstoken" {
			continue
		}
		if len(ex.Args) < 3 || ex.Args[0] != "token" || (ex.Args[1] != "--cluster-name" && ex.Args[1] != "--cluster-id") {
			t.Errorf("user %s: args %q", u.Name, ex.Args)
		}
		if ex.APIVersion != APIVersionV1Beta1 && ex.APIVersion != APIVersionV1 {
			t.Errorf("user %s: apiVersion %q", u.Name, ex.APIVersion)
		}
		if ex.InteractiveMode == "" {
			t.Errorf("user %s: no interactiveMode", u.Name)
		}
	}
}

// Whatever Rewrite does not convert stays byte for byte: outside the
// rewritten exec blocks, the lines are the same.
func TestRewriteKeepsTheRest(t *testing.T) {
	src := read(t, "testdata/input/handwritten.yaml")
	out, _, err := Rewrite(src, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{
		"# Hand-maintained kubeconfig: several clusters, comments everywhere,\n",
		`          server: "https://PROD0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"` + "\n",
		"- name: prod            # the one that matters\n",
		"          # v1 requires interactiveMode; this entry has none\n",
		"          command: \"ekstoken\"   # pinned CLI\n",
		"              # assume the admin role\n",
		"              - \"prod\"      # the cluster\n",
		"          provideClusterInfo: false\n          interactiveMode: \"IfAvailable\"\n          installHint: |\n              Install the AWS CLI:\n              https://docs.aws.amazon.com/cli/\n      # a comment after the exec block\n",
		"- name: kind-admin      # client certificate user: must stay untouched\n  user:\n      client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n",
		"          args: [eks, get-token, --cluster-name, staging, --endpoint-url, \"https://eks.example.com\"]\n",
		"# end of file\n",
	} {
		if !bytes.Contains(out, []byte(keep)) {
			t.Errorf("output lost %q", keep)
		}
	}
	// Every line of src that is not in a rewritten block is still there,
	// in order.
	for _, line := range strings.Split(Diff("config", src, out), "\n")[2:] { // after --- and +++
		removed, ok := strings.CutPrefix(line, "-")
		if !ok {
			continue
		}
		l := strings.TrimSpace(removed)
		if !strings.Contains(l, "aws") && !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, "args:") {
			t.Errorf("unexpected removed line %q", removed)
		}
	}
}

func jsonValid(b []byte) bool {
	var v any
	return json.Unmarshal(b, &v) == nil
}

func TestRewriteLimits(t *testing.T) {
	src := read(t, "testdata/input/handwritten.yaml")
	changed := func(opts RewriteOptions) []string {
		t.Helper()
		opts.Command = "ekstoken"
		_, changes, err := Rewrite(src, opts)
		if err != nil {
			t.Fatal(err)
		}
		var users []string
		for _, c := range changes {
			users = append(users, c.User)
		}
		return users
	}
	if got := changed(RewriteOptions{}); !slices.Equal(got, []string{"prod-admin", "staging-dev", "staging-windows"}) {
		t.Errorf("all: %v", got)
	}
	if got := changed(RewriteOptions{Contexts: []string{"staging"}}); !slices.Equal(got, []string{"staging-dev"}) {
		t.Errorf("context staging: %v", got)
	}
	if got := changed(RewriteOptions{Users: []string{"prod-admin"}, Contexts: []string{"windows"}}); !slices.Equal(got, []string{"prod-admin", "staging-windows"}) {
		t.Errorf("user prod-admin + context windows: %v", got)
	}
	if got := changed(RewriteOptions{Users: []string{"kind-admin"}}); len(got) != 0 {
		t.Errorf("kind-admin: %v", got)
	}

	for _, tc := range []struct {
		opts RewriteOptions
		want string
	}{
		{RewriteOptions{Contexts: []string{"nope"}}, `no context "nope" in this kubeconfig (contexts: "prod", "staging", "kind", "oidc", "windows", "endpoint", "done")`},
		{RewriteOptions{Users: []string{"nope"}}, `no user "nope" in this kubeconfig (users: "prod-admin", "staging-dev", "kind-admin", "oidc-user", "legacy-oidc", "staging-windows", "staging-endpoint", "already-ekstoken")`},
	} {
		tc.opts.Command = "ekstoken"
		out, _, err := Rewrite(src, tc.opts)
		if err == nil || err.Error() != tc.want || out != nil {
			t.Errorf("got %v, want error %q", err, tc.want)
		}
	}
	_, _, err := Rewrite([]byte("contexts:\n- name: x\n  context: {user: ghost}\nusers: []\n"), RewriteOptions{Command: "ekstoken", Contexts: []string{"x"}})
	if err == nil || !strings.Contains(err.Error(), `context "x" uses user "ghost", which this kubeconfig does not define`) {
		t.Errorf("dangling context: %v", err)
	}
}

func TestRewriteSkipped(t *testing.T) {
	src := read(t, "testdata/input/handwritten.yaml")
	got := map[string]string{}
	_, _, err := Rewrite(src, RewriteOptions{Command: "ekstoken", Skipped: func(u, why string) { got[u] = why }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"kind-admin":       "not an exec credential plugin user",
		"legacy-oidc":      "not an exec credential plugin user",
		"oidc-user":        "runs kubectl, not aws eks get-token, aws-iam-authenticator or eks-token-cache.sh (--wrap caches it through `ekstoken exec`)",
		"staging-endpoint": "aws option --endpoint-url has no ekstoken equivalent",
		"already-ekstoken": "already runs ekstoken (/opt/bin/ekstoken)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

// The argument forms each tool accepts, one exec entry at a time.
func TestRewriteArgForms(t *testing.T) {
	for _, tc := range []struct {
		command string
		args    []string
		env     string
		want    []string // nil: left alone
	}{
		{"aws", []string{"--region", "r", "eks", "get-token", "--cluster-name", "c"}, "", []string{"token", "--cluster-name", "c", "--region", "r"}},
		{"aws", []string{"eks", "get-token", "--cluster-name", "c", "--region", "r", "--output", "json"}, "", []string{"token", "--cluster-name", "c", "--region", "r"}},
		{"aws", []string{"--profile=p", "eks", "--region=r", "get-token", "--cluster-id", "i", "--role", "arn:aws:iam::1:role/x"}, "", []string{"token", "--cluster-id", "i", "--region", "r", "--profile", "p", "--role-arn", "arn:aws:iam::1:role/x"}},
		{"/usr/local/bin/aws", []string{"eks", "get-token", "--cluster-name", "c", "--role-arn", "arn:aws:iam::1:role/x"}, "", []string{"token", "--cluster-name", "c", "--role-arn", "arn:aws:iam::1:role/x"}},
		{"AWS.EXE", []string{"eks", "get-token", "--cluster-name", "c", "--debug"}, "", []string{"token", "--cluster-name", "c"}},
		{"aws", []string{"eks", "get-token", "--cluster-name", "c"}, "AWS_PROFILE=p", []string{"token", "--cluster-name", "c"}},
		{"aws", []string{"eks", "get-token", "--cluster-name", "c", "--cluster-id", "i"}, "", nil},
		{"aws", []string{"eks", "get-token"}, "", nil},
		{"aws", []string{"eks", "describe-cluster", "--cluster-name", "c"}, "", nil},
		{"aws", []string{"eks", "get-token", "--cluster-name", "c", "--output", "yaml"}, "", nil},
		{"aws", []string{"eks", "get-token", "--cluster-name"}, "", nil},
		{"aws", []string{"eks", "get-token", "--cluster-name", "c", "--no-verify-ssl"}, "", nil},
		{"aws-iam-authenticator", []string{"token", "-i", "c"}, "", []string{"token", "--cluster-name", "c"}},
		{"aws-iam-authenticator", []string{"token", "--cluster-id=c", "--role", "arn:r", "--region", "r", "-e", "ext", "-s", "sess", "--cache"}, "", []string{"token", "--cluster-name", "c", "--region", "r", "--role-arn", "arn:r", "--external-id", "ext", "--session-name", "sess"}},
		{"/usr/bin/aws-iam-authenticator", []string{"-i", "c", "token", "-r", "arn:r"}, "", []string{"token", "--cluster-name", "c", "--role-arn", "arn:r"}},
		{"aws-iam-authenticator", []string{"token", "-i", "c"}, "DEFAULT_ROLE=arn:d", []string{"token", "--cluster-name", "c", "--role-arn", "arn:d"}},
		{"aws-iam-authenticator", []string{"token", "-i", "c", "--forward-session-name"}, "", nil},
		{"aws-iam-authenticator", []string{"token", "-i", "c", "--token-only"}, "", nil},
		{"aws-iam-authenticator", []string{"verify", "-i", "c"}, "", nil},
		{"eks-token-cache.sh", []string{"c", "r"}, "", []string{"token", "--cluster-name", "c", "--region", "r"}},
		{"/home/me/.kube/eks-token-cache.sh", []string{"c", "r", "default"}, "", []string{"token", "--cluster-name", "c", "--region", "r"}},
		{"~/eks-token-cache.sh", []string{"c", "r", "p"}, "", []string{"token", "--cluster-name", "c", "--region", "r", "--profile", "p"}},
		{"eks-token-cache.sh", []string{"c"}, "", nil},
		{"/bin/sh", []string{"/x/eks-token-cache.sh", "c", "r", "p"}, "", []string{"token", "--cluster-name", "c", "--region", "r", "--profile", "p"}},
		{"ekstoken", []string{"token", "--cluster-name", "c"}, "", nil},
		{`C:\tools\ekstoken.exe`, []string{"token", "--cluster-name", "c"}, "", nil},
		{"gke-gcloud-auth-plugin", nil, "", nil},
	} {
		name := tc.command + " " + strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			ex := yamledit.MapNode("apiVersion", APIVersionV1Beta1, "command", tc.command)
			if tc.args != nil {
				ex.Content = append(ex.Content, yamledit.MapNode("args", tc.args).Content...)
			}
			if tc.env != "" {
				k, v, _ := strings.Cut(tc.env, "=")
				ex.Content = append(ex.Content, yamledit.MapNode("env", yamledit.SeqNode(yamledit.MapNode("name", k, "value", v))).Content...)
			}
			src := []byte((yamledit.Emitter{Layout: yamledit.Layout{MapStep: 2}, NL: "\n"}).Node(yamledit.MapNode("users", yamledit.SeqNode(yamledit.MapNode("name", "u", "user", yamledit.MapNode("exec", ex)))), 0) + "\n")
			out, changes, err := Rewrite(src, RewriteOptions{Command: "ekstoken"})
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			var kc struct {
				Users []struct {
					User struct {
						Exec struct {
							Command string
							Args    []string
						}
					}
				}
			}
			if err := yaml.Unmarshal(out, &kc); err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(changes) != 0 || !bytes.Equal(out, src) {
					t.Errorf("changed, want it left alone:\n%s", out)
				}
				return
			}
			got := kc.Users[0].User.Exec
			if got.Command != "ekstoken" || !slices.Equal(got.Args, tc.want) {
				t.Errorf("got %s %q, want ekstoken %q", got.Command, got.Args, tc.want)
			}
		})
	}
}

func TestRewriteMFA(t *testing.T) {
	src := read(t, "testdata/input/blog-script.yaml")
	var asked []string
	_, changes, err := Rewrite(src, RewriteOptions{Command: "ekstoken", ProfileNeedsMFA: func(p string) bool {
		asked = append(asked, p)
		return p == "prod-mfa"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"", "prod-mfa", ""}) {
		t.Errorf("asked about %q", asked)
	}
	var notes []string
	for _, c := range changes {
		notes = append(notes, c.User+": "+strings.Join(c.Notes, "; "))
	}
	want := []string{
		"dev: ",
		`prod: interactiveMode Never changed to IfAvailable: profile "prod-mfa" asks for an MFA code, which Never would keep kubectl from passing through`,
		"dev-bash: ",
	}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	// Without the callback, Never stays.
	out, _, err := Rewrite(src, RewriteOptions{Command: "ekstoken"})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out, []byte("interactiveMode: Never")); n != 3 {
		t.Errorf("%d users keep Never, want 3", n)
	}
}

// Line endings and the final newline are the file's own.
func TestRewriteLineEndings(t *testing.T) {
	for _, in := range inputs(t) {
		src := read(t, in)
		want, _, err := Rewrite(src, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
		got, _, err := Rewrite(crlf(src), testOptions())
		if err != nil {
			t.Fatalf("%s with CRLF: %v", in, err)
		}
		if !bytes.Equal(got, crlf(want)) {
			t.Errorf("%s with CRLF:\n%s", in, Diff(in, crlf(want), got))
		}
		trimmed := bytes.TrimRight(src, "\n")
		got, _, err = Rewrite(trimmed, testOptions())
		if err != nil {
			t.Fatalf("%s without final newline: %v", in, err)
		}
		if !bytes.Equal(got, bytes.TrimRight(want, "\n")) {
			t.Errorf("%s without final newline:\n%s", in, Diff(in, bytes.TrimRight(want, "\n"), got))
		}
	}
}

var badInputs = []struct {
	name string
	src  string
	line int
}{
	{"binary garbage", "\x00\x01\x02\x03garbage", 1},
	{"control character", "apiVersion: v1\nkind: Con\x01fig\n", 2},
	{"invalid utf-8", "apiVersion: v1\nclusters: []\nkind: \xff\xfe\n", 3},
	{"unterminated quote", "apiVersion: v1\nusers:\n- name: \"half\n", 3},
	{"bad indentation", "apiVersion: v1\nusers:\n- name: a\n  user:\n    exec:\n      command: aws\n     args: [x]\n", 4},
	{"unclosed flow", "{\"apiVersion\": \"v1\", \"users\": [\n", 1},
	{"a list", "- a\n- b\n", 1},
	{"a string", "just some text\n", 1},
	{"users not a list", "apiVersion: v1\nusers: everyone\n", 2},
	{"user entry not a mapping", "users:\n- alice\n", 2},
	{"duplicate key", "apiVersion: v1\nkind: Config\napiVersion: v1\n", 3},
	{"tab indentation", "users:\n\t- name: a\n", 2},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, out []byte, err error) {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: got %v, want a ParseError", what, err)
				}
				if pe.Line != tc.line || !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tc.line)) {
					t.Errorf("%s: %q, want line %d", what, err, tc.line)
				}
				if out != nil {
					t.Errorf("%s: output %q with an error", what, out)
				}
			}
			out, _, err := Rewrite([]byte(tc.src), testOptions())
			check("Rewrite", out, err)
			out, err = Upsert([]byte(tc.src), testEntry())
			check("Upsert", out, err)
		})
	}
}

// Truncated files, as a crash mid-write leaves them: Rewrite and Upsert
// either fail naming a line, or (when the cut happens to be valid YAML)
// give a kubeconfig that parses. Never a panic, never output with an error.
//
// Each input is a parallel subtest: the cuts make thousands of parses,
// which the race detector slows tenfold.
func TestTruncated(t *testing.T) {
	t.Parallel()
	for _, in := range inputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			t.Parallel()
			truncated(t, in)
		})
	}
	t.Run("half a JSON file", func(t *testing.T) {
		t.Parallel()
		// One certain case: a JSON kubeconfig cut in the middle.
		src := read(t, "testdata/input/kubeconfig.json")
		_, _, err := Rewrite(src[:len(src)/2], testOptions())
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("half a JSON file: %v", err)
		}
	})
}

func truncated(t *testing.T, in string) {
	t.Helper()
	src := read(t, in)
	errs := 0
	// Cut at every line start, in the middle of every line and at its
	// end. Under the race detector (which finds nothing in one goroutine
	// and slows each parse tenfold) the line ends, one byte short of the
	// next line start, are left to the runs without it.
	var cuts []int
	for ls := 0; ls <= len(src); {
		le := bytes.IndexByte(src[ls:], '\n')
		if le < 0 {
			le = len(src) - ls
		}
		cuts = append(cuts, ls, ls+le/2)
		if !raceEnabled {
			cuts = append(cuts, ls+le)
		}
		ls += le + 1
	}
	for _, n := range cuts {
		cut := src[:n]
		out, _, err := Rewrite(cut, testOptions())
		out2, err2 := Upsert(cut, testEntry())
		for _, r := range []struct {
			out []byte
			err error
		}{{out, err}, {out2, err2}} {
			var pe *ParseError
			switch {
			case r.err != nil && errors.Is(r.err, ErrInPlace) && r.out == nil:
				// A cut can leave a layout that cannot be edited in
				// place (a block scalar at the very end of the file
				// without a line break); refusing is right.
				errs++
			case r.err != nil && (!errors.As(r.err, &pe) || pe.Line < 1 || r.out != nil):
				t.Fatalf("%s cut at %d: %v (output %d bytes)", in, n, r.err, len(r.out))
			case r.err != nil:
				errs++
			default:
				var v any
				if err := yaml.Unmarshal(r.out, &v); err != nil {
					t.Fatalf("%s cut at %d: output does not parse: %v", in, n, err)
				}
			}
		}
	}
	if errs == 0 {
		t.Errorf("%s: no truncation was an error", in)
	}
}

func TestRewriteEmpty(t *testing.T) {
	for _, src := range []string{"", "\n", "# nothing yet\n", "---\n"} {
		out, changes, err := Rewrite([]byte(src), testOptions())
		if err != nil || string(out) != src || len(changes) != 0 {
			t.Errorf("%q: %q %v %v", src, out, changes, err)
		}
	}
	if _, _, err := Rewrite(nil, RewriteOptions{}); err == nil {
		t.Error("no Command: no error")
	}
}

// Layouts Rewrite refuses to edit in place are an error naming the user,
// not a guess.
func TestRewriteRefuses(t *testing.T) {
	for _, src := range []string{
		"users:\n- name: a\n  user:\n    exec: &e\n      command: aws\n      args: [eks, get-token, --cluster-name, c]\n- name: b\n  user:\n    exec: *e\n",
		"users:\n- name: a\n  user:\n    exec:\n      command: !!str aws\n      args: [eks, get-token, --cluster-name, c]\n",
		"users:\n- name: a\n  user:\n    exec:\n      command: aws\n      args: [eks, get-token, # comment\n        --cluster-name, c]\n",
	} {
		out, _, err := Rewrite([]byte(src), testOptions())
		if err == nil || !strings.Contains(err.Error(), `user "a": cannot rewrite it in place`) || !errors.Is(err, ErrInPlace) || out != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	// An alias of an entry Rewrite leaves alone is no problem.
	src := []byte("users:\n- name: a\n  user:\n    exec: &e\n      command: kubectl\n- name: b\n  user:\n    exec: *e\n")
	if out, changes, err := Rewrite(src, testOptions()); err != nil || len(changes) != 0 || !bytes.Equal(out, src) {
		t.Errorf("alias of a kubectl exec: %v %v", changes, err)
	}
	// Upsert will not replace an anchored entry, but appends next to one.
	src = []byte("users:\n- &u\n  name: " + demoARN + "\n  user: {token: x}\n- name: other\n  user: *u\n")
	if out, err := Upsert(src, testEntry()); !errors.Is(err, ErrInPlace) || out != nil {
		t.Errorf("Upsert over an anchored entry: %v", err)
	}
	src = []byte("users:\n- &u\n  name: other\n  user: {token: x}\n- name: other2\n  user: *u\n")
	if _, err := Upsert(src, testEntry()); err != nil {
		t.Errorf("Upsert next to an alias: %v", err)
	}
}

// An aws-iam-authenticator user that names no region signed with the
// global STS endpoint. When no region will be found at run time either
// (no AWS_REGION, no region in the profile), the rewrite says
// --region aws-global, the same endpoint, rather than write a user that
// fails; when one will, it leaves the region to it, as before.
func TestRewriteAuthenticatorWithoutRegion(t *testing.T) {
	src := []byte("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n" +
		"      command: aws-iam-authenticator\n      args: [token, -i, c]\n      env: [{name: AWS_PROFILE, value: p}]\n")
	for _, tc := range []struct {
		known bool
		want  string
	}{{false, "args: [token, --cluster-name, c, --region, aws-global]"}, {true, "args: [token, --cluster-name, c]"}} {
		var asked []string
		out, _, err := Rewrite(src, RewriteOptions{Command: "ekstoken", RegionKnown: func(p string) bool { asked = append(asked, p); return tc.known }})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("region known=%v: want %q in\n%s", tc.known, tc.want, out)
		}
		if len(asked) != 1 || asked[0] != "p" {
			t.Errorf("RegionKnown asked for %q, want the user's profile \"p\"", asked)
		}
	}
}
