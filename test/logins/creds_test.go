package logins

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// roleSession is what one STS AssumeRole asked for and what ekstoken kept
// of it.
func credentialsExpire(t *testing.T, sb *sandbox) time.Time {
	t.Helper()
	files := sb.cacheFiles(t, "credentials-")
	if len(files) != 1 {
		t.Fatalf("credential cache entries %v, want 1", files)
	}
	var e struct {
		Expires time.Time `json:"expires"`
	}
	readJSON(t, files[0], &e)
	return e.Expires
}

// Role sessions last as long as the aws CLI's: an hour unless the profile's
// duration_seconds says otherwise, taken exactly (the SDK alone asks for 15
// minutes, and ignores duration_seconds of 15 minutes or less). The same
// holds for --role-arn, and for a role assumed from another role.
func TestRoleSessionDuration(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config string
		env    []string
		args   []string
		want   time.Duration
	}{
		{"profile, no duration_seconds", "[profile r]\nrole_arn = " + roleARN("a") + "\nsource_profile = base\n", []string{"AWS_PROFILE=r"}, nil, time.Hour},
		{"profile, 2h", "[profile r]\nrole_arn = " + roleARN("a") + "\nsource_profile = base\nduration_seconds = 7200\n", []string{"AWS_PROFILE=r"}, nil, 2 * time.Hour},
		{"profile, 15m", "[profile r]\nrole_arn = " + roleARN("a") + "\nsource_profile = base\nduration_seconds = 900\n", nil, []string{"--profile", "r"}, 15 * time.Minute},
		{"profile, 950s", "[profile r]\nrole_arn = " + roleARN("a") + "\nsource_profile = base\nduration_seconds = 950\n", []string{"AWS_PROFILE=r"}, nil, 950 * time.Second},
		{"chained roles", "[profile mid]\nrole_arn = " + roleARN("mid") + "\nsource_profile = base\nduration_seconds = 5400\n" +
			"[profile r]\nrole_arn = " + roleARN("a") + "\nsource_profile = mid\n", []string{"AWS_PROFILE=r"}, nil, time.Hour},
		{"--role-arn", "", []string{"AWS_ACCESS_KEY_ID=" + baseKeyID, "AWS_SECRET_ACCESS_KEY=" + baseKey}, []string{"--role-arn", roleARN("a")}, time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sts := startSTS(t)
			sb := newSandbox(t)
			sb.writeBaseCredentials(t)
			sb.writeConfig(t, tt.config)
			env := sb.env(append([]string{"AWS_ENDPOINT_URL_STS=" + sts.URL, "AWS_REGION=" + region}, tt.env...)...)
			before := time.Now()
			c := mustToken(t, env, tokenArgs("alpha", tt.args...)...)
			calls := sts.Calls("AssumeRole")
			if len(calls) == 0 {
				t.Fatalf("no AssumeRole: %v", sts.Actions())
			}
			last := calls[len(calls)-1]
			if got := last.Get("DurationSeconds"); got != strconv.Itoa(int(tt.want.Seconds())) {
				t.Errorf("AssumeRole DurationSeconds = %q, want %v", got, tt.want.Seconds())
			}
			if tt.name == "chained roles" {
				if got := calls[0].Get("DurationSeconds"); got != "5400" {
					t.Errorf("the source role's DurationSeconds = %q, want its own duration_seconds 5400", got)
				}
			}
			exp := credentialsExpire(t, sb)
			if exp.Before(before.Add(tt.want-time.Minute)) || exp.After(time.Now().Add(tt.want+time.Minute)) {
				t.Errorf("cached role session ends %v, want about %v from now", exp.Sub(before).Round(time.Second), tt.want)
			}
			checkSigned(t, "alpha", c.Status.Token, roleFor(t, c.Status.Token).identity())
		})
	}
}

