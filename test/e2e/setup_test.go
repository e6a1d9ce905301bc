package e2e

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ekstoken/ekstoken/internal/fakeeks"
	"github.com/google/go-cmp/cmp"
)

const (
	// bob is the identity of AWS profile p in the setup sandboxes.
	bobKeyID  = "AKIDBOBEXAMPLE"
	bobSecret = "bobSecretKey/K7MDENG/bPxRfiCYEXAMPLEKEY"
	bobARN    = "arn:aws:iam::111122223333:user/bob"

	// eksARN names the cluster, user and context `aws eks update-kubeconfig` writes.
	eksARN = "arn:aws:eks:us-west-2:111122223333:cluster/" + clusterName
	// adminRole is the role of the --role variants, assumed through moto.
	adminRole = "arn:aws:iam::123456789012:role/eks-admin"
)

// nativeArgs is what setup turns every form with a region into.
var nativeArgs = []string{"token", "--cluster-name", clusterName, "--region", region}

// setupSandbox is a sandbox whose AWS files give the default profile
// alice's keys and profile p bob's, both in us-west-2, and the environment
// for its processes: no keys, and a PATH with only ekstoken's directory
// and kubectl. It is what a laptop with kubectl, ekstoken and an AWS
// config, but without the aws CLI, looks like.
func setupSandbox(t *testing.T) (*sandbox, []string) {
	t.Helper()
	sb := newSandbox(t)
	writeFile(t, filepath.Join(sb.home, ".aws", "config"),
		"[default]\nregion = us-west-2\n\n[profile p]\nregion = us-west-2\n")
	writeFile(t, filepath.Join(sb.home, ".aws", "credentials"),
		"[default]\naws_access_key_id = "+accessKeyID+"\naws_secret_access_key = "+secretKey+"\n\n"+
			"[p]\naws_access_key_id = "+bobKeyID+"\naws_secret_access_key = "+bobSecret+"\n")
	return sb, sb.with(isolatedPath(t, filepath.Dir(ekstokenBin), kubectlDir(t)))
}

// startSetupEKS is fakeeks for clusterName, knowing alice's and bob's keys.
func startSetupEKS(t *testing.T) *fakeeks.Server {
	t.Helper()
	s := startEKS(t, nil)
	s.AddIdentity(fakeeks.Identity{AccessKeyID: bobKeyID, SecretAccessKey: bobSecret, ARN: bobARN})
	return s
}

// awsKubeconfig is byte for byte what `aws eks update-kubeconfig --name
// e2e-cluster --region us-west-2` writes (aws-cli 1.x and 2.x), for a
// cluster at server, with the args --role-arn adds and the env --profile
// adds when role and profile are given.
func awsKubeconfig(server string, ca []byte, role, profile string) string {
	s := `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca) + `
    server: ` + server + `
  name: ` + eksARN + `
contexts:
- context:
    cluster: ` + eksARN + `
    user: ` + eksARN + `
  name: ` + eksARN + `
current-context: ` + eksARN + `
kind: Config
preferences: {}
users:
- name: ` + eksARN + `
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - us-west-2
      - eks
      - get-token
      - --cluster-name
      - e2e-cluster
      - --output
      - json
`
	if role != "" {
		s += "      - --role\n      - " + role + "\n"
	}
	s += "      command: aws\n"
	if profile != "" {
		s += "      env:\n      - name: AWS_PROFILE\n        value: " + profile + "\n"
	}
	return s
}

// eksctlKubeconfig is what eksctl writes, with the given exec entry.
func eksctlKubeconfig(server string, ca []byte, exec string) string {
	const name = "e2e-cluster.us-west-2.eksctl.io"
	return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca) + `
    server: ` + server + `
  name: ` + name + `
contexts:
- context:
    cluster: ` + name + `
    user: alice@` + name + `
  name: alice@` + name + `
current-context: alice@` + name + `
kind: Config
preferences: {}
users:
- name: alice@` + name + `
  user:
    exec:
` + exec
}

// handwrittenKubeconfig has comments everywhere, two clusters, an EKS user
// (aws eks get-token, written by hand) and a static-token user that is not
// EKS's business, on a second server.
func handwrittenKubeconfig(server string, ca []byte, server2 string, ca2 []byte, staticToken string) string {
	return `# Team kubeconfig -- maintained by hand, keep these comments!
apiVersion: v1
kind: Config
preferences: {}

clusters:
  # the EKS cluster
  - name: eks            # behind fakeeks
    cluster:
      server: "` + server + `"
      certificate-authority-data: '` + base64.StdEncoding.EncodeToString(ca) + `'
  # an on-premises cluster with a static token
  - name: onprem
    cluster:
      certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca2) + `
      server: ` + server2 + `

contexts:
  - name: prod   # the one that matters
    context: {cluster: eks, user: prod-admin, namespace: default}
  - name: onprem
    context:
      cluster: onprem
      user: static

current-context: prod

users:
  # EKS through the aws CLI, written by hand
  - name: prod-admin
    user:
      exec:
        # v1 requires interactiveMode; this entry has none
        apiVersion: client.authentication.k8s.io/v1
        command: aws   # from PATH
        args:
          - eks
          - get-token
          # the cluster
          - --cluster-name
          - e2e-cluster   # see clusters
          - --region=us-west-2
        provideClusterInfo: false
  # not EKS: a static bearer token
  - name: static
    user:
      token: "` + staticToken + `"   # rotated by hand
# end of file
`
}

