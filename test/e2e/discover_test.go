package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// A context that `ekstoken discover` wrote works through the real
// kubectl: discover finds the cluster through an EKS API that describes
// the local EKS-like server, and kubectl, with that context alone, runs
// ekstoken as the profile that found it and gets in.
func TestDiscoverThenKubectl(t *testing.T) {
	t.Parallel()
	kubectlPath(t)
	s := startEKS(t, nil)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+accessKeyID+"/") {
			w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/clusters":
			_ = json.NewEncoder(w).Encode(map[string]any{"clusters": []string{clusterName}})
		case "/clusters/" + clusterName:
			_ = json.NewEncoder(w).Encode(map[string]any{"cluster": map[string]any{
				"name": clusterName, "arn": "arn:aws:eks:" + region + ":111122223333:cluster/" + clusterName,
				"status": "ACTIVE", "endpoint": s.URL,
				"certificateAuthority": map[string]any{"data": base64.StdEncoding.EncodeToString(s.CAData)}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	sb := newSandbox(t)
	writeFile(t, filepath.Join(sb.home, ".aws", "config"), "[profile alice]\nregion = "+region+"\n")
	writeFile(t, filepath.Join(sb.home, ".aws", "credentials"),
		"[alice]\naws_access_key_id = "+accessKeyID+"\naws_secret_access_key = "+secretKey+"\n")
	env := append(sb.env[:len(sb.env):len(sb.env)],
		"AWS_CONFIG_FILE="+filepath.Join(sb.home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(sb.home, ".aws", "credentials"))
	kc := filepath.Join(sb.home, ".kube", "config")

	_, errOut, code := runEkstoken(t, append(env, "AWS_ENDPOINT_URL_EKS="+api.URL),
		"discover", "--all-profiles", "--kubeconfig", kc, "--command", ekstokenBin)
	if code != 0 || !strings.Contains(errOut, "Added context alice/"+clusterName) {
		t.Fatalf("discover: exit %d\n%s", code, errOut)
	}
	out, errOut, err := kubectl(t, env, kc, "alice/"+clusterName, "auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl auth whoami through the discovered context: %v\n%s", err, errOut)
	}
	var review struct {
		Status struct{ UserInfo struct{ Username string } }
	}
	if err := json.Unmarshal([]byte(out), &review); err != nil || review.Status.UserInfo.Username != aliceARN {
		t.Errorf("kubectl auth whoami: %v, username %q, want %q\n%s", err, review.Status.UserInfo.Username, aliceARN, out)
	}
}
