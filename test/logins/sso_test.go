package logins

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	ssoProfile  = "corp-admin"
	ssoSession  = "corp"
	ssoRoleName = "EKSAdmin"
	ssoStartURL = "https://corp.awsapps.com/start"
)

// ssoKinds are the two shapes of SSO profile.
var ssoKinds = []struct {
	name   string
	legacy bool
}{{"sso-session", false}, {"legacy", true}}

// ssoSetup is a profile on an IAM Identity Center session, a fake SSO
// portal for it, and the SDK's token cache file.
type ssoSetup struct {
	sb        *sandbox
	portal    *fake
	creds     tempCreds
	tokenFile string
	env       []string
	// delay is how long the portal takes to answer, in nanoseconds.
	delay atomic.Int64
}

// newSSO configures the profile with an [sso-session] section, as `aws
// configure sso` writes it today, or, when legacy, with sso_start_url in
// the profile itself.
func newSSO(t *testing.T, legacy bool) *ssoSetup {
	t.Helper()
	s := &ssoSetup{sb: newSandbox(t), creds: newCreds("ASIASSOROLECREDS0001", time.Now().Add(8*time.Hour))}
	role := "sso_account_id = " + account + "\nsso_role_name = " + ssoRoleName + "\nregion = " + region + "\n"
	start := "sso_start_url = " + ssoStartURL + "\nsso_region = " + region + "\n"
	// The SDK keeps the access token in ~/.aws/sso/cache/<sha1 of the
	// session name, or of the start URL for legacy profiles>.json
	// (ssocreds.StandardCachedTokenFilepath).
	key := ssoSession
	if legacy {
		key = ssoStartURL
		s.sb.writeConfig(t, "[profile "+ssoProfile+"]\n"+start+role)
	} else {
		s.sb.writeConfig(t, "[profile "+ssoProfile+"]\nsso_session = "+ssoSession+"\n"+role+
			"\n[sso-session "+ssoSession+"]\n"+start+"sso_registration_scopes = sso:account:access\n")
	}
	sum := sha1.Sum([]byte(key))
	s.tokenFile = filepath.Join(s.sb.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	s.portal = startFake(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(s.delay.Load()))
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/federation/credentials" ||
			q.Get("account_id") != account || q.Get("role_name") != ssoRoleName ||
			r.Header.Get("X-Amz-Sso_bearer_token") != "fresh-access-token" {
			w.Header().Set("X-Amzn-Errortype", "UnauthorizedException")
			http.Error(w, `{"message":"Session token not found or invalid"}`, http.StatusUnauthorized)
			return
		}
		writeJSONResponse(w, map[string]any{"roleCredentials": map[string]any{
			"accessKeyId": s.creds.AccessKeyID, "secretAccessKey": s.creds.SecretAccessKey,
			"sessionToken": s.creds.SessionToken, "expiration": s.creds.Expires.UnixMilli(),
		}})
	})
	// The portal and the OIDC service (token refresh) are both the fake;
	// the cache file has no refresh token, so OIDC is never asked.
	s.env = s.sb.env("AWS_PROFILE="+ssoProfile,
		"AWS_ENDPOINT_URL_SSO="+s.portal.URL, "AWS_ENDPOINT_URL_SSO_OIDC="+s.portal.URL)
	return s
}

// ssoTokenJSON is the token cache file `aws sso login` writes.
func ssoTokenJSON(t *testing.T, accessToken string, expires time.Time) string {
	b, err := json.Marshal(map[string]string{
		"startUrl": ssoStartURL, "region": region,
		"accessToken": accessToken, "expiresAt": expires.UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *ssoSetup) writeToken(t *testing.T, accessToken string, expires time.Time) {
	writeFile(t, s.tokenFile, ssoTokenJSON(t, accessToken, expires), 0o600)
}

// fakeAWS puts an `aws` first on PATH that logs its arguments and, like
// `aws sso login`, writes a fresh token file. It returns the log.
func (s *ssoSetup) fakeAWS(t *testing.T) string {
	log := filepath.Join(s.sb.home, "aws-calls")
	s.sb.script(t, "aws", "echo \"$*\" >> '"+log+"'\nmkdir -p '"+filepath.Dir(s.tokenFile)+"'\ncat > '"+s.tokenFile+"' <<'EOF'\n"+
		ssoTokenJSON(t, "fresh-access-token", time.Now().Add(8*time.Hour))+"\nEOF\n")
	return log
}

// A valid SSO session: the role credentials the portal returns for the
// session's access token sign the token.
func TestSSO(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) { testSSO(t, newSSO(t, kind.legacy)) })
	}
}

