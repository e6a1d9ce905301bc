package logins

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A profile with role_arn and source_profile: the token is signed with the
// assumed role's session credentials, names the real regional STS host even
// though STS calls go to an override, and one role session serves every
// cluster, across processes, through the credential cache.
func TestAssumeRoleProfile(t *testing.T) {
	sts := startSTS(t)
	sb := newSandbox(t)
	sb.writeBaseCredentials(t)
	sb.writeConfig(t, "[profile dev]\nrole_arn = "+roleARN("eks-dev")+"\nsource_profile = base\nregion = "+region+"\n")
	env := sb.env("AWS_ENDPOINT_URL_STS=" + sts.URL)

	first := map[string]string{}
	for i, run := range []struct {
		cluster string
		flags   []string
	}{
		{cluster: "alpha"}, {cluster: "beta"}, {cluster: "gamma"},
		{cluster: "alpha"}, // token cache hit
		{cluster: "delta"}, // a token miss, answered from the credential cache
	} {
		c := mustToken(t, env, tokenArgs(run.cluster, append(run.flags, "--profile", "dev")...)...)
		role := onlyRole(t) // one role session for every run so far
		checkSigned(t, run.cluster, c.Status.Token, role.identity())
		if ti := decodeToken(t, c.Status.Token); ti.AccessKeyID == baseKeyID {
			t.Errorf("run %d signed with the source profile's key", i)
		}
		if tok, ok := first[run.cluster]; ok && run.flags == nil && tok != c.Status.Token {
			t.Errorf("run %d (%s): cached token not reused", i, run.cluster)
		}
		first[run.cluster] = c.Status.Token
	}

	role := onlyRole(t)
	if diff := cmp.Diff([]string{roleARN("eks-dev")}, []string{role.RoleARN}); diff != "" {
		t.Errorf("assumed role (-want +got):\n%s", diff)
	}
	if calls := sts.Calls("AssumeRole"); len(calls) != 1 {
		t.Errorf("STS saw %d AssumeRole calls, want 1: %v", len(calls), sts.Actions())
	} else if auth := calls[0].Get(authParam); !strings.Contains(auth, "Credential="+baseKeyID+"/") {
		t.Errorf("AssumeRole not signed with source_profile's keys: %q", auth)
	}
	creds := sb.cacheFiles(t, "credentials-")
	if len(creds) != 1 {
		t.Fatalf("credential cache entries: %v, want 1", creds)
	}
	st, err := os.Stat(creds[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", creds[0], st.Mode().Perm())
	}
	var entry struct {
		AccessKeyID  string `json:"accessKeyId"`
		SessionToken string `json:"sessionToken"`
	}
	readJSON(t, creds[0], &entry)
	if entry.AccessKeyID != role.AccessKeyID || entry.SessionToken != role.SessionToken {
		t.Errorf("credential cache holds %s, want the assumed role's %s", entry.AccessKeyID, role.AccessKeyID)
	}
	if n := len(sb.cacheFiles(t, "token-")); n != 4 {
		t.Errorf("%d token entries, want 4 (one per cluster)", n)
	}
}

// --no-credential-cache: every token miss assumes the role anew, and no
// credentials are written; token hits still need nothing.
func TestAssumeRoleProfileNoCredentialCache(t *testing.T) {
	sts := startSTS(t)
	sb := newSandbox(t)
	sb.writeBaseCredentials(t)
	sb.writeConfig(t, "[profile dev]\nrole_arn = "+roleARN("eks-dev")+"\nsource_profile = base\nregion = "+region+"\n")
	env := sb.env("AWS_ENDPOINT_URL_STS=" + sts.URL)

	for _, cluster := range []string{"alpha", "beta", "gamma", "alpha"} {
		c := mustToken(t, env, tokenArgs(cluster, "--profile", "dev", "--no-credential-cache")...)
		checkSigned(t, cluster, c.Status.Token, roleFor(t, c.Status.Token).identity())
	}
	if n := len(motoRoles(t)); n != 3 {
		t.Errorf("moto answered %d AssumeRole calls, want 3 (one per token miss)", n)
	}
	if n := len(sts.Calls("AssumeRole")); n != 3 {
		t.Errorf("STS saw %d AssumeRole calls, want 3", n)
	}
	if got := sb.cacheFiles(t, "credentials-"); len(got) != 0 {
		t.Errorf("credentials cached despite --no-credential-cache: %v", got)
	}
}

// --role-arn and its alias --role assume the role from environment keys,
// with the session name the aws CLI uses by default, and pass
// --session-name and --external-id through.
func TestRoleARNFlag(t *testing.T) {
	for _, tt := range []struct {
		name        string
		flags       []string
		role        string
		sessionName string
		externalID  string
	}{
		{"role-arn", []string{"--role-arn", roleARN("flag-role")}, "flag-role", "EKSGetTokenAuth", ""},
		{"role alias", []string{"--role", roleARN("alias-role")}, "alias-role", "EKSGetTokenAuth", ""},
		{"external id", []string{"--role-arn", roleARN("partner"), "--external-id", "ext-4711"}, "partner", "EKSGetTokenAuth", "ext-4711"},
		{"session name", []string{"--role-arn", roleARN("flag-role"), "--session-name", "alice-kubectl"}, "flag-role", "alice-kubectl", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sts := startSTS(t)
			sb := newSandbox(t)
			env := sb.env("AWS_ENDPOINT_URL_STS="+sts.URL,
				"AWS_ACCESS_KEY_ID="+baseKeyID, "AWS_SECRET_ACCESS_KEY="+baseKey)
			c := mustToken(t, env, tokenArgs("prod", append(tt.flags, "--region", region)...)...)

			role := onlyRole(t)
			checkSigned(t, "prod", c.Status.Token, role.identity())
			ext := ""
			if role.ExternalID != nil {
				ext = *role.ExternalID
			}
			got := []string{role.RoleARN, role.SessionName, ext}
			if diff := cmp.Diff([]string{roleARN(tt.role), tt.sessionName, tt.externalID}, got); diff != "" {
				t.Errorf("moto's record of the AssumeRole [role, session, external id] (-want +got):\n%s", diff)
			}
			calls := sts.Calls("AssumeRole")
			if len(calls) != 1 {
				t.Fatalf("STS calls %v, want one AssumeRole", sts.Actions())
			}
			if auth := calls[0].Get(authParam); !strings.Contains(auth, "Credential="+baseKeyID+"/") {
				t.Errorf("AssumeRole not signed with the environment's keys: %q", auth)
			}
			if _, has := calls[0]["ExternalId"]; has != (tt.externalID != "") {
				t.Errorf("ExternalId sent: %v, want %v", has, tt.externalID != "")
			}
			if !strings.HasSuffix(role.ARN, "/"+tt.sessionName) {
				t.Errorf("session ARN %s does not end in the session name", role.ARN)
			}
		})
	}
}