// AWS_CREDENTIAL_EXPIRATION (aws-vault exec, aws configure
// export-credentials) is read as the aws CLI reads it: past, the keys are
// refused with a message that says what to do; future, it caps the token.
func TestEnvCredentialExpiration(t *testing.T) {
	sb := newSandbox(t)
	keys := newCreds("ASIAVAULTEXPORTED001", time.Now())
	env := func(exp time.Time) []string {
		return sb.env("AWS_REGION="+region, "AWS_ACCESS_KEY_ID="+keys.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+keys.SecretAccessKey,
			"AWS_SESSION_TOKEN="+keys.SessionToken, "AWS_CREDENTIAL_EXPIRATION="+exp.UTC().Format(time.RFC3339))
	}
	for _, ago := range []time.Duration{time.Second, 10 * time.Minute, 48 * time.Hour} {
		stderr := mustFail(t, env(time.Now().Add(-ago)), tokenArgs("alpha")...)
		for _, want := range []string{"expired", "AWS_CREDENTIAL_EXPIRATION", "aws-vault exec", "export-credentials"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("expired %v ago: stderr lacks %q: %s", ago, want, stderr)
			}
		}
		if got := sb.cacheFiles(t, "token-"); len(got) != 0 {
			t.Errorf("expired keys: a token was cached: %v", got)
		}
	}
	end := time.Now().Add(9 * time.Minute).Truncate(time.Second)
	c := mustToken(t, env(end), tokenArgs("alpha")...)
	checkSigned(t, "alpha", c.Status.Token, keys.identity())
	if want := end.Add(-time.Minute); !c.Status.ExpirationTimestamp.Equal(want) {
		t.Errorf("expirationTimestamp %v, want the keys' end less the margin, %v", c.Status.ExpirationTimestamp, want)
	}
	if e := sb.entryFor(t, c.Status.Token); !e.CredentialsExpire.Equal(end) {
		t.Errorf("entry credentialsExpire %v, want %v", e.CredentialsExpire, end)
	}
}

// credential_process credentials that have ended are refused, as the aws CLI
// refuses them, naming the process's profile; nothing is printed or cached.
func TestCredentialProcessExpired(t *testing.T) {
	for _, ago := range []time.Duration{time.Second, 10 * time.Minute, 24 * time.Hour} {
		sb := newSandbox(t)
		c := newCreds("ASIAPROCESSEXPIRED01", time.Now().Add(-ago))
		sb.processProfile(t, c)
		stderr := mustFail(t, sb.env("AWS_PROFILE=proc"), tokenArgs("alpha")...)
		if !strings.Contains(stderr, `credential_process of profile "proc"`) || !strings.Contains(stderr, "expired at "+c.Expires.Format(time.RFC3339)) {
			t.Errorf("expired %v ago: stderr does not name the profile and the end: %s", ago, stderr)
		}
		if got := append(sb.cacheFiles(t, "token-"), sb.cacheFiles(t, "credentials-")...); len(got) != 0 {
			t.Errorf("expired %v ago: cached %v", ago, got)
		}
	}
}

// SSO role credentials end with the SSO login: the token and the cached
// credentials end when the access token does, and after `aws sso logout`
// (the token file gone) neither is served: the run says to log in.
func TestSSOLogout(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := newSSO(t, kind.legacy)
			// Ends before a token would (15m), after the window in which
			// cached credentials are renewed (11m): both are capped by it.
			loginEnds := time.Now().Add(14 * time.Minute).Truncate(time.Second)
			s.writeToken(t, "fresh-access-token", loginEnds)
			c := mustToken(t, s.env, tokenArgs("alpha")...)
			if want := loginEnds.Add(-time.Minute); !c.Status.ExpirationTimestamp.Equal(want) {
				t.Errorf("expirationTimestamp %v, want the SSO login's end less the margin, %v", c.Status.ExpirationTimestamp, want)
			}
			if got := credentialsExpire(t, s.sb); !got.Equal(loginEnds) {
				t.Errorf("cached SSO role credentials end %v, want the SSO login's end %v", got, loginEnds)
			}
			mustToken(t, s.env, tokenArgs("alpha")...) // a hit
			if err := os.Remove(s.tokenFile); err != nil {
				t.Fatal(err)
			}
			for _, cluster := range []string{"alpha", "beta"} { // cached token, cached credentials
				stderr := mustFail(t, s.env, tokenArgs(cluster)...)
				if !strings.Contains(stderr, "aws sso login --profile "+ssoProfile) {
					t.Errorf("%s after logout: %s", cluster, stderr)
				}
			}
			if n := len(s.portal.requests()); n != 1 {
				t.Errorf("the portal got %d requests, want 1", n)
			}
		})
	}
}

