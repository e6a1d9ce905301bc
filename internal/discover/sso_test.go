package discover

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/awsauth"
)

// ssoPortal is a fake IAM Identity Center portal: accounts and their
// roles, for one access token; role credentials whose key names the
// account and role.
func ssoPortal(t *testing.T, token string, roles map[string][]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Sso_bearer_token") != token {
			w.Header().Set("X-Amzn-Errortype", "UnauthorizedException")
			http.Error(w, `{"message":"Session token not found or invalid"}`, http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/assignment/accounts":
			var list []map[string]string
			for a := range roles {
				list = append(list, map[string]string{"accountId": a, "accountName": "n" + a})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"accountList": list})
		case "/assignment/roles":
			var list []map[string]string
			for _, r := range roles[q.Get("account_id")] {
				list = append(list, map[string]string{"accountId": q.Get("account_id"), "roleName": r})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"roleList": list})
		case "/federation/credentials":
			_ = json.NewEncoder(w).Encode(map[string]any{"roleCredentials": map[string]any{
				"accessKeyId": "ASIA" + q.Get("account_id"), "secretAccessKey": "s", "sessionToken": "t",
				"expiration": time.Now().Add(time.Hour).UnixMilli()}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// --sso-session looks through every account and role of the session:
// a role that a profile names is written with that profile; the others
// are listed with the profile to add, as aws configure sso writes it, and
// not written (a user needs a profile to sign as). An expired login says
// to log in again.
func TestDiscoverSSOSession(t *testing.T) {
	f := &fakeAPI{}
	eks := f.start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := filepath.Join(home, ".aws", "config")
	if err := os.MkdirAll(filepath.Join(home, ".aws", "sso", "cache"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[sso-session corp]\nsso_region = eu-west-1\nsso_start_url = https://corp.awsapps.com/start\n"+
		"[profile prod-admin]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("corp"))
	tokenFile := filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	portal := ssoPortal(t, "tok", map[string][]string{"111111111111": {"Admin", "ReadOnly"}, "222222222222": {"Admin"}})
	run := func(expires time.Time) (string, string, error) {
		b, _ := json.Marshal(map[string]any{"accessToken": "tok", "expiresAt": expires.UTC().Format(time.RFC3339)})
		if err := os.WriteFile(tokenFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		kc := filepath.Join(home, "kubeconfig")
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			return map[string]string{"AWS_ENDPOINT_URL_SSO": portal, "AWS_CONFIG_FILE": cfg, "HOME": home}[k]
		}
		err := Run(t.Context(), Env{Getenv: getenv, Home: home, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Now: time.Now,
			Resolve: func(context.Context, awsauth.Options) (awsauth.Result, error) {
				t.Error("an SSO role was resolved as a profile")
				return awsauth.Result{}, nil
			}}, Input{SSOSession: "corp", Regions: regions(1), Endpoint: eks, Command: "ekstoken", Kubeconfig: kc})
		return kc, errb.String(), err
	}
	kc, errOut, err := run(time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	got := contextsOf(readKC(t, kc))
	if len(got) != 1 || !strings.HasSuffix(got["prod-admin/c-xx-test-1"], "| prod-admin") {
		t.Errorf("contexts %v, want prod-admin/c-xx-test-1 signing as prod-admin\n%s", got, errOut)
	}
	for _, want := range []string{
		"[profile ReadOnly-111111111111]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = ReadOnly\n",
		"[profile Admin-222222222222]\nsso_session = corp\nsso_account_id = 222222222222\nsso_role_name = Admin\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks the profile to add %q:\n%s", want, errOut)
		}
	}
	if _, errOut, err = run(time.Now().Add(-time.Minute)); err == nil || !strings.Contains(err.Error(), "aws sso login --sso-session corp") {
		t.Errorf("expired login: %v\n%s", err, errOut)
	}
}
