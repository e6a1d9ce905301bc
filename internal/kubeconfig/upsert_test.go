package kubeconfig

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const demoARN = "arn:aws:eks:us-west-2:123456789012:cluster/demo"

// testEntry is what `ekstoken update-kubeconfig --name demo` would write:
// it replaces the aws CLI's demo entries and is new elsewhere.
func testEntry() Entry {
	return Entry{
		ClusterName: demoARN,
		Server:      "https://NEW0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com",
		CAData:      "TkVXIENBIERBVEE=",
		Exec: Exec{
			Command:         "ekstoken",
			Args:            []string{"token", "--cluster-name", "demo", "--region", "us-west-2"},
			InteractiveMode: "IfAvailable",
		},
		SetCurrent: true,
	}
}

// newEntry is a second cluster, with env, that every input lacks.
func newEntry() Entry {
	return Entry{
		ClusterName: "arn:aws:eks:eu-west-1:123456789012:cluster/new",
		Server:      "https://NEWER0123456789ABCD.gr7.eu-west-1.eks.amazonaws.com",
		CAData:      "TkVXRVIgQ0E=",
		UserName:    "new-user",
		ContextName: "new",
		Exec: Exec{
			APIVersion:      APIVersionV1,
			Command:         "/usr/local/bin/ekstoken",
			Args:            []string{"token", "--cluster-name", "new", "--region", "eu-west-1", "--profile", "p"},
			Env:             []EnvVar{{"AWS_STS_REGIONAL_ENDPOINTS", "regional"}},
			InteractiveMode: "IfAvailable",
		},
	}
}

type kubeconfigDoc struct {
	APIVersion     string `yaml:"apiVersion"`
	Kind           string
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string
		Cluster struct {
			Server string
			CAData string `yaml:"certificate-authority-data"`
		}
	}
	Contexts []struct {
		Name    string
		Context struct{ Cluster, User string }
	}
	Users []struct {
		Name string
		User struct {
			Exec *struct {
				APIVersion      string `yaml:"apiVersion"`
				Command         string
				Args            []string
				Env             []EnvVar
				InteractiveMode string `yaml:"interactiveMode"`
			}
		}
	}
}

// contains checks that kubeconfig out holds e's entries exactly once.
func contains(t *testing.T, out []byte, e Entry) {
	t.Helper()
	var kc kubeconfigDoc
	if err := yaml.Unmarshal(out, &kc); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, out)
	}
	user, ctx := e.UserName, e.ContextName
	if user == "" {
		user = e.ClusterName
	}
	if ctx == "" {
		ctx = e.ClusterName
	}
	n := 0
	for _, c := range kc.Clusters {
		if c.Name == e.ClusterName {
			n++
			if c.Cluster.Server != e.Server || c.Cluster.CAData != e.CAData {
				t.Errorf("cluster %s: %+v", c.Name, c.Cluster)
			}
		}
	}
	for _, c := range kc.Contexts {
		if c.Name == ctx {
			n++
			if c.Context.Cluster != e.ClusterName || c.Context.User != user {
				t.Errorf("context %s: %+v", c.Name, c.Context)
			}
		}
	}
	for _, u := range kc.Users {
		if u.Name == user {
			n++
			ex := u.User.Exec
			if ex == nil || ex.Command != e.Exec.Command || !cmp.Equal(ex.Args, e.Exec.Args) || ex.InteractiveMode != e.Exec.InteractiveMode || !cmp.Equal(ex.Env, e.Exec.Env) {
				t.Errorf("user %s: %+v", u.Name, ex)
			}
		}
	}
	if n != 3 {
		t.Errorf("found %d of the 3 entries, or some twice", n)
	}
	if e.SetCurrent && kc.CurrentContext != ctx {
		t.Errorf("current-context %q, want %q", kc.CurrentContext, ctx)
	}
}

func TestUpsertGolden(t *testing.T) {
	for _, in := range inputs(t) {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			src := read(t, in)
			once, err := Upsert(src, testEntry())
			if err != nil {
				t.Fatal(err)
			}
			contains(t, once, testEntry())
			out, err := Upsert(once, newEntry())
			if err != nil {
				t.Fatal(err)
			}
			contains(t, out, testEntry())
			contains(t, out, newEntry())
			golden(t, "upsert/"+name+".golden", out)

			// Upsert twice == once, in either order.
			for _, e := range []Entry{testEntry(), newEntry()} {
				again, err := Upsert(out, e)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, out) {
					t.Errorf("second Upsert of %s changed the file:\n%s", e.ClusterName, Diff(name, out, again))
				}
			}
			if strings.HasSuffix(name, ".json") && (jsonValid(out) || bytes.Contains(out, []byte("{\"")) || !bytes.HasPrefix(out, []byte("apiVersion: v1\n"))) {
				t.Errorf("JSON in, not block YAML out, as kubectl and the aws CLI write it:\n%s", out)
			}
			// And Rewrite leaves the ekstoken entries alone.
			if _, changes, err := Rewrite(out, RewriteOptions{Command: "ekstoken", Users: []string{demoARN, "new-user"}}); err != nil || len(changes) != 0 {
				t.Errorf("Rewrite after Upsert: %v %v", changes, err)
			}
		})
	}
}

