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
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
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
	// FromKubectl says, for the message when MFACode is nil, that kubectl
	// ran ekstoken without lending it a terminal (rather than a person or
	// a script). LoginCommand is the command that logs in once in a
	// terminal, with this run's arguments.
	FromKubectl  bool
	LoginCommand string
	// Cache, when not nil, keeps expiring credentials across processes.
	Cache *FileCache
	// EffectiveProfile, ConfigFile and CredentialsFile name, for messages,
	// the profile in use (flag, AWS_PROFILE, AWS_DEFAULT_PROFILE or
	// "default") and the shared files it is read from.
	EffectiveProfile            string
	ConfigFile, CredentialsFile string
	// Getenv and Now are the environment and the clock; nil means the
	// process's. The SDK reads the environment itself: Getenv serves what
	// ekstoken reads on top (AWS_CREDENTIAL_EXPIRATION, AWS_DEFAULT_PROFILE).
	Getenv func(string) string
	Now    func() time.Time
	// Log receives the SDK's full error chains, which messages leave out.
	Log *slog.Logger

	baseIdentity string // set while resolving, for messages
	container    bool   // the credentials came from a container endpoint
	webIdentity  bool   // or from a web identity token (IRSA)
}

// Result is a usable configuration and the credentials it resolved.
type Result struct {
	Config      aws.Config
	Credentials aws.Credentials
	// SSOTokenFile, for credentials straight from IAM Identity Center, is
	// the SDK's cache file of the SSO access token they were got with.
	// `aws sso logout` removes it: whatever those credentials signed must
	// stop being served then.
	SSOTokenFile string
}

// DefaultRoleDuration is how long an assumed-role session lasts unless the
// profile's duration_seconds says otherwise: the aws CLI sends no
// DurationSeconds and gets STS's default of one hour, where aws-sdk-go-v2
// asks for 15 minutes (and an MFA user would be prompted four times as
// often).
const DefaultRoleDuration = time.Hour

// Resolve loads the configuration and retrieves credentials.
func Resolve(ctx context.Context, o Options) (Result, error) {
	getenv, now := o.getenv(), o.now()
	// The aws CLI honours AWS_DEFAULT_PROFILE; aws-sdk-go-v2 ignores it.
	defaultProfile := ""
	if o.Profile == "" && getenv("AWS_PROFILE") == "" {
		defaultProfile = getenv("AWS_DEFAULT_PROFILE")
	}
	if err := partialEnvKeys(getenv, o.Profile != ""); err != nil {
		return Result{}, err
	}
	shared := sync.OnceValues(func() (config.SharedConfig, error) {
		return config.LoadSharedConfigProfile(ctx, o.profileName(), func(l *config.LoadSharedConfigOptions) {
			l.ConfigFiles, l.CredentialsFiles = []string{o.ConfigFile}, []string{o.CredentialsFile}
		})
	})
	// The SDK builds the container provider only when it will use it: that
	// tells a container endpoint's failure from a profile's, which the
	// error alone does not.
	var container, webIdentity bool
	opts := []func(*config.LoadOptions) error{
		config.WithEndpointCredentialOptions(func(*endpointcreds.Options) { container = true }),
		config.WithWebIdentityRoleCredentialOptions(func(*stscreds.WebIdentityRoleOptions) { webIdentity = true }),
		config.WithAssumeRoleCredentialOptions(func(a *stscreds.AssumeRoleOptions) {
			if o.MFACode != nil {
				a.TokenProvider = func() (string, error) { return o.MFACode(aws.ToString(a.SerialNumber)) }
			} else {
				// Without a person to ask, the SDK refuses to load an MFA
				// profile at all, and the role session the person started
				// in a terminal, cached in o.Cache, would never be used
				// (not by kubectl without a terminal, not by a background
				// refresh). Only a new session needs the code: fail then,
				// with the error the SDK would have given, before STS.
				a.TokenProvider = func() (string, error) { return "", config.AssumeRoleTokenProviderNotSetError{} }
			}
			// The SDK takes duration_seconds only above 15 minutes and
			// otherwise asks for 15: take the profile's exactly, else the
			// aws CLI's hour.
			a.Duration = DefaultRoleDuration
			if sc, err := shared(); err == nil {
				if d, ok := roleDuration(sc, a.RoleARN); ok {
					a.Duration = d
				}
			}
			a.Client = withBaseEndpoint(a.Client, generalEndpoint(getenv, shared))
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	// The aws CLI expands a leading ~ in these variables; the SDK reads
	// them literally. o.ConfigFile and o.CredentialsFile are expanded.
	if strings.HasPrefix(getenv("AWS_CONFIG_FILE"), "~") && o.ConfigFile != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{o.ConfigFile}))
	}
	if strings.HasPrefix(getenv("AWS_SHARED_CREDENTIALS_FILE"), "~") && o.CredentialsFile != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{o.CredentialsFile}))
	}
	switch {
	case o.Profile != "":
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	case defaultProfile != "" && envKeys(getenv):
		// Keys in the environment beat a profile named in the
		// environment: only the profile's region (and its existence)
		// matter, and naming it to the SDK would make it win.
		sc, err := shared()
		if err != nil {
			return Result{}, o.explain(ctx, err)
		}
		if o.Region == "" && getenv("AWS_REGION") == "" && getenv("AWS_DEFAULT_REGION") == "" && sc.Region != "" {
			opts = append(opts, config.WithRegion(sc.Region))
		}
	case defaultProfile != "":
		opts = append(opts, config.WithSharedConfigProfile(defaultProfile))
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
	ssoFile := sync.OnceValue(func() string {
		sc, err := shared()
		if err != nil {
			return ""
		}
		return ssoTokenFile(sc)
	})
	sdkCreds := cfg.Credentials
	// The SSO token file as it was before the SDK read it: a login that
	// rewrote it since (another process's `aws sso login`) has already
	// fixed what a failure reports.
	var ssoStamp string
	stampSSO := sync.OnceFunc(func() { ssoStamp = tokencache.WatchStamp(ssoFile()) })
	cfg.Credentials = aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		stampSSO()
		c, err := sdkCreds.Retrieve(ctx)
		if err != nil {
			return c, err
		}
		if c, err = envExpiration(c, getenv, now); err != nil {
			return c, err
		}
		if c.Source == ssocreds.ProviderName {
			c = capBySSOToken(c, ssoFile(), o.Log)
		}
		return c, nil
	})
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
				a.Duration = DefaultRoleDuration
			}))
	}
	if o.Cache != nil {
		fc := *o.Cache
		fc.ssoTokenFile = ssoFile
		cfg.Credentials = fc.Wrap(cfg.Credentials)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	o.container, o.webIdentity = container, webIdentity
	if err != nil {
		var expired *ExpiredError
		if o.RoleARN != "" && !errors.As(err, &expired) && isAccessDenied(err) {
			// Name the identity that was refused; the base credentials
			// are cached in memory by now.
			if b, berr := base.Retrieve(ctx); berr == nil {
				o.baseIdentity = fmt.Sprintf(" (key %s from %s)", b.AccessKeyID, b.Source)
			}
		}
		err = o.explain(ctx, err)
		var sso *SSOLoginError
		if errors.As(err, &sso) {
			sso.TokenFile = ssoFile()
			stampSSO() // now, if it failed before the SDK read the file
			sso.TokenStamp, sso.Stamped = ssoStamp, true
		}
		return Result{}, err
	}
	// Whatever the source, credentials that have ended sign nothing: STS
	// would refuse the token, and kubectl would be told it expired already.
	if creds.CanExpire && !creds.Expires.After(now()) {
		return Result{}, o.expired(creds, now())
	}
	res := Result{Config: cfg, Credentials: creds}
	if strings.HasPrefix(creds.Source, ssocreds.ProviderName) {
		res.SSOTokenFile = ssoFile()
	}
	return res, nil
}

