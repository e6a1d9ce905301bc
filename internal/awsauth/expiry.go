package awsauth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
)

// CredentialExpirationEnv is where aws-vault exec and `aws configure
// export-credentials --format env` put the end of the keys they export.
// aws-sdk-go-v2 ignores it; the aws CLI (botocore's EnvProvider) reads it,
// and refuses keys past it.
const CredentialExpirationEnv = "AWS_CREDENTIAL_EXPIRATION"

// envExpiration gives keys from the environment the expiry that
// AWS_CREDENTIAL_EXPIRATION states, as the aws CLI does, and refuses them
// once it has passed.
func envExpiration(c aws.Credentials, getenv func(string) string, now func() time.Time) (aws.Credentials, error) {
	v := getenv(CredentialExpirationEnv)
	if c.Source != config.CredentialsSourceName || v == "" {
		return c, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return c, fmt.Errorf("%s=%q is not a time like 2026-01-02T15:04:05Z: fix it, or unset it together with the keys it belongs to", CredentialExpirationEnv, v)
	}
	c.CanExpire, c.Expires = true, t
	if !t.After(now()) {
		return c, &ExpiredError{Source: c.Source, Expires: t, Now: now()}
	}
	return c, nil
}

// ExpiredError says that the credentials found had already ended.
type ExpiredError struct {
	Source  string // the SDK's provider name
	Profile string
	Expires time.Time
	Now     time.Time
}

func (e *ExpiredError) Error() string {
	when := fmt.Sprintf("expired at %s (%s ago)", e.Expires.UTC().Format(time.RFC3339), e.Now.Sub(e.Expires).Round(time.Second))
	switch e.Source {
	case config.CredentialsSourceName:
		return fmt.Sprintf("the AWS keys in the environment %s, as %s says: ekstoken does not sign with them, EKS would refuse the token; "+
			"get fresh ones (run `aws-vault exec` again, or `aws configure export-credentials --format env` again) and retry", when, CredentialExpirationEnv)
	case processcreds.ProviderName:
		return fmt.Sprintf("the credential_process of profile %q gave credentials that %s: ekstoken does not sign with them, EKS would refuse the token; "+
			"log in again with the tool behind the process (run it by hand to see what it prints), then retry", e.Profile, when)
	case ssocreds.ProviderName:
		return fmt.Sprintf("the SSO role credentials of profile %q %s: run `aws sso login --profile %s`, then retry", e.Profile, when, e.Profile)
	}
	return fmt.Sprintf("the AWS credentials of profile %q (from %s) %s: ekstoken does not sign with them, EKS would refuse the token; renew them and retry",
		e.Profile, e.Source, when)
}

func (o Options) expired(c aws.Credentials, now time.Time) error {
	return &ExpiredError{Source: c.Source, Profile: o.profileName(), Expires: c.Expires, Now: now}
}

// roleDuration is the duration_seconds that the profile, or a source
// profile it assumes a role from, gives for role.
func roleDuration(sc config.SharedConfig, role string) (time.Duration, bool) {
	for p := &sc; p != nil; p = p.Source {
		if p.RoleARN == role && p.RoleDurationSeconds != nil && *p.RoleDurationSeconds > 0 {
			return *p.RoleDurationSeconds, true
		}
	}
	return 0, false
}

// ssoTokenFile is the file the SDK reads the SSO access token of the
// profile from (ssocreds.StandardCachedTokenFilepath): named by the
// sso-session, or by the start URL for legacy profiles; "" when the profile
// is not an SSO one.
func ssoTokenFile(sc config.SharedConfig) string {
	key := sc.SSOStartURL
	switch {
	case sc.SSOSession != nil:
		key = sc.SSOSession.Name
	case sc.SSOSessionName != "":
		key = sc.SSOSessionName
	}
	if key == "" {
		return ""
	}
	p, err := ssocreds.StandardCachedTokenFilepath(key)
	if err != nil {
		return ""
	}
	return p
}

// capBySSOToken ends SSO role credentials when the SSO login they came from
// ends: the role session may last longer, but a person who let the login
// lapse, or logged out, expects access to stop with it.
func capBySSOToken(c aws.Credentials, file string, log *slog.Logger) aws.Credentials {
	if file == "" {
		return c
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return c
	}
	var tok struct {
		ExpiresAt string `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		return c
	}
	t, err := time.Parse(time.RFC3339, tok.ExpiresAt)
	if err != nil {
		return c
	}
	if !c.CanExpire || t.Before(c.Expires) {
		if log != nil {
			log.Debug("SSO role credentials end with the SSO login", "roleCredentialsExpire", c.Expires, "ssoTokenExpires", t)
		}
		c.CanExpire, c.Expires = true, t
	}
	return c
}
