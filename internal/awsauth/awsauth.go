// Package awsauth resolves AWS credentials the way the aws CLI does, through
// aws-sdk-go-v2's config loader: flags, then the environment, then the shared
// config and credentials files, with every source the SDK supports (static
// keys, role_arn with source_profile or credential_source, SSO,
// credential_process, web identity, container credentials, IMDS). It turns
// the SDK's failures into messages that say what to do next.
package awsauth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// Options are the inputs that choose an identity.
type Options struct {
	Region  string // --region; "" lets the SDK look in the env and profile
	Profile string // --profile; "" lets the SDK use AWS_PROFILE or default
	// RoleARN, when set, is assumed from the resolved base credentials.
	RoleARN     string
	SessionName string
	ExternalID  string
	// MFACode, when not nil, is asked for the code of an mfa_serial device.
	// When nil, a profile with mfa_serial fails with a message instead.
	MFACode func(serial string) (string, error)
	// Cache, when not nil, keeps expiring credentials across processes.
	Cache *FileCache
	// EffectiveProfile, ConfigFile and CredentialsFile name, for messages,
	// the profile in use (flag, AWS_PROFILE, AWS_DEFAULT_PROFILE or
	// "default") and the shared files it is read from.
	EffectiveProfile            string
	ConfigFile, CredentialsFile string

	baseIdentity string // set while resolving, for messages
}

// Result is a usable configuration and the credentials it resolved.
type Result struct {
	Config      aws.Config
	Credentials aws.Credentials
}

// Resolve loads the configuration and retrieves credentials.
func Resolve(ctx context.Context, o Options) (Result, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithAssumeRoleCredentialOptions(func(a *stscreds.AssumeRoleOptions) {
			if o.MFACode != nil {
				a.TokenProvider = func() (string, error) { return o.MFACode(aws.ToString(a.SerialNumber)) }
			}
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	// No credential ExpiryWindow: the SDK would report Expires that much
	// early, and ekstoken already takes its margin off the real expiry.
	cfg, err := loadConfig(ctx, opts...)
	if err != nil {
		return Result{}, o.explain(ctx, err)
	}
	if cfg.Region == "" {
		return Result{}, fmt.Errorf("no AWS region: pass --region, set AWS_REGION, or add `region = ...` to profile %q in %s", o.profileName(), o.ConfigFile)
	}
	base := cfg.Credentials
	if o.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN,
			func(a *stscreds.AssumeRoleOptions) {
				a.RoleSessionName = o.SessionName
				if a.RoleSessionName == "" {
					a.RoleSessionName = tokencache.DefaultSessionName
				}
				if o.ExternalID != "" {
					a.ExternalID = aws.String(o.ExternalID)
				}
			}))
	}
	if o.Cache != nil {
		cfg.Credentials = o.Cache.Wrap(cfg.Credentials)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		if o.RoleARN != "" && strings.Contains(err.Error(), "AccessDenied") {
			// Name the identity that was refused; the base credentials
			// are cached in memory by now.
			if b, berr := base.Retrieve(ctx); berr == nil {
				o.baseIdentity = fmt.Sprintf(" (key %s from %s)", b.AccessKeyID, b.Source)
			}
		}
		return Result{}, o.explain(ctx, err)
	}
	return Result{Config: cfg, Credentials: creds}, nil
}

func (o Options) profileName() string {
	if o.EffectiveProfile != "" {
		return o.EffectiveProfile
	}
	return "default"
}