func (o Options) getenv() func(string) string {
	if o.Getenv != nil {
		return o.Getenv
	}
	return os.Getenv
}

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (o Options) profileName() string {
	if o.EffectiveProfile != "" {
		return o.EffectiveProfile
	}
	return "default"
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
	// TokenFile is the SDK's cache file of the session's access token,
	// which `aws sso login` writes; "" when unknown.
	TokenFile string
	// TokenStamp, when Stamped, is tokencache.WatchStamp of TokenFile
	// before the failed attempt read it: when the file's stamp differs
	// now, someone logged in meanwhile (see Stamp).
	TokenStamp string
	Stamped    bool
	// Hint, set by the caller, adds what it could do about it.
	Hint string
}

func (e *SSOLoginError) Error() string {
	msg := fmt.Sprintf("the SSO session of profile %q is missing or expired: run `aws sso login --profile %s`", e.Profile, e.Profile)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
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

// Stamp is what tokencache.WatchStamp said of TokenFile before the failed
// attempt read it or, when that is unknown, what it says now. Comparing
// with the stamp taken after the failure would miss a login that ended in
// between.
func (e *SSOLoginError) Stamp() string {
	if e.Stamped {
		return e.TokenStamp
	}
	return tokencache.WatchStamp(e.TokenFile)
}

// NeedsPerson reports whether only a person can end the failure err: an
// SSO session to log in to again, an MFA code to type. Trying again
// without one fails the same way.
func NeedsPerson(err error) bool {
	var sso *SSOLoginError
	var noMFA config.AssumeRoleTokenProviderNotSetError
	return errors.As(err, &sso) || errors.As(err, &noMFA)
}

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

// generalEndpoint is the endpoint that AWS_ENDPOINT_URL, or the profile's
// endpoint_url, sets for every service, unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns them off.
func generalEndpoint(getenv func(string) string, shared func() (config.SharedConfig, error)) string {
	if isTrue(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		return ""
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		return u
	}
	if sc, err := shared(); err == nil {
		return sc.BaseEndpoint
	}
	return ""
}

func isTrue(v string) bool { return strings.EqualFold(v, "true") }

// withBaseEndpoint gives the STS client that assumes a profile's role the
// general endpoint override. The SDK builds that client before it resolves
// the overrides, so it honours AWS_ENDPOINT_URL_STS (read by the client
// itself) but not AWS_ENDPOINT_URL or endpoint_url, which the aws CLI
// applies to every call.
func withBaseEndpoint(c stscreds.AssumeRoleAPIClient, endpoint string) stscreds.AssumeRoleAPIClient {
	client, ok := c.(*sts.Client)
	if !ok || endpoint == "" {
		return c
	}
	opts := client.Options()
	if opts.BaseEndpoint != nil {
		return c // a service-specific override is set, and wins
	}
	opts.BaseEndpoint = aws.String(endpoint)
	return sts.New(opts)
}
