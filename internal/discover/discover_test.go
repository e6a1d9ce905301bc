package discover

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// kcDoc is the part of a kubeconfig the tests read.
type kcDoc struct {
	Current  string `yaml:"current-context"`
	Clusters []struct {
		Name    string
		Cluster struct{ Server string }
	}
	Contexts []struct {
		Name    string
		Context struct{ Cluster, User string }
	}
	Users []struct {
		Name string
		User struct {
			Exec struct {
				Command string
				Args    []string
				Env     []struct{ Name, Value string }
			}
		}
	}
}

func readKC(t *testing.T, path string) kcDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d kcDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return d
}

// contextsOf maps each context to "cluster ARN | args | AWS_PROFILE".
func contextsOf(d kcDoc) map[string]string {
	users := map[string]string{}
	for _, u := range d.Users {
		prof := ""
		for _, e := range u.User.Exec.Env {
			if e.Name == "AWS_PROFILE" {
				prof = e.Value
			}
		}
		users[u.Name] = strings.Join(u.User.Exec.Args, " ") + " | " + prof
	}
	out := map[string]string{}
	for _, c := range d.Contexts {
		out[c.Name] = c.Context.Cluster + " | " + users[c.Context.User]
	}
	return out
}

// One discovery over five profiles and four regions: clusters in three
// accounts (two reached by assuming roles), a profile without
// credentials, a denied profile, a region the accounts have not enabled,
// and one cluster name in two regions of one profile. Every cluster found
// gets a context whose user signs as the profile, in the region, for the
// cluster that found it; the two "api" clusters get the region added;
// every refusal is in the summary; the others are all written.
func TestDiscoverAcrossAccountsAndRegions(t *testing.T) {
	w := newWorld(t)
	home, kc := sandbox(t, w)
	base, a1, a2 := w.keys(t, ""), w.keys(t, "arn:aws:iam::111111111111:role/admin"), w.keys(t, "arn:aws:iam::222222222222:role/admin")
	w.create(t, base, "eu-west-1", "api")
	w.create(t, base, "us-east-1", "api")
	w.create(t, base, "ap-east-1", "hidden")
	w.create(t, a1, "eu-west-1", "web")
	w.create(t, a1, "us-west-2", "data")
	w.create(t, a2, "eu-west-1", "web")

	out, errOut, err := discoverIn(t, w, home, Input{AllProfiles: true, Regions: []string{"eu-west-1", "us-east-1", "us-west-2", "ap-east-1"}})
	if err != nil || out != "" {
		t.Fatalf("discover: %v, stdout %q, stderr:\n%s", err, out, errOut)
	}
	t.Logf("stderr:\n%s", errOut)
	arn := func(acct, region, name string) string {
		return "arn:aws:eks:" + region + ":" + acct + ":cluster/" + name
	}
	want := map[string]string{
		"base/api@eu-west-1": arn("123456789012", "eu-west-1", "api") + " | token --cluster-name api --region eu-west-1 | base",
		"base/api@us-east-1": arn("123456789012", "us-east-1", "api") + " | token --cluster-name api --region us-east-1 | base",
		"acct-1/web":         arn("111111111111", "eu-west-1", "web") + " | token --cluster-name web --region eu-west-1 | acct-1",
		"acct-1/data":        arn("111111111111", "us-west-2", "data") + " | token --cluster-name data --region us-west-2 | acct-1",
		"acct-2/web":         arn("222222222222", "eu-west-1", "web") + " | token --cluster-name web --region eu-west-1 | acct-2",
	}
	d := readKC(t, kc)
	if diff := cmp.Diff(want, contextsOf(d)); diff != "" {
		t.Errorf("contexts (-want +got):\n%s", diff)
	}
	if d.Current != "" {
		t.Errorf("current-context = %q, want it left unset", d.Current)
	}
	for _, line := range []string{
		"found 5 clusters through 5 profiles in 4 regions",
		"default: ", // no credentials
		"denied in all 4 regions: AccessDeniedException",
		"acct-1 in ap-east-1: UnrecognizedClientException",
		"base in ap-east-1: UnrecognizedClientException",
	} {
		if !strings.Contains(errOut, line) {
			t.Errorf("stderr lacks %q:\n%s", line, errOut)
		}
	}
	if strings.Contains(errOut, "hidden") {
		t.Errorf("a cluster of a region that refused was reported or written:\n%s", errOut)
	}
}

// --all-regions asks the account which regions it has enabled: the EKS
// calls go to those, not to a region that is not opted in, nor to another
// partition's.
func TestDiscoverAllRegions(t *testing.T) {
	w := newWorld(t)
	home, kc := sandbox(t, w)
	a1 := w.keys(t, "arn:aws:iam::111111111111:role/admin")
	w.create(t, a1, "sa-east-1", "far")
	w.create(t, a1, "eu-north-1", "near")
	_, errOut, err := discoverIn(t, w, home, Input{Profiles: []string{"acct-*"}, AllRegions: true})
	if err != nil {
		t.Fatalf("discover: %v\n%s", err, errOut)
	}
	got := contextsOf(readKC(t, kc))
	if _, ok := got["acct-1/far"]; !ok || len(got) != 2 {
		t.Errorf("contexts %v, want acct-1/far and acct-1/near", got)
	}
	var regions []string
	for r := range w.calls {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		if r == w.optIn || strings.HasPrefix(r, "cn-") || strings.HasPrefix(r, "us-gov-") {
			t.Errorf("called EKS in %s, which the account has not enabled or is another partition's", r)
		}
	}
	if !slices.Contains(regions, "sa-east-1") || len(regions) < 10 {
		t.Errorf("EKS called in %v, want every enabled region", regions)
	}
	t.Logf("%d regions: %v\n%s", len(regions), regions, errOut)
}