// blogKubeconfig runs the eks-token-cache.sh script of the AWS blog post
// on caching EKS tokens.
func blogKubeconfig(server string, ca []byte) string {
	return `apiVersion: v1
kind: Config
clusters:
- cluster:
    server: ` + server + `
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca) + `
  name: dev-cluster
contexts:
- context:
    cluster: dev-cluster
    user: dev
  name: dev
current-context: dev
users:
- name: dev
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: /home/x/.kube/eks-token-cache.sh
      args:
        - e2e-cluster
        - us-west-2
        - default
      interactiveMode: Never
`
}

// The kubeconfig forms found in the wild (aws eks update-kubeconfig with
// and without --role-arn and --profile, eksctl's three, a hand-written file
// with comments and a non-EKS user, the blog's caching script) fail in a
// sandbox without the aws CLI; after `ekstoken setup` the real kubectl
// lists namespaces through each of them, as the identity the original
// asked for, and everything outside the exec entries is as it was.
func TestSetupRealWorldForms(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	type form struct {
		name string
		// kubeconfig renders the form for a server (fakeeks, or the
		// role front) and its certificate.
		kubeconfig func(t *testing.T, server string, ca []byte) string
		needsSTS   bool // the role variant: STS is moto behind a front
		context    string
		user       string
		before     string    // why kubectl fails before setup
		want       execEntry // the user's exec entry after setup
		keyID      string    // who must sign its tokens ("" for the role session)
		// static contexts must work before setup and after.
		static []string
	}
	awsWant := func(extraArgs []string, env ...envEntry) execEntry {
		return execEntry{APIVersion: v1beta1, Command: "ekstoken", Args: slices.Concat(nativeArgs, extraArgs),
			Env: env, InteractiveMode: "IfAvailable"}
	}
	forms := []form{{
		name: "aws update-kubeconfig",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return awsKubeconfig(server, ca, "", "")
		},
		context: eksARN, user: eksARN, before: "executable aws not found", want: awsWant(nil), keyID: accessKeyID,
	}, {
		name: "aws update-kubeconfig --role-arn",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return awsKubeconfig(server, ca, adminRole, "")
		},
		needsSTS: true,
		context:  eksARN, user: eksARN, before: "executable aws not found", want: awsWant([]string{"--role-arn", adminRole}),
	}, {
		name: "aws update-kubeconfig --profile",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return awsKubeconfig(server, ca, "", "p")
		},
		context: eksARN, user: eksARN, before: "executable aws not found", want: awsWant(nil, envEntry{"AWS_PROFILE", "p"}), keyID: bobKeyID,
	}, {
		name: "eksctl aws-iam-authenticator v1alpha1",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return eksctlKubeconfig(server, ca, `      apiVersion: client.authentication.k8s.io/v1alpha1
      args:
      - token
      - -i
      - e2e-cluster
      command: aws-iam-authenticator
      env: null
      provideClusterInfo: false
`)
		},
		context: "alice@e2e-cluster.us-west-2.eksctl.io", user: "alice@e2e-cluster.us-west-2.eksctl.io",
		before: `invalid apiVersion "client.authentication.k8s.io/v1alpha1"`,
		// v1alpha1 upgraded (kubectl rejects it); the region comes from
		// the default profile, as it did for aws-iam-authenticator.
		want:  execEntry{APIVersion: v1beta1, Command: "ekstoken", Args: []string{"token", "--cluster-name", clusterName}, InteractiveMode: "IfAvailable"},
		keyID: accessKeyID,
	}, {
		name: "eksctl aws-iam-authenticator v1beta1",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return eksctlKubeconfig(server, ca, `      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - token
      - -i
      - e2e-cluster
      command: aws-iam-authenticator
      env:
      - name: AWS_STS_REGIONAL_ENDPOINTS
        value: regional
      interactiveMode: IfAvailable
      provideClusterInfo: false
`)
		},
		context: "alice@e2e-cluster.us-west-2.eksctl.io", user: "alice@e2e-cluster.us-west-2.eksctl.io",
		before: "executable aws-iam-authenticator not found",
		want: execEntry{APIVersion: v1beta1, Command: "ekstoken", Args: []string{"token", "--cluster-name", clusterName},
			Env: []envEntry{{"AWS_STS_REGIONAL_ENDPOINTS", "regional"}}, InteractiveMode: "IfAvailable"},
		keyID: accessKeyID,
	}, {
		name: "eksctl aws eks get-token",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			return eksctlKubeconfig(server, ca, `      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - eks
      - get-token
      - --output
      - json
      - --cluster-name
      - e2e-cluster
      - --region
      - us-west-2
      command: aws
      env:
      - name: AWS_STS_REGIONAL_ENDPOINTS
        value: regional
      provideClusterInfo: false
`)
		},
		context: "alice@e2e-cluster.us-west-2.eksctl.io", user: "alice@e2e-cluster.us-west-2.eksctl.io",
		before: "executable aws not found",
		want:   awsWant(nil, envEntry{"AWS_STS_REGIONAL_ENDPOINTS", "regional"}),
		keyID:  accessKeyID,
	}, {
		name: "hand-written with comments and a static token",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			// The static user's token is a valid EKS token for a second
			// server, signed ahead of time in another sandbox: kubectl
			// sends it as it is.
			s2 := startEKS(t, nil)
			static := getToken(t, newSandbox(t).withKeys(), tokenArgs...)
			return handwrittenKubeconfig(server, ca, s2.URL, s2.CAData, static)
		},
		context: "prod", user: "prod-admin", before: "interactiveMode must be specified for prod-admin",
		want:   execEntry{APIVersion: v1, Command: "ekstoken", Args: nativeArgs, InteractiveMode: "IfAvailable"},
		keyID:  accessKeyID,
		static: []string{"onprem"},
	}, {
		name: "eks-token-cache.sh",
		kubeconfig: func(t *testing.T, server string, ca []byte) string {
			if _, err := os.Stat("/home/x/.kube/eks-token-cache.sh"); err == nil {
				t.Skip("/home/x/.kube/eks-token-cache.sh exists on this machine")
			}
			return blogKubeconfig(server, ca)
		},
		context: "dev", user: "dev", before: "/home/x/.kube/eks-token-cache.sh: no such file or directory",
		// The profile "default" is no profile; Never stays Never, as the
		// default profile needs no MFA.
		want:  execEntry{APIVersion: v1beta1, Command: "ekstoken", Args: nativeArgs, InteractiveMode: "Never"},
		keyID: accessKeyID,
	}}

	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			s := startSetupEKS(t)
			_, env := setupSandbox(t)
			server, ca := s.URL, s.CAData
			var motoURL string
			if f.needsSTS {
				motoURL = startMoto(t)
				server, ca = startRoleFront(t, s, motoURL)
				env = append(env, "AWS_ENDPOINT_URL_STS="+motoURL)
			}
			original := []byte(f.kubeconfig(t, server, ca))
			kc := filepath.Join(t.TempDir(), "config")
			writeFile(t, kc, string(original))

			// Before: the EKS context cannot run its plugin; the static one works.
			if ok, stderr := getNamespaces(t, env, kc, f.context); ok || !strings.Contains(stderr, f.before) {
				t.Fatalf("before setup, kubectl --context %s: ok %v, want a failure for %q:\n%s", f.context, ok, f.before, stderr)
			}
			for _, c := range f.static {
				if ok, stderr := getNamespaces(t, env, kc, c); !ok {
					t.Fatalf("before setup, kubectl --context %s fails:\n%s", c, stderr)
				}
			}

			// --dry-run prints the change as a unified diff and writes nothing.
			dry := mustEkstoken(t, env, "setup", "--kubeconfig", kc, "--dry-run")
			if !bytes.Equal(readFile(t, kc), original) {
				t.Fatalf("setup --dry-run changed the file")
			}
			if b := backupsOf(t, kc); len(b) != 0 {
				t.Errorf("setup --dry-run made backups: %v", b)
			}
			if recs := undoRecords(t, env); len(recs) != 0 {
				t.Errorf("setup --dry-run made undo records: %v", recs)
			}
			if !strings.Contains(dry.stderr, "dry run: nothing was written") {
				t.Errorf("setup --dry-run stderr does not say nothing was written:\n%s", dry.stderr)
			}
			if !strings.HasPrefix(dry.stdout, "--- "+kc+"\n+++ "+kc+"\n@@ ") {
				t.Fatalf("setup --dry-run stdout is not a unified diff of %s:\n%s", kc, dry.stdout)
			}
			patched, err := applyUnifiedDiff(string(original), dry.stdout)
			if err != nil {
				t.Fatalf("setup --dry-run printed a diff that does not apply to the file: %v\n%s", err, dry.stdout)
			}

			// setup rewrites the user, exactly as the dry run said.
			r := mustEkstoken(t, env, "setup", "--kubeconfig", kc)
			if r.stdout != "" {
				t.Errorf("setup printed on stdout: %q", r.stdout)
			}
			if !strings.Contains(r.stderr, kc+": rewrote 1 user;") {
				t.Errorf("setup stderr does not report one rewritten user:\n%s", r.stderr)
			}
			got := readFile(t, kc)
			if string(got) != patched {
				t.Errorf("setup wrote something else than its dry run showed:\nwrote:\n%s\ndry run:\n%s", got, dry.stdout)
			}
			if diff := cmp.Diff(f.want, parseKubeconfig(t, got).exec(t, f.user)); diff != "" {
				t.Errorf("user %s after setup (-want +got):\n%s\n%s", f.user, diff, got)
			}
			if diff := cmp.Diff(outsideExec(original), outsideExec(got)); diff != "" {
				t.Errorf("setup changed lines outside the exec entries (-before +after):\n%s", diff)
			}
			if b := backupsOf(t, kc); len(b) != 0 {
				t.Errorf("setup left files beside the kubeconfig: %v", b)
			}
			if recs := undoRecords(t, env); len(recs) != 1 || !bytes.Equal(recordOriginal(t, recs[0]), original) {
				t.Errorf("want one undo record holding the original, have %v", recs)
			} else if !strings.Contains(r.stderr, recs[0]) {
				t.Errorf("setup stderr does not name the undo record %s:\n%s", recs[0], r.stderr)
			}

			// After: every context works, as the identity the form named.
			for _, c := range append([]string{f.context}, f.static...) {
				if ok, stderr := getNamespaces(t, env, kc, c); !ok {
					t.Errorf("after setup, kubectl --context %s fails:\n%s", c, stderr)
				}
			}
			key := f.keyID
			if f.needsSTS {
				sessions, err := motoSessions(motoURL)
				if err != nil {
					t.Fatal(err)
				}
				if len(sessions) != 1 || sessions[0].RoleARN != adminRole {
					t.Fatalf("moto handed out %+v, want one session of %s", sessions, adminRole)
				}
				key = sessions[0].AccessKeyID
			}
			st := s.Stats()
			if st.Authenticated == 0 || st.ByAccessKeyID[key] != st.Authenticated || st.Rejected != 0 {
				t.Errorf("fakeeks stats %+v: want every request authenticated with %s, none rejected (%s)",
					st, key, st.LastRejectReason)
			}
		})
	}
}

// A second setup has nothing to do: same bytes, no new undo record, and
// it says so.
func TestSetupTwice(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	_, env := setupSandbox(t)
	kc := filepath.Join(t.TempDir(), "config")
	writeFile(t, kc, awsKubeconfig(s.URL, s.CAData, "", "p"))

	mustEkstoken(t, env, "setup", "--kubeconfig", kc)
	first := readFile(t, kc)
	records := undoRecords(t, env)
	if len(records) != 1 {
		t.Fatalf("after the first setup: undo records %v, want one", records)
	}

	for _, args := range [][]string{{"--dry-run"}, {}} {
		r := mustEkstoken(t, env, append([]string{"setup", "--kubeconfig", kc}, args...)...)
		if r.stdout != "" {
			t.Errorf("setup %v again printed on stdout:\n%s", args, r.stdout)
		}
		if !strings.Contains(r.stderr, kc+": nothing to change") {
			t.Errorf("setup %v again: stderr does not say there is nothing to change:\n%s", args, r.stderr)
		}
		if !strings.Contains(r.stderr, `left user "`+eksARN+`" alone: already runs ekstoken`) {
			t.Errorf("setup %v again: stderr does not say why the user is left alone:\n%s", args, r.stderr)
		}
		if !bytes.Equal(readFile(t, kc), first) {
			t.Errorf("setup %v again changed the file", args)
		}
		if recs := undoRecords(t, env); !slices.Equal(recs, records) {
			t.Errorf("setup %v again: undo records went from %v to %v", args, records, recs)
		}
	}
}

// A profile that asks for an MFA code cannot prompt under interactiveMode
// Never: setup switches such a user to IfAvailable, reading the profile
// from the AWS config file the environment names.
func TestSetupMFAProfile(t *testing.T) {
	t.Parallel()
	s := startSetupEKS(t)
	sb, env := setupSandbox(t)
	writeFile(t, filepath.Join(sb.home, ".aws", "config"), "[default]\nregion = us-west-2\n\n"+
		"[profile mfa]\nrole_arn = "+adminRole+"\nsource_profile = default\nmfa_serial = arn:aws:iam::111122223333:mfa/alice\n")
	kc := filepath.Join(t.TempDir(), "config")
	// The blog's form with a third argument: the profile.
	writeFile(t, kc, strings.Replace(blogKubeconfig(s.URL, s.CAData), "        - default\n", "        - mfa\n", 1))

	r := mustEkstoken(t, env, "setup", "--kubeconfig", kc)
	want := execEntry{APIVersion: v1beta1, Command: "ekstoken", Args: slices.Concat(nativeArgs, []string{"--profile", "mfa"}),
		InteractiveMode: "IfAvailable"}
	if diff := cmp.Diff(want, parseKubeconfig(t, readFile(t, kc)).exec(t, "dev")); diff != "" {
		t.Errorf("user dev after setup (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.stderr, `profile "mfa" asks for an MFA code`) {
		t.Errorf("setup does not explain the interactiveMode change:\n%s", r.stderr)
	}
}

// --absolute writes the path of the binary that ran, so kubectl finds it
// without PATH.
func TestSetupAbsolute(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	s := startSetupEKS(t)
	sb, env := setupSandbox(t)
	kc := filepath.Join(t.TempDir(), "config")
	writeFile(t, kc, awsKubeconfig(s.URL, s.CAData, "", ""))

	mustEkstoken(t, env, "setup", "--kubeconfig", kc, "--absolute")
	got := parseKubeconfig(t, readFile(t, kc)).exec(t, eksARN)
	bin, err := filepath.EvalSymlinks(ekstokenBin)
	if err != nil {
		t.Fatal(err)
	}
	if got.Command != bin || !filepath.IsAbs(got.Command) {
		t.Errorf("setup --absolute wrote command %q, want %q", got.Command, bin)
	}
	if !slices.Equal(got.Args, nativeArgs) {
		t.Errorf("setup --absolute wrote args %q", got.Args)
	}

	// kubectl runs it with a PATH that does not hold ekstoken.
	noEkstoken := sb.with(isolatedPath(t, kubectlDir(t)))
	if ok, stderr := getNamespaces(t, noEkstoken, kc, eksARN); !ok {
		t.Errorf("kubectl without ekstoken on PATH: %s", stderr)
	}
	checkStats(t, s, 0, 1)
}
