package setup

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// kubeconfigWith is a kubeconfig whose user u (of context ctx) runs `aws
// eks get-token` for cluster, with interactiveMode mode when not "".
func kubeconfigWith(ctx, u, cluster, extraArgs, mode string) string {
	s := "apiVersion: v1\nkind: Config\n# kept as it is\nclusters:\n- name: " + cluster + "\n  cluster:\n    server: https://" + cluster + ".example\n" +
		"contexts:\n- name: " + ctx + "\n  context: {cluster: " + cluster + ", user: " + u + "}\n" +
		"users:\n" + userWith(u, cluster, extraArgs, mode)
	return s
}

func userWith(u, cluster, extraArgs, mode string) string {
	s := "- name: " + u + "\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n" +
		"      args: [--region, eu-west-1, eks, get-token, --cluster-name, " + cluster + extraArgs + "]\n"
	if mode != "" {
		s += "      interactiveMode: " + mode + "\n"
	}
	return s
}

type execOf struct {
	Command         string
	Args            []string
	InteractiveMode string `yaml:"interactiveMode"`
}

// users reads the exec entry of every user of the kubeconfig at path.
func users(t *testing.T, path string) map[string]execOf {
	t.Helper()
	var doc struct {
		Users []struct {
			Name string
			User struct{ Exec execOf }
		}
	}
	if err := yaml.Unmarshal(read(t, path), &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := map[string]execOf{}
	for _, u := range doc.Users {
		m[u.Name] = u.User.Exec
	}
	return m
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	err            error
}

// runSetup runs setup for in with home as the home directory and vars as
// the whole environment.
func runSetup(t *testing.T, home string, vars map[string]string, in Input) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(t.Context(), Env{
		Getenv: func(k string) string { return vars[k] }, Home: home,
		Stdout: &out, Stderr: &errb, Now: time.Now,
		Executable: func() (string, error) { return "", os.ErrNotExist },
	}, in)
	return result{out.String(), errb.String(), err}
}

// A dry run prints a diff of each file of KUBECONFIG on stdout and writes
// nothing; a run rewrites them all, skipping a missing one as kubectl
// does, with an undo record each; a second run changes nothing; undo
// brings back every file byte for byte, and a second undo has nothing to do.
func TestRunRewritesEveryFileAndUndoes(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	files := []string{filepath.Join(dir, "a"), filepath.Join(dir, "missing"), filepath.Join(dir, "b c")}
	orig := map[string]string{
		files[0]: kubeconfigWith("one", "u1", "prod", "", ""),
		files[2]: kubeconfigWith("two", "u2", "dev", ", --profile, dev", "Never"),
	}
	for f, s := range orig {
		write(t, f, s)
	}
	vars := map[string]string{"KUBECONFIG": strings.Join(files, string(os.PathListSeparator))}
	unchanged := func(when string) {
		t.Helper()
		for f, s := range orig {
			if got := string(read(t, f)); got != s {
				t.Errorf("%s: %s changed:\n%s", when, f, got)
			}
		}
	}

	r := runSetup(t, home, vars, Input{Command: "ekstoken", DryRun: true})
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s", r.err, r.stderr)
	}
	for f := range orig {
		if !strings.Contains(r.stdout, "--- "+f+"\n+++ "+f+"\n") {
			t.Errorf("dry run prints no diff of %s:\n%s", f, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "dry run: nothing was written") {
		t.Errorf("dry run does not say so:\n%s", r.stderr)
	}
	unchanged("after a dry run")
	if _, err := os.Stat(filepath.Join(home, ".kube")); err == nil {
		t.Error("a dry run wrote under ~/.kube")
	}

	r = runSetup(t, home, vars, Input{Command: "ekstoken"})
	if r.err != nil || r.stdout != "" {
		t.Fatalf("setup: %v, stdout %q\n%s", r.err, r.stdout, r.stderr)
	}
	want := map[string]map[string]execOf{
		files[0]: {"u1": {Command: "ekstoken", Args: []string{"token", "--cluster-name", "prod", "--region", "eu-west-1"}, InteractiveMode: "IfAvailable"}},
		files[2]: {"u2": {Command: "ekstoken", Args: []string{"token", "--cluster-name", "dev", "--region", "eu-west-1", "--profile", "dev"}, InteractiveMode: "Never"}},
	}
	for f, w := range want {
		if diff := cmp.Diff(w, users(t, f)); diff != "" {
			t.Errorf("%s after setup (-want +got):\n%s", f, diff)
		}
		if !strings.Contains(string(read(t, f)), "# kept as it is\n") {
			t.Errorf("%s lost its comment", f)
		}
		if !strings.Contains(r.stderr, f+": rewrote 1 user;") {
			t.Errorf("setup does not report %s:\n%s", f, r.stderr)
		}
	}
	recs, err := os.ReadDir(filepath.Join(home, ".kube", "ekstoken", "undo"))
	if err != nil || len(recs) != 2 {
		t.Errorf("undo records %v (%v), want one per file", recs, err)
	}
	for _, rec := range recs {
		if st, err := os.Stat(filepath.Join(home, ".kube", "ekstoken", "undo", rec.Name())); err != nil || runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("undo record %s: %v, %v", rec.Name(), st.Mode(), err)
		}
	}

	after := map[string][]byte{files[0]: read(t, files[0]), files[2]: read(t, files[2])}
	r = runSetup(t, home, vars, Input{Command: "ekstoken"})
	for f, b := range after {
		if r.err != nil || !strings.Contains(r.stderr, f+": nothing to change") || !bytes.Equal(read(t, f), b) {
			t.Errorf("second setup, %s: %v\n%s", f, r.err, r.stderr)
		}
	}

	r = runSetup(t, home, vars, Input{Undo: true})
	if r.err != nil || r.stdout != "" {
		t.Fatalf("undo: %v, stdout %q\n%s", r.err, r.stdout, r.stderr)
	}
	unchanged("after undo")
	r = runSetup(t, home, vars, Input{Undo: true})
	if r.err != nil || strings.Count(r.stderr, "nothing to undo") != 2 {
		t.Errorf("second undo: %v\n%s", r.err, r.stderr)
	}
}

