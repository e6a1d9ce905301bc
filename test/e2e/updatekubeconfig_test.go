package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// motoCluster is what moto answers about an EKS cluster.
type motoCluster struct {
	Name, ARN, Endpoint  string
	CertificateAuthority struct{ Data string }
}

// awsCLIPath finds the aws CLI; see requireTool.
func awsCLIPath(t *testing.T) string { return requireTool(t, "aws") }

// isSubsequence reports whether the lines of sub appear in full in order.
func isSubsequence(sub, full []string) bool {
	i := 0
	for _, l := range full {
		if i < len(sub) && sub[i] == l {
			i++
		}
	}
	return i == len(sub)
}

// withoutExecCommand is a kubeconfig as data, with the command and args of
// every exec entry taken out and returned.
func withoutExecCommand(t *testing.T, b []byte) (doc map[string]any, commands []string) {
	t.Helper()
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("kubeconfig does not parse: %v\n%s", err, b)
	}
	users, _ := doc["users"].([]any)
	for _, u := range users {
		user, _ := u.(map[string]any)["user"].(map[string]any)
		ex, _ := user["exec"].(map[string]any)
		if ex == nil {
			continue
		}
		args, _ := json.Marshal(ex["args"])
		commands = append(commands, fmt.Sprint(ex["command"])+" "+string(args))
		delete(ex, "command")
		delete(ex, "args")
	}
	return doc, commands
}

