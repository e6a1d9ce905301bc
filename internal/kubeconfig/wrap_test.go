package kubeconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// --wrap rewrites plugin users into `ekstoken exec -- OLD...`, changing
// only command and args, in every layout; EKS users next to them still
// move to native signing; a wrapped user is left alone the second time.
func TestRewriteWrap(t *testing.T) {
	cases := []struct {
		name, src, want string
		command         string
		changed         []string
	}{{
		name: "gcloud, no args",
		src: `users:
- name: gke_p_z_c
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      installHint: Install gke-gcloud-auth-plugin for use with kubectl by following
        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
      provideClusterInfo: true
`,
		want: `users:
- name: gke_p_z_c
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - exec
      - --
      - gke-gcloud-auth-plugin
      command: ekstoken
      installHint: Install gke-gcloud-auth-plugin for use with kubectl by following
        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
      provideClusterInfo: true
`,
		command: "ekstoken", changed: []string{"gke_p_z_c"},
	}, {
		name: "kubelogin with args and env, next to an EKS user",
		src: `users:
- name: aks # Azure
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
        - get-token   # subcommand
        - --login
        - azurecli
        - --server-id
        - "6dae42f8-4368-4678-94ff-3960e28e3630"
      command: kubelogin
      env:
        - name: AAD_LOGIN_METHOD
          value: azurecli
      interactiveMode: Never
      provideClusterInfo: false
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]
      command: aws
      interactiveMode: IfAvailable
`,
		want: `users:
- name: aks # Azure
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
        - exec
        - --
        - kubelogin
        - get-token   # subcommand
        - --login
        - azurecli
        - --server-id
        - "6dae42f8-4368-4678-94ff-3960e28e3630"
      command: /opt/bin/ekstoken
      env:
        - name: AAD_LOGIN_METHOD
          value: azurecli
      interactiveMode: Never
      provideClusterInfo: false
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [token, --cluster-name, prod, --region, eu-west-1]
      command: /opt/bin/ekstoken
      interactiveMode: IfAvailable
`,
		command: "/opt/bin/ekstoken", changed: []string{"aks", "eks"},
	}, {
		name:    "JSON, no args",
		src:     `{"users": [{"name": "oidc", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "kubectl-oidc_login", "env": null, "interactiveMode": "IfAvailable"}}}]}`,
		want:    `{"users": [{"name": "oidc", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "args": ["exec", "--", "kubectl-oidc_login"], "command": "ekstoken", "env": null, "interactiveMode": "IfAvailable"}}}]}`,
		command: "ekstoken", changed: []string{"oidc"},
	}, {
		name:    "flow style with args",
		src:     "users:\n- name: f\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: 'C:\\tools\\plugin.exe', args: [a, 'b c']}}\n",
		want:    "users:\n- name: f\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: 'ekstoken', args: [exec, --, C:\\tools\\plugin.exe, a, 'b c']}}\n",
		command: "ekstoken", changed: []string{"f"},
	}, {
		name: "already wrapped, and a relative path, are left alone",
		src: `users:
- name: done
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - exec
      - --
      - gke-gcloud-auth-plugin
      command: /usr/local/bin/ekstoken
- name: rel
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/plugin
`,
		command: "/usr/local/bin/ekstoken",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := RewriteOptions{Command: c.command, Wrap: true}
			out, changes, err := Rewrite([]byte(c.src), opts)
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want = c.src
			}
			if diff := cmp.Diff(want, string(out)); diff != "" {
				t.Errorf("Rewrite (-want +got):\n%s", diff)
			}
			var users []string
			for _, ch := range changes {
				users = append(users, ch.User)
				if ch.User != "eks" && strings.Contains(ch.String(), "get-token") {
					t.Errorf("%s: the change prints the plugin's arguments: %s", ch.User, ch)
				}
				if strings.HasPrefix(ch.Summary, c.command+" exec -- ") == (ch.User == "eks") {
					t.Errorf("%s: summary %q", ch.User, ch.Summary)
				}
			}
			if diff := cmp.Diff(c.changed, users); diff != "" {
				t.Errorf("changed users (-want +got):\n%s", diff)
			}
			again, changes, err := Rewrite(out, opts)
			if err != nil || string(again) != string(out) || len(changes) != 0 {
				t.Errorf("second Rewrite changed %v (err %v):\n%s", changes, err, again)
			}
			// Without Wrap, plugin users stay as they are.
			plain, _, err := Rewrite([]byte(c.src), RewriteOptions{Command: c.command})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(plain), " exec\n") || strings.Contains(string(plain), "\"exec\", \"--\"") || strings.Contains(string(plain), "[exec, --") {
				if c.changed != nil {
					t.Errorf("without Wrap a plugin user was wrapped:\n%s", plain)
				}
			}
		})
	}
}

func TestRelativeWithDir(t *testing.T) {
	for cmd, want := range map[string]bool{
		"gke-gcloud-auth-plugin": false, "/usr/bin/kubelogin": false, `C:\bin\k.exe`: false, "c:/bin/k": false, `\\srv\share\k.exe`: false,
		"./plugin": true, "bin/plugin": true, `tools\plugin.exe`: true, "../x": true, `\x`: true,
	} {
		if got := relativeWithDir(cmd); got != want {
			t.Errorf("relativeWithDir(%q) = %v, want %v", cmd, got, want)
		}
	}
}