func testSSO(t *testing.T, s *ssoSetup) {
	s.writeToken(t, "fresh-access-token", time.Now().Add(time.Hour))

	c := mustToken(t, s.env, tokenArgs("alpha")...)
	checkSigned(t, "alpha", c.Status.Token, s.creds.identity())
	s.sb.checkSource(t, c.Status.Token, "SSOProvider")
	if n := len(s.portal.requests()); n != 1 {
		t.Errorf("the SSO portal got %d requests, want 1", n)
	}
	// Role credentials are kept: another cluster needs no portal call.
	c2 := mustToken(t, s.env, tokenArgs("beta")...)
	checkSigned(t, "beta", c2.Status.Token, s.creds.identity())
	if n := len(s.portal.requests()); n != 1 {
		t.Errorf("the SSO portal got %d requests for two clusters, want 1", n)
	}
}

// An expired SSO session fails at once and says which command renews it.
func TestSSOExpired(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) { testSSOExpired(t, newSSO(t, kind.legacy)) })
	}
}

func testSSOExpired(t *testing.T, s *ssoSetup) {
	s.writeToken(t, "stale-access-token", time.Now().Add(-time.Hour))
	stderr := mustFail(t, s.env, tokenArgs("alpha")...)
	if len(s.portal.requests()) != 0 {
		t.Error("the portal was asked with an expired session token")
	}
	if !strings.Contains(stderr, "aws sso login --profile "+ssoProfile) {
		t.Fatalf("stderr does not say to run `aws sso login --profile %s`: %s", ssoProfile, stderr)
	}
}

// --sso-login runs `aws sso login` once when kubectl connected a terminal,
// then succeeds; without a terminal it runs nothing and fails.
func TestSSOLogin(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) { testSSOLogin(t, kind.legacy) })
	}
}

func testSSOLogin(t *testing.T, legacy bool) {
	t.Run("interactive", func(t *testing.T) {
		s := newSSO(t, legacy)
		s.writeToken(t, "stale-access-token", time.Now().Add(-time.Hour))
		log := s.fakeAWS(t)
		stdout, stderr, code := run(t, append(s.env, "KUBERNETES_EXEC_INFO="+interactiveInfo), tokenArgs("alpha", "--sso-login")...)
		calls := countLines(t, log)
		if code != 0 && calls == 0 {
			t.Fatalf("--sso-login did not run `aws sso login` for an expired session: %s", stderr)
		}
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		c := parseCredential(t, stdout)
		checkSigned(t, "alpha", c.Status.Token, s.creds.identity())
		if calls != 1 {
			t.Errorf("aws ran %d times, want 1", calls)
		}
		if got := readFileString(t, log); got != "sso login --profile "+ssoProfile+"\n" {
			t.Errorf("aws ran with %q, want sso login --profile %s", got, ssoProfile)
		}
	})
	t.Run("not interactive", func(t *testing.T) {
		s := newSSO(t, legacy)
		s.writeToken(t, "stale-access-token", time.Now().Add(-time.Hour))
		log := s.fakeAWS(t)
		stderr := mustFail(t, append(s.env, "KUBERNETES_EXEC_INFO="+batchInfo), tokenArgs("alpha", "--sso-login")...)
		if n := countLines(t, log); n != 0 {
			t.Errorf("aws ran %d times without a terminal, want 0", n)
		}
		if !strings.Contains(stderr, "interactiveMode: IfAvailable") {
			t.Errorf("stderr does not say why --sso-login did not run: %s", stderr)
		}
	})
}
