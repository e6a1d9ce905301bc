package kubeconfig

import (
	"fmt"
	"strings"
	"testing"
)

// A dry run's diff shows the users around the rewritten one: none of
// their secrets may reach stdout, in block or flow style, while what
// setup changes stays readable.
func TestRedactedDiffHidesSecrets(t *testing.T) {
	secrets := []string{"S3CR3TKEYDATA", "BEARERTOKEN1", "hunter2", "wJalrXUtnFEMI", "OIDCREFRESH", "IDTOKEN0", "CLIENTSECRET0", "SESSIONTOK"}
	old := `apiVersion: v1
kind: Config
users:
- name: cert
  user:
    client-certificate-data: CERTDATA
    client-key-data: S3CR3TKEYDATA
- name: bearer
  user: {token: BEARERTOKEN1}
- name: basic
  user:
    username: me
    password: "hunter2"
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]
      env:
      - name: AWS_SECRET_ACCESS_KEY
        value: wJalrXUtnFEMI
      - name: AWS_PROFILE
        value: dev
- name: flowenv
  user:
    exec: {command: x, env: [{name: AWS_PROFILE, value: dev}, {name: AWS_SESSION_TOKEN, value: SESSIONTOK}]}
- name: oidc
  user:
    auth-provider:
      config: {id-token: IDTOKEN0, refresh-token: OIDCREFRESH, client-secret: CLIENTSECRET0}
`
	// Only the "user:" lines change: the secrets are on context lines.
	newer := strings.ReplaceAll(old, "  user", "  user ")
	d := RedactedDiff("config", []byte(old), []byte(newer))
	for _, s := range secrets {
		if strings.Contains(d, s) {
			t.Errorf("the diff shows %q:\n%s", s, d)
		}
	}
	for _, keep := range []string{"CERTDATA", "value: dev", "REDACTED"} {
		if !strings.Contains(d, keep) {
			t.Errorf("the diff lost %q:\n%s", keep, d)
		}
	}
}

// Wrapping a plugin shows its arguments as context: the values of its
// secret flags are hidden in block and flow lists, as separate items or
// after '=', while its other arguments stay readable.
func TestRedactedDiffHidesPluginSecretArgs(t *testing.T) {
	old := "users:\n- name: aks\n  user:\n    exec:\n      args:\n      - get-token\n      - --client-secret\n      - SECRET1 # sp\n      - --password=SECRET2\n      - '--Token'\n      - \"SECRET3\"\n      command: kubelogin\n" +
		"- name: f\n  user:\n    exec: {args: [--client-secret, SECRET4, --server-id, abc, '--password=SECRET5'], command: x}\n"
	newer := strings.ReplaceAll(old, "command: kubelogin", "command: ekstoken")
	newer = strings.ReplaceAll(newer, "      args:\n", "      args: \n")
	newer = strings.ReplaceAll(newer, "command: x}", "command: y}")
	d := RedactedDiff("config", []byte(old), []byte(newer))
	for i := 1; i <= 5; i++ {
		if s := fmt.Sprintf("SECRET%d", i); strings.Contains(d, s) {
			t.Errorf("the diff shows %q:\n%s", s, d)
		}
	}
	for _, keep := range []string{"- get-token", "--server-id, abc", "# sp", "--client-secret"} {
		if !strings.Contains(d, keep) {
			t.Errorf("the diff lost %q:\n%s", keep, d)
		}
	}
}