// An empty or missing kubeconfig becomes what `aws eks update-kubeconfig`
// writes, byte for byte.
func TestUpsertFreshMatchesAWS(t *testing.T) {
	want := read(t, "testdata/input/aws-plain.yaml")
	var kc kubeconfigDoc
	if err := yaml.Unmarshal(want, &kc); err != nil {
		t.Fatal(err)
	}
	e := Entry{
		ClusterName: kc.Clusters[0].Name,
		Server:      kc.Clusters[0].Cluster.Server,
		CAData:      kc.Clusters[0].Cluster.CAData,
		Exec: Exec{
			Command: "aws",
			Args:    []string{"--region", "us-west-2", "eks", "get-token", "--cluster-name", "demo", "--output", "json"},
		},
		SetCurrent: true,
	}
	for _, src := range []string{"", "\n"} {
		got, err := Upsert([]byte(src), e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("fresh from %q:\n%s", src, Diff("aws-plain.yaml", want, got))
		}
	}
	// Upserting what is already there changes nothing.
	got, err := Upsert(want, e)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Upsert of the same entries: %v\n%s", err, Diff("aws-plain.yaml", want, got))
	}

	// Comments in an otherwise empty file stay above the new content.
	got, err = Upsert([]byte("# managed by hand\n"), e)
	if err != nil || !bytes.Equal(got, append([]byte("# managed by hand\n"), want...)) {
		t.Errorf("comment-only file: %v\n%s", err, got)
	}
}