// --force-refresh renews the whole chain: the role is assumed again, the
// process runs again, rather than re-signing with cached credentials that
// may have been revoked; the new ones are cached.
func TestForceRefreshRenewsTheChain(t *testing.T) {
	t.Run("role", func(t *testing.T) {
		sts := startSTS(t)
		sb := newSandbox(t)
		sb.writeBaseCredentials(t)
		sb.writeConfig(t, "[profile dev]\nrole_arn = "+roleARN("eks-dev")+"\nsource_profile = base\nregion = "+region+"\n")
		env := sb.env("AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_PROFILE=dev")
		mustToken(t, env, tokenArgs("alpha")...)
		forced := mustToken(t, env, tokenArgs("alpha", "--force-refresh")...)
		if n := len(sts.Calls("AssumeRole")); n != 2 {
			t.Fatalf("AssumeRole calls %d, want 2", n)
		}
		newest := motoRoles(t)[1]
		checkSigned(t, "alpha", forced.Status.Token, newest.identity())
		other := mustToken(t, env, tokenArgs("beta")...)
		if n := len(sts.Calls("AssumeRole")); n != 2 || decodeToken(t, other.Status.Token).AccessKeyID != newest.AccessKeyID {
			t.Errorf("the renewed role session was not cached for the next cluster (%d AssumeRole calls)", n)
		}
	})
	t.Run("credential_process", func(t *testing.T) {
		sb := newSandbox(t)
		runs := sb.processProfile(t, newCreds("ASIAPROCESSFORCED001", time.Now().Add(time.Hour)))
		env := sb.env("AWS_PROFILE=proc")
		mustToken(t, env, tokenArgs("alpha")...)
		mustToken(t, env, tokenArgs("alpha", "--force-refresh")...)
		if n := countLines(t, runs); n != 2 {
			t.Errorf("the process ran %d times, want 2", n)
		}
	})
}

// AWS_DEFAULT_PROFILE works as the aws CLI reads it: below AWS_PROFILE,
// giving the profile's credentials, and a missing one is named as missing.
func TestDefaultProfileEnv(t *testing.T) {
	sb := newSandbox(t)
	sb.writeConfig(t, "[default]\nregion = "+region+"\n[profile proc]\nregion = "+region+"\n")
	stderr := mustFail(t, sb.env("AWS_DEFAULT_PROFILE=nosuch"), tokenArgs("alpha")...)
	if !strings.Contains(stderr, `AWS profile "nosuch" not found`) || strings.Contains(stderr, "IMDS") {
		t.Errorf("AWS_DEFAULT_PROFILE=nosuch: %s", stderr)
	}
	c := newCreds("ASIADEFAULTPROFILE01", time.Now().Add(time.Hour))
	sb.processProfile(t, c)
	cred := mustToken(t, sb.env("AWS_DEFAULT_PROFILE=proc"), tokenArgs("alpha")...)
	checkSigned(t, "alpha", cred.Status.Token, c.identity())
	// AWS_PROFILE wins over it; environment keys win over both.
	stderr = mustFail(t, sb.env("AWS_DEFAULT_PROFILE=proc", "AWS_PROFILE=nosuch"), tokenArgs("alpha")...)
	if !strings.Contains(stderr, `"nosuch" not found`) {
		t.Errorf("AWS_PROFILE did not win over AWS_DEFAULT_PROFILE: %s", stderr)
	}
	keys := sb.env("AWS_DEFAULT_PROFILE=proc", "AWS_ACCESS_KEY_ID="+baseKeyID, "AWS_SECRET_ACCESS_KEY="+baseKey)
	if got := decodeToken(t, mustToken(t, keys, tokenArgs("beta")...).Status.Token).AccessKeyID; got != baseKeyID {
		t.Errorf("with keys in the environment and AWS_DEFAULT_PROFILE, signed with %s, want the keys", got)
	}
}

