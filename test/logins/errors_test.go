package logins

import (
	"net/http"
	"strings"
	"testing"
)

// A profile that does not exist: the message lists the ones that do, from
// both files, whether the name came from --profile or AWS_PROFILE.
func TestProfileNotFound(t *testing.T) {
	sb := newSandbox(t)
	sb.writeBaseCredentials(t)
	sb.writeConfig(t, "[default]\nregion = "+region+"\n\n[profile dev]\nregion = "+region+
		"\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = "+region+"\n")
	for name, env := range map[string][]string{
		"flag":        sb.env(),
		"AWS_PROFILE": sb.env("AWS_PROFILE=staging"),
	} {
		t.Run(name, func(t *testing.T) {
			args := tokenArgs("alpha")
			if name == "flag" {
				args = append(args, "--profile", "staging")
			}
			stderr := mustFail(t, env, args...)
			for _, want := range []string{`"staging"`, "base, default, dev", sb.configFile, sb.credsF} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, stderr)
				}
			}
			if strings.Contains(stderr, "corp") {
				t.Errorf("an [sso-session] is listed as a profile: %s", stderr)
			}
		})
	}
}

// STS refuses the role: the message names the role and the key that asked
// for it, so the trust policy can be checked. STS's own message names
// neither here; ekstoken must.
func TestAccessDenied(t *testing.T) {
	sb := newSandbox(t)
	sb.writeBaseCredentials(t)
	sb.writeConfig(t, "[profile locked]\nrole_arn = "+roleARN("locked")+"\nsource_profile = base\nregion = "+region+"\n")
	sts := startFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
			`<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::` + account +
			`:user/alice is not authorized to perform: sts:AssumeRole</Message></Error>` +
			`<RequestId>4f1e0c1e-0000-4000-8000-000000000000</RequestId></ErrorResponse>`))
	})
	for name, tt := range map[string]struct {
		env  []string
		args []string
	}{
		"--role-arn": {
			sb.env("AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_ACCESS_KEY_ID="+baseKeyID, "AWS_SECRET_ACCESS_KEY="+baseKey),
			tokenArgs("alpha", "--region", region, "--role-arn", roleARN("locked")),
		},
		"profile role_arn": {
			sb.env("AWS_ENDPOINT_URL_STS="+sts.URL, "AWS_PROFILE=locked"),
			tokenArgs("alpha"),
		},
	} {
		t.Run(name, func(t *testing.T) {
			stderr := mustFail(t, tt.env, tt.args...)
			if !strings.Contains(stderr, "AccessDenied") {
				t.Errorf("stderr lacks STS's error code: %s", stderr)
			}
			if strings.Contains(stderr, baseKey) {
				t.Errorf("stderr shows the secret key: %s", stderr)
			}
			if !strings.Contains(stderr, roleARN("locked")) || !strings.Contains(stderr, baseKeyID) {
				t.Fatalf("stderr does not name both the role %s and the key %s: %s", roleARN("locked"), baseKeyID, stderr)
			}
		})
	}
	if n := len(sts.requests()); n == 0 {
		t.Error("the fake STS was never asked")
	}
}

// No region from the flag, the environment or the profile: the message
// says the three ways to give one.
func TestNoRegion(t *testing.T) {
	sb := newSandbox(t)
	sb.writeConfig(t, "[default]\noutput = json\n")
	env := sb.env("AWS_ACCESS_KEY_ID="+baseKeyID, "AWS_SECRET_ACCESS_KEY="+baseKey)
	stderr := mustFail(t, env, tokenArgs("alpha")...)
	for _, want := range []string{"region", "--region", "AWS_REGION", sb.configFile} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
}
