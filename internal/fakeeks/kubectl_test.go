package fakeeks

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/testenv"
	harness "github.com/ekstoken/ekstoken/internal/testenv/sandbox"
)

// needKubectl skips the test under -short; otherwise testenv decides what
// a missing kubectl does to it.
func needKubectl(t *testing.T) {
	t.Helper()
	testenv.SkipIfShort(t, "runs kubectl")
	testenv.PlainKubectl(t)
}

// kubectl runs the real kubectl against kubeconfig in a sandbox
// (internal/testenv/sandbox).
func kubectl(t *testing.T, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	sb := harness.New(t, harness.Options{})
	r := harness.Proc{Env: sb.Env()}.Run(t, testenv.PlainKubectl(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	return r.Stdout, r.Stderr, r.Err
}

// writeKubeconfig writes a kubeconfig for s whose user has a static token.
func writeKubeconfig(t *testing.T, s *Server, token string) string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: fake
  user:
    token: %s
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
`, s.URL, base64.StdEncoding.EncodeToString(s.CAData), token)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubectl(t *testing.T) {
	needKubectl(t)
	p := v1()
	p.date = time.Now().UTC() // the server runs on the real clock here
	s := startServer(t, Options{Identities: []Identity{p.identity()}})
	kc := writeKubeconfig(t, s, p.token())

	t.Run("get namespaces", func(t *testing.T) {
		out, errOut, err := kubectl(t, kc, "get", "namespaces")
		if err != nil {
			t.Fatalf("kubectl get namespaces: %v\n%s", err, errOut)
		}
		// The STATUS column proves kubectl used our server-side Table.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATUS AGE" ||
			!strings.HasPrefix(lines[1], "default ") || !strings.HasPrefix(lines[2], "kube-system ") {
			t.Errorf("unexpected output:\n%s", out)
		}
	})
	t.Run("get namespace default", func(t *testing.T) {
		out, errOut, err := kubectl(t, kc, "get", "namespace", "default")
		if err != nil {
			t.Fatalf("kubectl get namespace default: %v\n%s", err, errOut)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "default ") {
			t.Errorf("unexpected output:\n%s", out)
		}
	})
	t.Run("get namespaces -o json", func(t *testing.T) {
		out, errOut, err := kubectl(t, kc, "get", "ns", "-o", "json")
		if err != nil {
			t.Fatalf("kubectl get ns -o json: %v\n%s", err, errOut)
		}
		var list struct {
			Kind  string
			Items []struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" && list.Kind != "NamespaceList" || len(list.Items) != 2 {
			t.Errorf("unexpected output (%v):\n%s", err, out)
		}
	})
	t.Run("version", func(t *testing.T) {
		out, errOut, err := kubectl(t, kc, "version", "-o", "json")
		if err != nil {
			t.Fatalf("kubectl version: %v\n%s", err, errOut)
		}
		var v struct{ ServerVersion struct{ GitVersion string } }
		if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v.ServerVersion.GitVersion, "v1.32.") {
			t.Errorf("unexpected output (%v):\n%s", err, out)
		}
	})
	t.Run("auth whoami", func(t *testing.T) {
		out, errOut, err := kubectl(t, kc, "auth", "whoami", "-o", "json")
		if err != nil {
			t.Fatalf("kubectl auth whoami: %v\n%s", err, errOut)
		}
		var r struct {
			Status struct {
				UserInfo struct {
					Username string
					Extra    map[string][]string
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("decoding %q: %v", out, err)
		}
		if u := r.Status.UserInfo; u.Username != v1Username || len(u.Extra["sessionName"]) != 1 || u.Extra["sessionName"][0] != "alice" {
			t.Errorf("userInfo = %+v, want username %s and sessionName alice", u, v1Username)
		}
	})
	if st := s.Stats(); st.Rejected != 0 || st.DistinctTokens != 1 || st.Authenticated == 0 {
		t.Errorf("stats = %+v", st)
	}

	t.Run("token for another cluster", func(t *testing.T) {
		q := p
		q.cluster = "other-cluster"
		bad := writeKubeconfig(t, s, q.token())
		// Discovery-based commands (get, version) report client-go's generic
		// 401 text; plain requests (auth whoami) show our Status message.
		for _, args := range [][]string{{"get", "namespaces"}, {"auth", "whoami"}} {
			out, errOut, err := kubectl(t, bad, args...)
			if err == nil {
				t.Fatalf("kubectl %v succeeded with a bad token:\n%s", args, out)
			}
			if !strings.Contains(errOut, "error: You must be logged in to the server") {
				t.Errorf("kubectl %v: stderr does not say it is unauthorized:\n%s", args, errOut)
			}
		}
		if _, errOut, _ := kubectl(t, bad, "auth", "whoami"); !strings.Contains(errOut, "(Unauthorized)") {
			t.Errorf("kubectl auth whoami: stderr lacks the Status message (Unauthorized):\n%s", errOut)
		}
		if st := s.Stats(); st.Rejected == 0 || !strings.Contains(st.LastRejectReason, "signature mismatch") {
			t.Errorf("stats = %+v", st)
		}
	})
}

// Requests without a valid bearer token get kube-apiserver's 401 Status, over
// TLS that verifies with CAData alone.
func TestUnauthorizedStatus(t *testing.T) {
	s := startServer(t, Options{})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAData) {
		t.Fatal("CAData holds no PEM certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, auth := range []string{"", "Bearer", "Basic dXNlcjpwYXNz", "Bearer " + v1Token} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/version", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		const want = `{"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","metadata":{},"reason":"Unauthorized","status":"Failure"}`
		if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(body)) != want {
			t.Errorf("Authorization %q: %d %s, want 401 %s", auth, resp.StatusCode, body, want)
		}
	}
	// The last request carries V1, which has expired on the real clock.
	if st := s.Stats(); st.Rejected != 4 || !strings.Contains(st.LastRejectReason, "expired") {
		t.Errorf("stats = %+v", st)
	}
}

// kubectl auth whoami reports the Kubernetes user Options.Mapping gives the
// caller's canonical ARN, system:authenticated added as EKS adds it; with
// a Mapping that lacks the ARN the valid token is 401, as EKS answers a
// principal with no access entry.
func TestKubectlWhoamiMapping(t *testing.T) {
	needKubectl(t)
	p := v1()
	p.date = time.Now().UTC()
	for _, tc := range []struct {
		name       string
		mapping    map[string]KubeUser
		wantUser   string
		wantGroups []string
	}{
		{"no mapping", nil, v1Username, []string{"system:authenticated"}},
		{"mapped", map[string]KubeUser{v1Username: {Username: "admin:{{SessionName}}", Groups: []string{"system:masters", "ops"}}},
			"admin:{{SessionName}}", []string{"system:masters", "ops", "system:authenticated"}},
		{"mapped, default username", map[string]KubeUser{v1Username: {Groups: []string{"viewers"}}},
			v1Username, []string{"viewers", "system:authenticated"}},
		{"unmapped", map[string]KubeUser{"arn:aws:iam::111122223333:role/Other": {Username: "other"}}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Options{Identities: []Identity{p.identity()}, Mapping: tc.mapping})
			out, errOut, err := kubectl(t, writeKubeconfig(t, s, p.token()), "auth", "whoami", "-o", "json")
			if tc.wantUser == "" {
				if err == nil || !strings.Contains(errOut, "Unauthorized") {
					t.Fatalf("kubectl auth whoami: err %v, want Unauthorized; stdout %s stderr %s", err, out, errOut)
				}
				if st := s.Stats(); st.Unmapped != 1 || !strings.Contains(st.LastRejectReason, v1Username) {
					t.Errorf("stats = %+v, want one unmapped request naming %s", st, v1Username)
				}
				return
			}
			if err != nil {
				t.Fatalf("kubectl auth whoami: %v\n%s", err, errOut)
			}
			var r struct {
				Status struct {
					UserInfo struct {
						Username string
						Groups   []string
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("decoding %q: %v", out, err)
			}
			if u := r.Status.UserInfo; u.Username != tc.wantUser || strings.Join(u.Groups, ",") != strings.Join(tc.wantGroups, ",") {
				t.Errorf("userInfo = %+v, want %s %v", u, tc.wantUser, tc.wantGroups)
			}
		})
	}
}
