package yamledit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// InsertListKey adds a list-valued key to the mapping under "exec" of
// block, flow and JSON documents, sorted or not, LF or CRLF, keeping every
// other byte: the result means the original plus the key, and removing
// the inserted text gives back the original.
func TestInsertListKey(t *testing.T) {
	items := []string{"exec", "--", "gke-gcloud-auth-plugin", "a b", "yes", "--x=1"}
	docs := map[string]string{
		"block sorted":       "a: 1\nexec:\n  apiVersion: v1\n  command: gke\n  env: null\n  installHint: |\n    hint\n  provideClusterInfo: true\nz: 2\n",
		"block first":        "exec:\n  command: gke\n  env: null\n",
		"block last":         "exec:\n  apiVersion: v1\n  command: gke # the plugin\n",
		"block unsorted":     "exec:\n    zeta: 1\n    command: gke\n# end\n",
		"block crlf":         "exec:\r\n  apiVersion: v1\r\n  command: gke\r\n  env: []\r\n",
		"in a list":          "users:\n- name: u\n  user:\n    exec:\n      apiVersion: v1\n      command: gke\n      interactiveMode: IfAvailable\n",
		"json":               `{"exec": {"apiVersion": "v1", "command": "gke", "env": null}}`,
		"json compact":       `{"exec":{"command":"gke","provideClusterInfo":true}}`,
		"json multi-line":    "{\n  \"exec\": {\n    \"apiVersion\": \"v1\",\n    \"command\": \"gke\"\n  }\n}\n",
		"flow yaml":          "exec: {apiVersion: v1, command: gke, env: null}\n",
		"flow yaml unsorted": "exec: {z: 1, command: gke}\n",
	}
	for name, src := range docs {
		for _, list := range [][]string{items, {"one"}, nil} {
			t.Run(name, func(t *testing.T) {
				d, err := Parse([]byte(src))
				if err != nil {
					t.Fatal(err)
				}
				ex := d.Root
				if _, users := MapGet(ex, "users"); users != nil {
					_, u := MapGet(users.Content[0], "user")
					ex = u
				}
				_, ex = MapGet(ex, "exec")
				e, err := d.InsertListKey(ex, "args", list, Plain)
				if err != nil {
					t.Fatal(err)
				}
				out, err := Apply([]byte(src), []Edit{e})
				if err != nil {
					t.Fatal(err)
				}
				if e.Start != e.End || string(out[:e.Start])+string(out[e.Start+len(e.Text):]) != src {
					t.Fatalf("the edit is not a pure insertion:\n%s", out)
				}
				var want, got map[string]any
				if err := yaml.Unmarshal([]byte(src), &want); err != nil {
					t.Fatal(err)
				}
				if err := yaml.Unmarshal(out, &got); err != nil {
					t.Fatalf("result does not parse: %v\n%s", err, out)
				}
				m := want
				if u, ok := want["users"].([]any); ok {
					m = u[0].(map[string]any)["user"].(map[string]any)
				}
				exm := m["exec"].(map[string]any)
				vals := make([]any, len(list))
				for i, s := range list {
					vals[i] = s
				}
				exm["args"] = vals
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("meaning differs (-want +got):\n%s\nresult:\n%s", diff, out)
				}
				if strings.Contains(src, "\r\n") && strings.Count(string(out), "\n") != strings.Count(string(out), "\r\n") {
					t.Errorf("mixed line endings:\n%q", out)
				}
			})
		}
	}
}

// PrependList puts items before a list's first item and keeps every byte
// that was there, in block, indented block, flow, multi-line flow and
// JSON lists, LF or CRLF.
func TestPrependList(t *testing.T) {
	items := []string{"exec", "--", "a b", "yes"}
	docs := map[string][]string{
		"block":           {"args:\n- get-token # sub\n- --login\nz: 1\n", "get-token", "--login"},
		"block indented":  {"args:\n    # why\n    -   'get-token'\n    - \"x\"\n", "get-token", "x"},
		"block one":       {"x: 1\nargs:\n- only\n", "only"},
		"block crlf":      {"args:\r\n- a\r\n- b\r\n", "a", "b"},
		"flow":            {"args: [a, 'b c']\n", "a", "b c"},
		"flow compact":    {"args: [a,b]\n", "a", "b"},
		"flow multi-line": {"args: [\n  a,\n  b\n]\n", "a", "b"},
		"json":            {`{"args": ["a", "b"], "z": 1}`, "a", "b"},
	}
	for name, c := range docs {
		t.Run(name, func(t *testing.T) {
			src := c[0]
			d, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, n := MapGet(d.Root, "args")
			e, err := d.PrependList(n, items)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Apply([]byte(src), []Edit{e})
			if err != nil {
				t.Fatal(err)
			}
			if e.Start != e.End || string(out[:e.Start])+string(out[e.Start+len(e.Text):]) != src {
				t.Fatalf("not a pure insertion:\n%s", out)
			}
			var got struct{ Args []string }
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if diff := cmp.Diff(append(append([]string{}, items...), c[1:]...), got.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s\n%s", diff, out)
			}
			if strings.Contains(src, "\r\n") && strings.Count(string(out), "\n") != strings.Count(string(out), "\r\n") {
				t.Errorf("mixed line endings: %q", out)
			}
		})
	}
	d, _ := Parse([]byte("args: []\n"))
	if _, n := MapGet(d.Root, "args"); n != nil {
		if _, err := d.PrependList(n, items); err == nil {
			t.Error("an empty list was not refused")
		}
	}
}