// --prune takes out what an earlier discovery wrote for a cluster that is
// gone, in the profiles and regions that answered, and nothing else: not
// a context a person wrote (nor the cluster entry it uses), not the
// contexts of a profile not looked in this time, not those of a region
// that refused. setup --undo then puts the file back as it was before any
// discovery.
func TestDiscoverPrune(t *testing.T) {
	w := newWorld(t)
	home, kc := sandbox(t, w)
	a1, a2 := w.keys(t, "arn:aws:iam::111111111111:role/admin"), w.keys(t, "arn:aws:iam::222222222222:role/admin")
	w.create(t, a1, "eu-west-1", "web")
	w.create(t, a1, "us-west-2", "data")
	w.create(t, a2, "eu-west-1", "web")
	dataARN := "arn:aws:eks:us-west-2:111111111111:cluster/data"
	mine := "apiVersion: v1\nkind: Config\n# my own\nclusters:\n- cluster:\n    server: https://mine.example\n  name: " + dataARN + "\n" +
		"contexts:\n- context:\n    cluster: " + dataARN + "\n    user: mine\n  name: mine\n" +
		"current-context: mine\nusers:\n- name: mine\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token, --cluster-name, data]\n"
	if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	regions := []string{"eu-west-1", "us-west-2"}
	if _, errOut, err := discoverIn(t, w, home, Input{Profiles: []string{"acct-1", "acct-2"}, Regions: regions}); err != nil {
		t.Fatalf("first discovery: %v\n%s", err, errOut)
	}
	names := func() []string {
		var n []string
		for c := range contextsOf(readKC(t, kc)) {
			n = append(n, c)
		}
		slices.Sort(n)
		return n
	}
	if diff := cmp.Diff([]string{"acct-1/data", "acct-1/web", "acct-2/web", "mine"}, names()); diff != "" {
		t.Fatalf("after the first discovery (-want +got):\n%s", diff)
	}

	w.delete(t, a1, "us-west-2", "data")
	w.delete(t, a2, "eu-west-1", "web")
	before, _ := os.ReadFile(kc)
	out, errOut, err := discoverIn(t, w, home, Input{Profiles: []string{"acct-1"}, Regions: regions, Prune: true, DryRun: true})
	if after, _ := os.ReadFile(kc); err != nil || string(after) != string(before) || !strings.Contains(out, "-  name: acct-1/data") {
		t.Fatalf("dry run: %v, file changed %v, diff:\n%s\nstderr:\n%s", err, string(after) != string(before), out, errOut)
	}
	if _, errOut, err = discoverIn(t, w, home, Input{Profiles: []string{"acct-1"}, Regions: regions, Prune: true}); err != nil {
		t.Fatalf("prune: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "Removed context acct-1/data") {
		t.Errorf("stderr does not say what was removed:\n%s", errOut)
	}
	// acct-2 was not looked in: its context stays though its cluster is gone.
	if diff := cmp.Diff([]string{"acct-1/web", "acct-2/web", "mine"}, names()); diff != "" {
		t.Errorf("after --prune (-want +got):\n%s", diff)
	}
	d := readKC(t, kc)
	var clusters, users []string
	for _, c := range d.Clusters {
		clusters = append(clusters, c.Name)
	}
	for _, u := range d.Users {
		users = append(users, u.Name)
	}
	if !slices.Contains(clusters, dataARN) || slices.Contains(users, "acct-1/data") || !slices.Contains(users, "mine") || d.Current != "mine" {
		t.Errorf("clusters %v, users %v, current %q: want the person's cluster entry, user and current-context kept, acct-1/data's user gone", clusters, users, d.Current)
	}

	// A region that refuses prunes nothing in it.
	w.delete(t, a1, "eu-west-1", "web")
	w.refuse("eu-west-1")
	if _, errOut, err = discoverIn(t, w, home, Input{Profiles: []string{"acct-1"}, Regions: regions, Prune: true}); err != nil {
		t.Fatalf("prune with a refusing region: %v\n%s", err, errOut)
	}
	if !slices.Contains(names(), "acct-1/web") {
		t.Errorf("acct-1/web was pruned though eu-west-1 refused:\n%s", errOut)
	}

	// setup's undo reverts every discovery.
	res, err := undoLog(Env{Home: home}).Undo(kc)
	if got, _ := os.ReadFile(kc); err != nil || string(got) != mine {
		t.Errorf("undo: %+v, %v; file now:\n%s", res, err, got)
	}
}