// Across several files, --context and --user select as kubectl merges:
// a context in one file may name a user in another; a name no file
// defines is an error and changes nothing; a broken file fails and is
// named, and the others are still done.
func TestRunSelectsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	contexts, usersFile, other, broken := filepath.Join(dir, "contexts"), filepath.Join(dir, "users"), filepath.Join(dir, "other"), filepath.Join(dir, "broken")
	write(t, contexts, "apiVersion: v1\nkind: Config\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n")
	write(t, usersFile, "apiVersion: v1\nkind: Config\nusers:\n"+userWith("u", "prod", "", "")+userWith("v", "stage", "", ""))
	origOther := kubeconfigWith("y", "w", "dev", "", "")
	write(t, other, origOther)
	write(t, broken, "{\"apiVersion\": \"v1\", \"users\": [\n")
	list := func(files ...string) map[string]string {
		return map[string]string{"KUBECONFIG": strings.Join(files, string(os.PathListSeparator))}
	}

	for _, in := range []Input{{Contexts: []string{"typo"}}, {Users: []string{"typo"}}} {
		in.Command = "ekstoken"
		before := read(t, usersFile)
		r := runSetup(t, t.TempDir(), list(contexts, usersFile, other), in)
		if r.err == nil || !strings.Contains(r.err.Error(), `"typo"`) || !bytes.Equal(read(t, usersFile), before) {
			t.Errorf("%+v: %v, want an error naming \"typo\" and nothing changed", in, r.err)
		}
	}

	r := runSetup(t, t.TempDir(), list(broken, contexts, usersFile, other), Input{Command: "ekstoken", Contexts: []string{"x"}})
	if r.err == nil || !strings.Contains(r.err.Error(), broken) || !strings.Contains(r.stderr, broken+": line 1: ") {
		t.Errorf("want a failure naming %s and a line: %v\n%s", broken, r.err, r.stderr)
	}
	got := users(t, usersFile)
	if got["u"].Command != "ekstoken" || got["v"].Command != "aws" {
		t.Errorf("--context x: users %+v, want u (of x) rewritten and v left alone", got)
	}
	if string(read(t, other)) != origOther {
		t.Errorf("--context x changed %s, which does not define it", other)
	}
}