// update-kubeconfig reads clusters from EKS (moto_server) and writes what
// `aws eks update-kubeconfig` writes, but with a user that runs ekstoken.
func TestUpdateKubeconfig(t *testing.T) {
	t.Parallel()
	awsBin := awsCLIPath(t)
	motoURL := startMoto(t)
	eksURL := eksWithRealCA(t, motoURL)
	sb := newSandbox(t)
	writeFile(t, filepath.Join(sb.home, ".aws", "config"), "[profile p]\nregion = us-west-2\n")
	writeFile(t, filepath.Join(sb.home, ".aws", "credentials"),
		"[p]\naws_access_key_id = "+bobKeyID+"\naws_secret_access_key = "+bobSecret+"\n")

	// The aws CLI takes a second or two to start: both clusters at once.
	names := []string{"c1", "c2"}
	created := make([]result, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		create := func() result {
			return run(t, sb.withKeys("AWS_PAGER="), awsBin, "eks", "create-cluster", "--name", name,
				"--role-arn", "arn:aws:iam::123456789012:role/eks", "--resources-vpc-config", "subnetIds=subnet-1",
				"--endpoint-url", eksURL, "--region", region, "--output", "json")
		}
		wg.Go(func() { created[i] = create() })
	}
	wg.Wait()
	clusters := map[string]motoCluster{}
	for i, name := range names {
		r := created[i]
		if r.err != nil {
			t.Fatalf("aws eks create-cluster %s: %v\n%s", name, r.err, r.stderr)
		}
		var out struct{ Cluster motoCluster }
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("aws eks create-cluster %s: %v\n%s", name, err, r.stdout)
		}
		c := out.Cluster
		if c.Name != name || c.ARN == "" || c.Endpoint == "" || c.CertificateAuthority.Data == "" {
			t.Fatalf("moto's cluster %s: %+v", name, c)
		}
		clusters[name] = c
	}
	c1, c2 := clusters["c1"], clusters["c2"]

	// env reaches moto's EKS with alice's keys; noKeys with the profile
	// only. STS, which these runs should not need, is moto too.
	// ekstoken is on PATH, so the bare name is written, as the aws CLI writes
	// `aws`.
	endpoints := []string{"AWS_ENDPOINT_URL_EKS=" + eksURL, "AWS_ENDPOINT_URL_STS=" + motoURL,
		"PATH=" + filepath.Dir(ekstokenBin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	env := sb.withKeys(endpoints...)
	noKeys := sb.with(endpoints...)
	update := func(t *testing.T, env []string, kc string, args ...string) result {
		t.Helper()
		return mustEkstoken(t, env, append([]string{"update-kubeconfig", "--region", region, "--kubeconfig", kc}, args...)...)
	}
	// checkCluster checks the entries of c: cluster, user and context.
	checkCluster := func(t *testing.T, d kubeconfigDoc, c motoCluster, contextName string, env ...envEntry) {
		t.Helper()
		i := slices.IndexFunc(d.Clusters, func(e clusterEntry) bool { return e.Name == c.ARN })
		if i < 0 {
			t.Fatalf("no cluster %s in %+v", c.ARN, d.Clusters)
		}
		if got := d.Clusters[i].Cluster; got.Server != c.Endpoint || got.CAData != c.CertificateAuthority.Data {
			t.Errorf("cluster %s: server %q, CA %.20q...; want moto's %q, %.20q...", c.ARN, got.Server, got.CAData, c.Endpoint, c.CertificateAuthority.Data)
		}
		found := false
		for _, ctx := range d.Contexts {
			if ctx.Name == contextName {
				found = true
				if ctx.Context.Cluster != c.ARN || ctx.Context.User != c.ARN {
					t.Errorf("context %s: %+v, want cluster and user %s", contextName, ctx.Context, c.ARN)
				}
			}
		}
		if !found {
			t.Errorf("no context %s in %+v", contextName, d.Contexts)
		}
		want := execEntry{APIVersion: v1beta1, Command: "ekstoken",
			Args: []string{"token", "--cluster-name", c.Name, "--region", region}, Env: env}
		if diff := cmp.Diff(want, d.exec(t, c.ARN)); diff != "" {
			t.Errorf("user %s (-want +got):\n%s", c.ARN, diff)
		}
	}
	// kubectlContexts lists the contexts kubectl reads from kc. kubectl
	// never contacts moto's endpoints, which are not on 127.0.0.1.
	kubectlContexts := func(t *testing.T, kc string) []string {
		t.Helper()
		r := run(t, sb.with(), kubectlPath(t), "--kubeconfig", kc, "config", "get-contexts", "-o", "name")
		if r.err != nil {
			t.Fatalf("kubectl cannot read %s: %v\n%s", kc, r.err, r.stderr)
		}
		return strings.Fields(r.stdout)
	}

	t.Run("new file", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		r := update(t, env, kc, "--name", "c1")
		if !strings.Contains(r.stderr, kc+": written") {
			t.Errorf("stderr does not say the file was written:\n%s", r.stderr)
		}
		d := parseKubeconfig(t, readFile(t, kc))
		checkCluster(t, d, c1, c1.ARN)
		if d.CurrentContext != c1.ARN {
			t.Errorf("current-context %q, want %s", d.CurrentContext, c1.ARN)
		}
		if st, err := os.Stat(kc); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("new kubeconfig: %v, %v; want mode 0600", st, err)
		}
		if got := kubectlContexts(t, kc); got != nil && !slices.Equal(got, []string{c1.ARN}) {
			t.Errorf("kubectl reads the contexts %v", got)
		}

		// Twice: nothing changes.
		first := readFile(t, kc)
		r = update(t, env, kc, "--name", "c1")
		if !strings.Contains(r.stderr, kc+": already up to date") {
			t.Errorf("a second run does not say the file is up to date:\n%s", r.stderr)
		}
		if !bytes.Equal(readFile(t, kc), first) {
			t.Errorf("a second run changed the file:\n%s", readFile(t, kc))
		}
		if names := dirNames(t, filepath.Dir(kc)); !slices.Equal(names, []string{"config"}) {
			t.Errorf("beside the kubeconfig: %v", names)
		}

		// --alias names the context; the cluster and user keep the ARN.
		r = update(t, env, kc, "--name", "c1", "--alias", "dev")
		d = parseKubeconfig(t, readFile(t, kc))
		checkCluster(t, d, c1, "dev")
		checkCluster(t, d, c1, c1.ARN) // the earlier context stays
		if d.CurrentContext != "dev" || len(d.Clusters) != 1 || len(d.Users) != 1 || len(d.Contexts) != 2 {
			t.Errorf("after --alias dev: current-context %q, %d clusters, %d users, %d contexts; want dev, 1, 1, 2",
				d.CurrentContext, len(d.Clusters), len(d.Users), len(d.Contexts))
		}
		// Like aws eks update-kubeconfig, it keeps no copy beside the file.
		if b := backupsOf(t, kc); len(b) != 0 {
			t.Errorf("changing an existing file left %v beside it\n%s", b, r.stderr)
		}
	})

	t.Run("all", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		r := update(t, env, kc, "--all")
		d := parseKubeconfig(t, readFile(t, kc))
		checkCluster(t, d, c1, c1.ARN)
		checkCluster(t, d, c2, c2.ARN)
		if len(d.Clusters) != 2 || len(d.Users) != 2 || len(d.Contexts) != 2 {
			t.Errorf("--all wrote %d clusters, %d users, %d contexts; want 2 of each", len(d.Clusters), len(d.Users), len(d.Contexts))
		}
		// --all chooses no context: the user had none, so none is set.
		if d.CurrentContext != "" || !strings.Contains(r.stderr, "no current-context is set") {
			t.Errorf("current-context %q after --all in a new file:\n%s", d.CurrentContext, r.stderr)
		}
		for _, c := range []motoCluster{c1, c2} {
			if !strings.Contains(r.stderr, "Added new context "+c.ARN+" to "+kc) {
				t.Errorf("stderr does not name the context of %s:\n%s", c.Name, r.stderr)
			}
		}
		first := readFile(t, kc)
		r = update(t, env, kc, "--all")
		if !bytes.Equal(readFile(t, kc), first) || !strings.Contains(r.stderr, "already up to date") {
			t.Errorf("--all twice changed the file or did not say so:\n%s", r.stderr)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		dir := t.TempDir()
		kc := filepath.Join(dir, "config")
		r := update(t, env, kc, "--name", "c1", "--dry-run")
		if _, err := os.Stat(kc); !os.IsNotExist(err) {
			t.Fatalf("--dry-run created the kubeconfig: %v", err)
		}
		if !strings.Contains(r.stderr, "dry run: nothing was written") {
			t.Errorf("--dry-run does not say nothing was written:\n%s", r.stderr)
		}
		fromDiff, err := applyUnifiedDiff("", r.stdout)
		if err != nil {
			t.Fatalf("--dry-run diff does not apply to an empty file: %v\n%s", err, r.stdout)
		}
		update(t, env, kc, "--name", "c1")
		if got := readFile(t, kc); string(got) != fromDiff {
			t.Errorf("the file written differs from the dry run's diff:\nwritten:\n%s\ndiff:\n%s", got, r.stdout)
		}

		before := readFile(t, kc)
		r = update(t, env, kc, "--name", "c2", "--dry-run")
		if !bytes.Equal(readFile(t, kc), before) {
			t.Fatalf("--dry-run changed the file")
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"config"}) {
			t.Errorf("--dry-run left %v", names)
		}
		fromDiff, err = applyUnifiedDiff(string(before), r.stdout)
		if err != nil {
			t.Fatalf("--dry-run diff does not apply to the file: %v\n%s", err, r.stdout)
		}
		update(t, env, kc, "--name", "c2")
		if got := readFile(t, kc); string(got) != fromDiff {
			t.Errorf("the file written differs from the dry run's diff:\nwritten:\n%s\ndiff:\n%s", got, r.stdout)
		}
	})

	t.Run("profile", func(t *testing.T) {
		// Without keys in the environment, so that profile p is what
		// describes the cluster.
		for name, tc := range map[string]struct {
			env  []string
			args []string
		}{
			"--profile":   {noKeys, []string{"--profile", "p"}},
			"AWS_PROFILE": {append(slices.Clone(noKeys), "AWS_PROFILE=p"), nil},
			// The aws CLI writes AWS_PROFILE for AWS_DEFAULT_PROFILE too.
			"AWS_DEFAULT_PROFILE": {append(slices.Clone(noKeys), "AWS_DEFAULT_PROFILE=p"), nil},
		} {
			t.Run(name, func(t *testing.T) {
				kc := filepath.Join(t.TempDir(), "config")
				update(t, tc.env, kc, append([]string{"--name", "c1"}, tc.args...)...)
				checkCluster(t, parseKubeconfig(t, readFile(t, kc)), c1, c1.ARN, envEntry{"AWS_PROFILE", "p"})
			})
		}
	})

	t.Run("existing file with comments", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		original := `# my clusters -- keep this comment
apiVersion: v1
kind: Config
clusters:
  # a local cluster
  - name: local
    cluster:
      server: https://127.0.0.1:6443   # kind
      insecure-skip-tls-verify: true
contexts:
  - name: local
    context: {cluster: local, user: local-admin}
current-context: local   # switch with kubectl config use-context
users:
  - name: local-admin   # static
    user:
      token: s3cr3t
# end
`
		writeFile(t, kc, original)
		update(t, env, kc, "--name", "c1")
		got := readFile(t, kc)
		var kept []string
		for line := range strings.Lines(original) {
			if !strings.HasPrefix(line, "current-context:") {
				kept = append(kept, line)
			}
		}
		if !isSubsequence(kept, slices.Collect(strings.Lines(string(got)))) {
			t.Errorf("lines of the original are lost or moved:\n%s", got)
		}
		if !strings.Contains(string(got), "\ncurrent-context: "+c1.ARN+"   # switch with kubectl config use-context\n") {
			t.Errorf("current-context is not replaced in place, comment kept:\n%s", got)
		}
		d := parseKubeconfig(t, got)
		checkCluster(t, d, c1, c1.ARN)
		if len(d.Clusters) != 2 || len(d.Users) != 2 || d.Users[0].User.Token != "s3cr3t" {
			t.Errorf("the local cluster and user are not kept: %+v %+v", d.Clusters, d.Users)
		}
		if got := kubectlContexts(t, kc); got != nil && !slices.Equal(got, []string{c1.ARN, "local"}) {
			t.Errorf("kubectl reads the contexts %v", got)
		}
	})

	t.Run("first file of KUBECONFIG", func(t *testing.T) {
		dir := t.TempDir()
		first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
		mustEkstoken(t, append(slices.Clone(env), "KUBECONFIG="+first+":"+second), "update-kubeconfig", "--region", region, "--name", "c1")
		checkCluster(t, parseKubeconfig(t, readFile(t, first)), c1, c1.ARN)
		if _, err := os.Stat(second); !os.IsNotExist(err) {
			t.Errorf("the second file of KUBECONFIG was written: %v", err)
		}
	})

	// The aws CLI against the same moto writes the same file, but for the
	// exec entry's command and args.
	t.Run("same as aws eks update-kubeconfig", func(t *testing.T) {
		for _, args := range [][]string{
			{"--name", "c1"},
			{"--name", "c2", "--alias", "dev", "--profile", "p"},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				g, f := filepath.Join(dir, "aws"), filepath.Join(dir, "ekstoken")
				r := run(t, sb.withKeys("AWS_PAGER="), awsBin, slices.Concat([]string{"eks", "update-kubeconfig",
					"--region", region, "--endpoint-url", eksURL, "--kubeconfig", g}, args)...)
				if r.err != nil {
					t.Fatalf("aws eks update-kubeconfig %v: %v\n%s", args, r.err, r.stderr)
				}
				update(t, env, f, args...)
				fromAWS, fromEkstoken := readFile(t, g), readFile(t, f)

				awsDoc, awsCommands := withoutExecCommand(t, fromAWS)
				doc, commands := withoutExecCommand(t, fromEkstoken)
				if diff := cmp.Diff(awsDoc, doc); diff != "" {
					t.Errorf("%v: beyond the exec command and args, ekstoken's kubeconfig differs from the aws CLI's (-aws +ekstoken):\n%s", args, diff)
				}
				name := args[1]
				want := []string{`aws ["--region","us-west-2","eks","get-token","--cluster-name","` + name + `","--output","json"]`}
				if !slices.Equal(awsCommands, want) {
					t.Errorf("%v: the aws CLI wrote %v, want %v", args, awsCommands, want)
				}
				want = []string{`ekstoken ["token","--cluster-name","` + name + `","--region","us-west-2"]`}
				if !slices.Equal(commands, want) {
					t.Errorf("%v: ekstoken wrote %v, want %v", args, commands, want)
				}
				// The text, too, is laid out as the aws CLI lays it out.
				if diff := cmp.Diff(outsideExec(fromAWS), outsideExec(fromEkstoken)); diff != "" {
					t.Errorf("%v: outside the exec entry, the text differs from the aws CLI's (-aws +ekstoken):\n%s", args, diff)
				}
				for _, p := range []string{g, f} {
					if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
						t.Errorf("%s: %v, %v; want mode 0600", p, st, err)
					}
				}
			})
		}
	})
}