// Lists that are missing, null, [] or in flow style in a block file.
func TestUpsertListShapes(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"missing lists", "apiVersion: v1\nkind: Config\n", `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: TkVXIENBIERBVEE=
    server: https://NEW0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
  name: arn:aws:eks:us-west-2:123456789012:cluster/demo
contexts:
- context:
    cluster: arn:aws:eks:us-west-2:123456789012:cluster/demo
    user: arn:aws:eks:us-west-2:123456789012:cluster/demo
  name: arn:aws:eks:us-west-2:123456789012:cluster/demo
users:
- name: arn:aws:eks:us-west-2:123456789012:cluster/demo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - token
      - --cluster-name
      - demo
      - --region
      - us-west-2
      command: ekstoken
      interactiveMode: IfAvailable
current-context: arn:aws:eks:us-west-2:123456789012:cluster/demo
`},
		{"null, [] and empty", "apiVersion: v1\nclusters: null\ncontexts: []\ncurrent-context:\nkind: Config\nusers:\n", `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: TkVXIENBIERBVEE=
    server: https://NEW0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
  name: arn:aws:eks:us-west-2:123456789012:cluster/demo
contexts:
- context:
    cluster: arn:aws:eks:us-west-2:123456789012:cluster/demo
    user: arn:aws:eks:us-west-2:123456789012:cluster/demo
  name: arn:aws:eks:us-west-2:123456789012:cluster/demo
current-context: arn:aws:eks:us-west-2:123456789012:cluster/demo
kind: Config
users:
- name: arn:aws:eks:us-west-2:123456789012:cluster/demo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - token
      - --cluster-name
      - demo
      - --region
      - us-west-2
      command: ekstoken
      interactiveMode: IfAvailable
`},
		{"indented style, flow list", "apiVersion: v1\nclusters: [{name: other, cluster: {server: 'https://o'}}]\nusers:\n    -   name: other\n        user:\n            token: abc\n", `apiVersion: v1
clusters:
    - name: other
      cluster:
          server: 'https://o'
    - cluster:
          certificate-authority-data: TkVXIENBIERBVEE=
          server: https://NEW0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
      name: arn:aws:eks:us-west-2:123456789012:cluster/demo
users:
    -   name: other
        user:
            token: abc
    -   name: arn:aws:eks:us-west-2:123456789012:cluster/demo
        user:
            exec:
                apiVersion: client.authentication.k8s.io/v1beta1
                args:
                    - token
                    - --cluster-name
                    - demo
                    - --region
                    - us-west-2
                command: ekstoken
                interactiveMode: IfAvailable
contexts:
    - context:
          cluster: arn:aws:eks:us-west-2:123456789012:cluster/demo
          user: arn:aws:eks:us-west-2:123456789012:cluster/demo
      name: arn:aws:eks:us-west-2:123456789012:cluster/demo
current-context: arn:aws:eks:us-west-2:123456789012:cluster/demo
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Upsert([]byte(tc.src), testEntry())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\ndiff:\n%s", got, Diff(tc.name, []byte(tc.want), got))
			}
			again, err := Upsert(got, testEntry())
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("second Upsert: %v\n%s", err, Diff(tc.name, got, again))
			}
		})
	}
}

// A JSON (flow-style) kubeconfig is written back as block YAML, as
// kubectl and the aws CLI write one they change: every key and value
// stays, in its order (aliases written out in full; comments of a
// flow-style YAML file are lost, as with kubectl), strings that only quotes keep strings ("true",
// "1", "", and the key "n", which YAML 1.1 reads as false) stay quoted,
// and numbers and bools stay what they were.
func TestUpsertJSONShapes(t *testing.T) {
	e := Entry{ClusterName: "c", Server: "https://s", Exec: Exec{Command: "ekstoken", Args: []string{"token"}}, SetCurrent: true}
	const cluster = "- cluster:\n    server: https://s\n  name: c\n"
	const context = "- context:\n    cluster: c\n    user: c\n  name: c\n"
	const user = "- name: c\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - token\n      command: ekstoken\n"
	for _, tc := range []struct{ name, src, want string }{
		{"missing lists, compact with spaces", `{"apiVersion": "v1", "kind": "Config"}`,
			"apiVersion: v1\nkind: Config\nclusters:\n" + cluster + "contexts:\n" + context + "users:\n" + user + "current-context: c\n"},
		{"null and empty, pretty", "{\n    \"clusters\": null,\n    \"contexts\": [],\n    \"current-context\": null,\n    \"users\": [\n        {\"name\": \"other\", \"user\": {}}\n    ]\n}\n",
			"clusters:\n" + cluster + "contexts:\n" + context + "current-context: c\nusers:\n- name: other\n  user: {}\n" + user},
		{"scalars of every kind", `{"preferences": {"colors": true}, "apiVersion": "v1", "extensions": [{"name": "x", "extension": {"n": 1, "s": "1", "t": "true", "e": "", "z": null, "c": "a: b"}}], "users": [], "current-context": "c"}`,
			"preferences:\n  colors: true\napiVersion: v1\nextensions:\n- name: x\n  extension:\n    \"n\": 1\n    s: \"1\"\n    t: \"true\"\n    e: \"\"\n    z: null\n    c: \"a: b\"\nusers:\n" + user + "current-context: c\nclusters:\n" + cluster + "contexts:\n" + context},
		{"flow YAML with comments, an anchor and aliases", "# mine\n{apiVersion: v1, # the version\n prefs: &p {a: b}, other: *p, many: [*p, *p], kind: Config}\n",
			"apiVersion: v1\nprefs:\n  a: b\nother:\n  a: b\nmany:\n- a: b\n- a: b\nkind: Config\nclusters:\n" + cluster + "contexts:\n" + context + "users:\n" + user + "current-context: c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Upsert([]byte(tc.src), e)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\ndiff:\n%s", got, Diff(tc.name, []byte(tc.want), got))
			}
			var before, after map[string]any
			if err := yaml.Unmarshal([]byte(tc.src), &before); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(got, &after); err != nil {
				t.Fatal(err)
			}
			for k, v := range before {
				if k != "clusters" && k != "contexts" && k != "users" && k != "current-context" && !cmp.Equal(v, after[k]) {
					t.Errorf("%s: %v became %v", k, v, after[k])
				}
			}
			again, err := Upsert(got, e)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("second Upsert: %v\n%s", err, Diff(tc.name, got, again))
			}
		})
	}
}

func TestUpsertSetCurrentFalse(t *testing.T) {
	src := read(t, "testdata/input/aws-alias.yaml")
	e := testEntry()
	e.SetCurrent = false
	out, err := Upsert(src, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("\ncurrent-context: demo-alias\n")) {
		t.Errorf("current-context changed:\n%s", out)
	}
	fresh, err := Upsert(nil, e)
	if err != nil || !bytes.Contains(fresh, []byte("\ncurrent-context: \"\"\n")) {
		t.Errorf("fresh without SetCurrent: %v\n%s", err, fresh)
	}
}

func TestUpsertNeeds(t *testing.T) {
	for _, e := range []Entry{{}, {ClusterName: "c"}, {ClusterName: "c", Server: "s"}} {
		if _, err := Upsert(nil, e); err == nil {
			t.Errorf("%+v: no error", e)
		}
	}
}