// A profile that asks for an MFA code cannot prompt under interactiveMode
// Never: setup switches such a user to IfAvailable, reading the profile
// from the config file the environment names (AWS_CONFIG_FILE, else
// ~/.aws/config), and from no other.
func TestRunMFAProfile(t *testing.T) {
	mfa := "[profile keys]\nregion = eu-west-1\n[profile mfa]\nrole_arn = arn:aws:iam::111122223333:role/admin\nsource_profile = keys\nmfa_serial = arn:aws:iam::111122223333:mfa/me\n"
	creds := "[keys]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n"
	for _, tc := range []struct {
		name    string
		atHome  bool   // ~/.aws/config holds the mfa profile
		envFile string // "" no AWS_CONFIG_FILE, "mfa" or "plain"
		want    string
	}{
		{"home config", true, "", "IfAvailable"},
		{"AWS_CONFIG_FILE", false, "mfa", "IfAvailable"},
		{"AWS_CONFIG_FILE without mfa beats home", true, "plain", "Never"},
		{"no config", false, "", "Never"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			write(t, filepath.Join(home, ".aws", "credentials"), creds)
			if tc.atHome {
				write(t, filepath.Join(home, ".aws", "config"), mfa)
			}
			vars := map[string]string{}
			switch tc.envFile {
			case "mfa":
				vars["AWS_CONFIG_FILE"] = filepath.Join(dir, "aws-config")
				write(t, vars["AWS_CONFIG_FILE"], mfa)
			case "plain":
				vars["AWS_CONFIG_FILE"] = filepath.Join(dir, "aws-config")
				write(t, vars["AWS_CONFIG_FILE"], "[profile mfa]\nregion = eu-west-1\n")
			}
			kc := filepath.Join(dir, "config")
			write(t, kc, kubeconfigWith("x", "u", "prod", ", --profile, mfa", "Never"))
			r := runSetup(t, home, vars, Input{Kubeconfig: kc, Command: "ekstoken"})
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stderr)
			}
			if got := users(t, kc)["u"]; got.Command != "ekstoken" || got.InteractiveMode != tc.want {
				t.Errorf("user u: %+v, want interactiveMode %s", got, tc.want)
			}
			if said := strings.Contains(r.stderr, `profile "mfa" asks for an MFA code`); said != (tc.want == "IfAvailable") {
				t.Errorf("stderr:\n%s", r.stderr)
			}
		})
	}
}

// One kubeconfig that does not exist is an error that says how to get
// one; the file is not created.
func TestRunMissingKubeconfig(t *testing.T) {
	home := t.TempDir()
	for _, vars := range []map[string]string{{}, {"KUBECONFIG": filepath.Join(home, "named")}} {
		r := runSetup(t, home, vars, Input{Command: "ekstoken"})
		if r.err == nil || !strings.Contains(r.err.Error(), "update-kubeconfig") || !strings.Contains(r.err.Error(), "--kubeconfig") {
			t.Errorf("KUBECONFIG %q: %v, want an error saying how to get a kubeconfig", vars["KUBECONFIG"], r.err)
		}
		if entries, _ := os.ReadDir(home); len(entries) != 0 {
			t.Errorf("KUBECONFIG %q: wrote %v", vars["KUBECONFIG"], entries)
		}
	}
}

// KUBECONFIG may name one file twice, through a symlink: setup edits it
// once and keeps one undo record.
func TestRunSameFileTwice(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	home, dir := t.TempDir(), t.TempDir()
	real, link := filepath.Join(dir, "real"), filepath.Join(dir, "link")
	write(t, real, kubeconfigWith("x", "u", "prod", "", ""))
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := runSetup(t, home, map[string]string{"KUBECONFIG": link + string(os.PathListSeparator) + real}, Input{Command: "ekstoken"})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if got := users(t, real)["u"].Command; got != "ekstoken" {
		t.Errorf("command %q after setup", got)
	}
	if recs, _ := os.ReadDir(filepath.Join(home, ".kube", "ekstoken", "undo")); len(recs) != 1 {
		t.Errorf("undo records %v, want one", recs)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v", err)
	}
}

// A user that an earlier setup pointed at the bare name, on a machine
// where kubectl will not find it, is named with what to do; a user that
// runs ekstoken by its path is left alone quietly.
func TestRunNamesBareUsersKubectlCannotRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("exec bits")
	}
	dir := t.TempDir()
	self := filepath.Join(dir, "bin", "ekstoken")
	if err := os.MkdirAll(filepath.Dir(self), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(self, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "config")
	user := func(name, command string) string {
		return "- name: " + name + "\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: " + command + "\n      args: [token, --cluster-name, c, --region, eu-west-1]\n"
	}
	src := "apiVersion: v1\nusers:\n" + user("bare", "ekstoken") + user("abs", "/usr/local/bin/ekstoken")
	if err := os.WriteFile(kc, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", filepath.Dir(self)} {
		var out, errb strings.Builder
		err := Run(t.Context(), Env{
			Getenv: func(k string) string { return map[string]string{"PATH": path}[k] },
			Stdout: &out, Stderr: &errb, Now: time.Now, Home: dir,
			Executable: func() (string, error) { return self, nil },
		}, Input{Kubeconfig: kc})
		warned := strings.Contains(errb.String(), `"bare" alone: already runs ekstoken, but`) && strings.Contains(errb.String(), "command to "+self)
		if err != nil || warned != (path == "") || strings.Contains(errb.String(), `"abs" alone: already runs ekstoken, but`) {
			t.Errorf("PATH %q: %v, stderr:\n%s", path, err, errb.String())
		}
	}
}
