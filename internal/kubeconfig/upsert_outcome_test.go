package kubeconfig

import (
	"fmt"
	"testing"

	"gopkg.in/yaml.v3"
)

// UpsertOutcome says whether the context was added, updated or already
// right, and a user it replaces keeps its interactiveMode (any value, in
// block and JSON files) unless the entry sets one.
func TestUpsertOutcomeAndInteractiveMode(t *testing.T) {
	e := Entry{ClusterName: "c", Server: "https://s", Exec: Exec{Command: "ekstoken", Args: []string{"token", "--cluster-name", "c"}}}
	block := func(mode string) string {
		return "apiVersion: v1\nclusters:\n- cluster:\n    server: https://old\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: c\n  name: c\n" +
			"users:\n- name: c\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      interactiveMode: " + mode + "\n"
	}
	json := func(mode string) string {
		return `{"apiVersion": "v1", "clusters": [], "contexts": [], "users": [{"name": "c", "user": {"exec": {"command": "aws", "interactiveMode": "` + mode + `"}}}]}`
	}
	modeOf := func(out []byte) string {
		var doc struct {
			Users []struct {
				User struct {
					Exec struct {
						InteractiveMode string `yaml:"interactiveMode"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(out, &doc); err != nil || len(doc.Users) != 1 {
			t.Fatalf("%v\n%s", err, out)
		}
		return doc.Users[0].User.Exec.InteractiveMode
	}
	for _, mode := range []string{"Never", "IfAvailable", "Always"} {
		for name, src := range map[string]string{"block": block(mode), "json": json(mode)} {
			out, outcome, err := UpsertOutcome([]byte(src), e)
			if err != nil {
				t.Fatal(err)
			}
			want := Updated
			if name == "json" {
				want = Added // it had the user, not the context
			}
			if outcome != want || modeOf(out) != mode {
				t.Errorf("%s %s: outcome %d, interactiveMode %q; want %d and %q", name, mode, outcome, modeOf(out), want, mode)
			}
			again, outcome, err := UpsertOutcome(out, e)
			if err != nil || outcome != Unchanged || string(again) != string(out) {
				t.Errorf("%s %s again: outcome %d, %v, changed: %v", name, mode, outcome, err, string(again) != string(out))
			}
			set := e
			set.Exec.InteractiveMode = "Always"
			if out, _, err := UpsertOutcome([]byte(src), set); err != nil || modeOf(out) != "Always" {
				t.Errorf("%s %s: an entry's own interactiveMode does not win: %v", name, mode, err)
			}
		}
	}
	for i, src := range []string{"", "apiVersion: v1\nkind: Config\n", "{}"} {
		if _, outcome, err := UpsertOutcome([]byte(src), e); err != nil || outcome != Added {
			t.Errorf("%s: outcome %d, %v; want Added", fmt.Sprint(i), outcome, err)
		}
	}
}
