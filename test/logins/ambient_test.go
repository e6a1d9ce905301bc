package logins

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tokenEntry is the cached entry that holds tok.
type tokenEntry struct {
	Token             string    `json:"token"`
	CredentialsExpire time.Time `json:"credentialsExpire"`
	AccessKeyID       string    `json:"accessKeyId"`
	CredentialSource  string    `json:"credentialSource"`
}

func (sb *sandbox) entryFor(t *testing.T, tok string) tokenEntry {
	t.Helper()
	for _, f := range sb.cacheFiles(t, "token-") {
		var e tokenEntry
		readJSON(t, f, &e)
		if e.Token == tok {
			return e
		}
	}
	t.Fatal("the token is not in the cache")
	return tokenEntry{}
}

// checkSource requires the token's cache entry to name the SDK provider
// that gave its credentials.
func (sb *sandbox) checkSource(t *testing.T, tok, provider string) {
	t.Helper()
	if e := sb.entryFor(t, tok); !strings.Contains(e.CredentialSource, provider) {
		t.Errorf("credentials came from %q, want %s", e.CredentialSource, provider)
	}
}

// IRSA: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, and no keys
// anywhere. ekstoken exchanges the file's token with
// AssumeRoleWithWebIdentity and signs with what STS returns.
func TestWebIdentity(t *testing.T) {
	sts := startSTS(t)
	sb := newSandbox(t)
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl"
	tokenFile := filepath.Join(sb.home, "eks.amazonaws.com", "serviceaccount", "token")
	writeFile(t, tokenFile, jwt, 0o600)
	env := sb.env("AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_REGION="+region,
		"AWS_ROLE_ARN="+roleARN("irsa"), "AWS_WEB_IDENTITY_TOKEN_FILE="+tokenFile, "AWS_ROLE_SESSION_NAME=pod-session")

	c := mustToken(t, env, tokenArgs("alpha")...)
	role := onlyRole(t)
	checkSigned(t, "alpha", c.Status.Token, role.identity())
	if diff := cmp.Diff([]string{roleARN("irsa"), "pod-session"}, []string{role.RoleARN, role.SessionName}); diff != "" {
		t.Errorf("moto's role session [role, session] (-want +got):\n%s", diff)
	}
	calls := sts.Calls("AssumeRoleWithWebIdentity")
	if len(calls) != 1 || calls[0].Get("WebIdentityToken") != jwt {
		t.Fatalf("STS calls %v, want one AssumeRoleWithWebIdentity with the file's token", sts.Actions())
	}
	sb.checkSource(t, c.Status.Token, "WebIdentity")

	// Another cluster: the role session is reused from the credential cache.
	c2 := mustToken(t, env, tokenArgs("beta")...)
	checkSigned(t, "beta", c2.Status.Token, role.identity())
	if n := len(sts.Calls("AssumeRoleWithWebIdentity")); n != 1 {
		t.Errorf("%d AssumeRoleWithWebIdentity calls for two clusters, want 1", n)
	}
}

// ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI
// with an authorization token.
func TestContainerCredentials(t *testing.T) {
	sb := newSandbox(t)
	creds := newCreds("ASIACONTAINERCREDS01", time.Now().Add(6*time.Hour))
	srv := startFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/creds" || r.Header.Get("Authorization") != "abc" {
			http.Error(w, `{"code":"AccessDenied","message":"no"}`, http.StatusForbidden)
			return
		}
		writeJSONResponse(w, map[string]string{
			"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey,
			"Token": creds.SessionToken, "Expiration": creds.Expires.Format(time.RFC3339),
		})
	})
	env := sb.env("AWS_REGION="+region,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+srv.URL+"/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN=abc")

	c := mustToken(t, env, tokenArgs("alpha")...)
	checkSigned(t, "alpha", c.Status.Token, creds.identity())
	sb.checkSource(t, c.Status.Token, "CredentialsEndpoint")
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("the container endpoint got %d requests, want 1", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "abc" {
		t.Errorf("Authorization header %q, want abc", got)
	}
}

// EC2 instance metadata, IMDSv2: a session token first, then the role's
// credentials with it. The only test where metadata is enabled, and it
// points at 127.0.0.1.
func TestIMDS(t *testing.T) {
	sb := newSandbox(t)
	creds := newCreds("ASIAINSTANCEROLE0001", time.Now().Add(6*time.Hour))
	const session = "imds-session-token"
	srv := startFake(t, func(w http.ResponseWriter, r *http.Request) {
		const credsPath = "/latest/meta-data/iam/security-credentials/"
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				http.Error(w, "", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			_, _ = w.Write([]byte(session))
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != session:
			http.Error(w, "", http.StatusUnauthorized)
		case r.Method == http.MethodGet && r.URL.Path == credsPath:
			_, _ = w.Write([]byte("eks-node-role"))
		case r.Method == http.MethodGet && r.URL.Path == credsPath+"eks-node-role":
			writeJSONResponse(w, map[string]string{
				"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
				"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey,
				"Token": creds.SessionToken, "Expiration": creds.Expires.Format(time.RFC3339),
			})
		default:
			http.NotFound(w, r)
		}
	})
	env := sb.env("AWS_REGION="+region, "AWS_EC2_METADATA_DISABLED=", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+srv.URL)

	c := mustToken(t, env, tokenArgs("alpha")...)
	checkSigned(t, "alpha", c.Status.Token, creds.identity())
	sb.checkSource(t, c.Status.Token, "EC2RoleProvider")
	var saw []string
	for _, r := range srv.requests() {
		saw = append(saw, r.Method+" "+r.URL.Path)
	}
	if len(saw) == 0 || saw[0] != "PUT /latest/api/token" {
		t.Errorf("IMDS requests %v: want IMDSv2, a PUT for a session token first", saw)
	}
}