// explain turns the SDK's errors into ones a person can act on.
func (o Options) explain(ctx context.Context, err error) error {
	profile := o.profileName()
	// The SDK quotes a credential_process's whole output when it cannot
	// parse it, secret key and session token included: keep only the
	// parser's own complaint.
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "process output:") {
		reason := "unreadable output"
		if inner := errors.Unwrap(pe.Err); inner != nil {
			reason = inner.Error()
		}
		return fmt.Errorf("the credential_process of profile %q printed something that is not credentials JSON "+
			"(Version 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration in RFC 3339): %s; run the process by hand to see its output",
			profile, reason)
	}
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		have := Profiles(o.ConfigFile, o.CredentialsFile)
		list := "none"
		if len(have) > 0 {
			list = strings.Join(have, ", ")
		}
		return fmt.Errorf("AWS profile %q not found in %s or %s (profiles there: %s); pass --profile or set AWS_PROFILE to one of them",
			profile, o.ConfigFile, o.CredentialsFile, list)
	}
	var noMFA config.AssumeRoleTokenProviderNotSetError
	if errors.As(err, &noMFA) || strings.Contains(err.Error(), "AssumeRoleTokenProviderNotSetError") {
		return fmt.Errorf("profile %q needs an MFA code, and kubectl gave ekstoken no terminal to ask on: set `interactiveMode: IfAvailable` in the kubeconfig user, or run `ekstoken token` once in a terminal: %w", profile, err)
	}
	msg := err.Error()
	// Legacy SSO profiles fail with InvalidTokenError; sso-session ones
	// with a plain "refresh cached SSO token failed" error.
	var sso *ssocreds.InvalidTokenError
	if errors.As(err, &sso) || strings.Contains(msg, "cached SSO token") {
		return &SSOLoginError{Profile: profile, Err: err}
	}
	switch {
	case strings.Contains(msg, "no EC2 IMDS role found") || strings.Contains(msg, "IMDS") || strings.Contains(msg, "ec2imds"):
		return fmt.Errorf("no AWS credentials found: tried the environment (AWS_ACCESS_KEY_ID), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "+
			"profile %q in %s and %s, container credentials and EC2 instance metadata; run `aws configure`, `aws sso login`, or set AWS_PROFILE: %w",
			profile, o.ConfigFile, o.CredentialsFile, err)
	case strings.Contains(msg, "AccessDenied"):
		role, base := o.RoleARN, o.baseIdentity
		if role == "" {
			role, base = o.profileRole(ctx, profile)
		}
		if role != "" {
			return fmt.Errorf("cannot assume role %s with the credentials of profile %q%s: check the role's trust policy and the caller's sts:AssumeRole permission: %w",
				role, profile, base, err)
		}
	}
	return fmt.Errorf("get AWS credentials for profile %q: %w", profile, err)
}

// profileRole reads the role_arn of a profile and names the identity that
// assumes it, for messages.
func (o Options) profileRole(ctx context.Context, profile string) (role, base string) {
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(l *config.LoadSharedConfigOptions) {
		l.ConfigFiles, l.CredentialsFiles = []string{o.ConfigFile}, []string{o.CredentialsFile}
	})
	if err != nil || sc.RoleARN == "" {
		return "", ""
	}
	switch {
	case sc.Source != nil && sc.Source.Credentials.AccessKeyID != "":
		base = fmt.Sprintf(" (key %s of source profile %q)", sc.Source.Credentials.AccessKeyID, sc.SourceProfileName)
	case sc.SourceProfileName != "":
		base = fmt.Sprintf(" (source profile %q)", sc.SourceProfileName)
	case sc.CredentialSource != "":
		base = fmt.Sprintf(" (credential_source %s)", sc.CredentialSource)
	}
	return sc.RoleARN, base
}

// SSOLoginError says the SSO session behind Profile is missing or expired.
type SSOLoginError struct {
	Profile string
	Err     error
	// Hint, set by the caller, adds what it could do about it.
	Hint string
}

func (e *SSOLoginError) Error() string {
	msg := fmt.Sprintf("the SSO session of profile %q is missing or expired: run `aws sso login --profile %s`", e.Profile, e.Profile)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

// TerminalPrompt asks for MFA codes on out, a terminal's stderr, and reads
// them from in. Never stdout: in a credential plugin that is kubectl's.
func TerminalPrompt(in io.Reader, out io.Writer) func(serial string) (string, error) {
	r := bufio.NewReader(in)
	return func(serial string) (string, error) {
		fmt.Fprintf(out, "MFA code for %s: ", serial)
		line, err := r.ReadString('\n')
		code := strings.TrimSpace(line)
		if code == "" {
			if err == nil {
				err = errors.New("no code entered")
			}
			return "", fmt.Errorf("read MFA code: %w", err)
		}
		return code, nil
	}
}

func (e *SSOLoginError) Unwrap() error { return e.Err }

// Profiles lists the profile names defined in the shared config and
// credentials files, sorted, for messages.
func Profiles(configFile, credentialsFile string) []string {
	var names []string
	for _, f := range []struct {
		path   string
		config bool
	}{{configFile, true}, {credentialsFile, false}} {
		file, err := os.Open(filepath.Clean(f.path))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
				continue
			}
			name := strings.TrimSpace(line[1 : len(line)-1])
			if f.config {
				// In the config file only [default] and [profile x] are
				// profiles; [sso-session x] and [services x] are not.
				if rest, ok := strings.CutPrefix(name, "profile "); ok {
					name = strings.TrimSpace(rest)
				} else if name != "default" {
					continue
				}
			}
			names = append(names, name)
		}
		file.Close()
	}
	slices.Sort(names)
	return slices.Compact(names)
}