// Messages name what is actually wrong: the missing half of a key pair,
// the container endpoint variable (not a profile), and for MFA without a
// terminal the exact command that logs in once.
func TestMessagesFitTheSituation(t *testing.T) {
	sb := newSandbox(t)
	sb.writeConfig(t, "[default]\nregion = "+region+"\n")
	t.Run("half a key pair", func(t *testing.T) {
		for _, other := range []string{"", "AWS_SESSION_TOKEN=t"} {
			stderr := mustFail(t, sb.env("AWS_ACCESS_KEY_ID="+baseKeyID, other), tokenArgs("alpha")...)
			if !strings.Contains(stderr, "AWS_SECRET_ACCESS_KEY is not") {
				t.Errorf("only AWS_ACCESS_KEY_ID: %s", stderr)
			}
		}
		stderr := mustFail(t, sb.env("AWS_SECRET_ACCESS_KEY="+baseKey), tokenArgs("alpha")...)
		if !strings.Contains(stderr, "AWS_ACCESS_KEY_ID is not") {
			t.Errorf("only AWS_SECRET_ACCESS_KEY: %s", stderr)
		}
	})
	t.Run("container endpoint", func(t *testing.T) {
		srv := startFake(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"code":"AccessDenied","message":"no role for this pod"}`, http.StatusForbidden)
		})
		stderr := mustFail(t, sb.env("AWS_CONTAINER_CREDENTIALS_FULL_URI="+srv.URL+"/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN=abc"), tokenArgs("alpha")...)
		if !strings.Contains(stderr, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+srv.URL+"/creds") || strings.Contains(stderr, `profile "default"`) {
			t.Errorf("container failure: %s", stderr)
		}
		if strings.Contains(stderr, "operation error") || strings.Contains(stderr, "abc") {
			t.Errorf("container failure shows SDK chains or the token: %s", stderr)
		}
	})
}

// Expired keys in the environment under --role-arn: refused before STS is
// asked, with the same message, not STS's ExpiredToken under SDK wrapping.
func TestEnvCredentialExpirationUnderRoleARN(t *testing.T) {
	sts := startSTS(t)
	sb := newSandbox(t)
	env := sb.env("AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_REGION="+region, "AWS_ACCESS_KEY_ID="+baseKeyID, "AWS_SECRET_ACCESS_KEY="+baseKey,
		"AWS_CREDENTIAL_EXPIRATION="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	stderr := mustFail(t, env, tokenArgs("alpha", "--role-arn", roleARN("a"))...)
	if !strings.Contains(stderr, "AWS_CREDENTIAL_EXPIRATION") || strings.Contains(stderr, "operation error") {
		t.Errorf("stderr: %s", stderr)
	}
	if got := sts.Actions(); len(got) != 0 {
		t.Errorf("STS was asked %v with expired keys", got)
	}
}

// An access token the portal no longer accepts (signed out in the browser,
// session revoked) asks for the same login as a missing one.
func TestSSOTokenRevoked(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := newSSO(t, kind.legacy)
			s.writeToken(t, "revoked-access-token", time.Now().Add(time.Hour))
			stderr := mustFail(t, s.env, tokenArgs("alpha")...)
			if !strings.Contains(stderr, "aws sso login --profile "+ssoProfile) || strings.Contains(stderr, "operation error") {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}
