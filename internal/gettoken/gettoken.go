// Package gettoken is the `ekstoken token` use case, one story: look up the
// cache → still fresh? → lock → look up again → resolve credentials → sign →
// save → write the ExecCredential. A cache hit resolves no credentials and
// touches no network: it reads one file and prints.
package gettoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/token"
)

// Input is what the command line asked for.
type Input struct {
	ClusterName string
	ClusterID   string // Outposts local clusters; exclusive with ClusterName
	Region      string
	Profile     string
	RoleARN     string
	SessionName string
	ExternalID  string

	NoCache      bool
	ForceRefresh bool
	// Margin is how long before a token's real end ekstoken stops serving
	// it and tells kubectl it has expired.
	Margin time.Duration
}

// Env is the boundary to the operating system, passed in whole.
type Env struct {
	Now    func() time.Time
	Getenv func(string) string
	Home   string
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
	// Store is the token cache; nil when caching is off.
	Store *cache.Store
	// Resolve gets credentials; tests count its calls.
	Resolve func(context.Context, awsauth.Options) (awsauth.Result, error)
	// LockTimeout bounds the wait for another process's refresh.
	LockTimeout time.Duration
}

// Run prints one ExecCredential for in, or returns an error and prints
// nothing on stdout.
func Run(ctx context.Context, env Env, in Input) error {
	start := env.Now()
	info := execcred.ReadInfo(env.Getenv)
	if info.Warning != "" {
		fmt.Fprintln(env.Stderr, info.Warning)
	}
	id := env.identity(in)
	name := id.name()

	if env.Store != nil && !in.ForceRefresh {
		if c, ok := env.lookup(name, in.Margin); ok {
			env.Log.Debug("cache hit", "remaining", c.Expiration.Sub(env.Now()).Round(time.Second), "file", env.Store.Path(name), "took", env.Now().Sub(start))
			return execcred.Write(env.Stdout, info.APIVersion, c)
		}
		// One refresh for many parallel kubectl runs: wait for whoever is
		// refreshing, then look again before doing the work ourselves.
		lockCtx, cancel := context.WithTimeout(ctx, env.LockTimeout)
		unlock, err := env.Store.Lock(lockCtx, name)
		cancel()
		if err != nil {
			env.Log.Debug("refreshing without the lock", "err", err)
		} else {
			defer unlock()
			if c, ok := env.lookup(name, in.Margin); ok {
				env.Log.Debug("cache hit after waiting for another refresh", "took", env.Now().Sub(start))
				return execcred.Write(env.Stdout, info.APIVersion, c)
			}
		}
	}

	res, err := env.Resolve(ctx, awsauth.Options{
		Region: in.Region, Profile: in.Profile,
		RoleARN: in.RoleARN, SessionName: in.SessionName, ExternalID: in.ExternalID,
		ExpiryWindow:     in.Margin,
		EffectiveProfile: id.Profile, ConfigFile: id.Config.Path, CredentialsFile: id.Credentials.Path,
	})
	if err != nil {
		return err
	}
	env.Log.Debug("credentials resolved", "source", res.Credentials.Source, "accessKeyId", res.Credentials.AccessKeyID,
		"expires", expiresText(res.Credentials), "took", env.Now().Sub(start))

	signedAt := env.Now().UTC().Truncate(time.Second)
	tok, err := token.Sign(ctx, res.Config, res.Credentials, id.Cluster, signedAt)
	if err != nil {
		return err
	}
	entry := Entry{
		Format: entryFormat, Token: tok,
		Cluster: id.Cluster, Region: res.Config.Region, Profile: id.Profile, RoleARN: in.RoleARN,
		AccessKeyID: res.Credentials.AccessKeyID, CredentialSource: res.Credentials.Source,
	}
	if res.Credentials.CanExpire {
		entry.CredentialsExpire = res.Credentials.Expires.UTC()
	}
	life, err := entry.Lifetime()
	if err != nil {
		return fmt.Errorf("read back the new token: %w", err)
	}
	cred := execcred.Credential{Token: tok, Expiration: life.ServeUntil(in.Margin)}
	if !cred.Expiration.After(signedAt) {
		// The credentials end within the margin: report their real end,
		// and keep the token out of the cache, where it would be stale.
		cred.Expiration = life.End
		env.Log.Debug("credentials expire within the margin; not caching", "credentialsExpire", life.End)
	} else if env.Store != nil {
		if err := env.Store.Write(name, entry); err != nil {
			// A cache that cannot be written still yields the token.
			env.Log.Debug("cache not written", "err", err)
		}
	}
	env.Log.Debug("token signed", "cluster", id.Cluster, "region", res.Config.Region, "expires", cred.Expiration,
		"cappedByCredentials", life.CappedByCredentials, "took", env.Now().Sub(start))
	return execcred.Write(env.Stdout, info.APIVersion, cred)
}

// lookup returns the cached credential called name if it is fresh. Every
// problem with the entry is a miss.
func (env Env) lookup(name string, margin time.Duration) (execcred.Credential, bool) {
	var e Entry
	if err := env.Store.Read(name, &e); err != nil {
		if errors.Is(err, cache.ErrNotFound) {
			env.Log.Debug("cache miss", "reason", "no entry", "file", env.Store.Path(name))
		} else {
			env.Log.Debug("cache miss", "reason", err)
		}
		return execcred.Credential{}, false
	}
	life, err := e.Lifetime()
	if err != nil {
		env.Log.Debug("cache miss", "reason", err)
		return execcred.Credential{}, false
	}
	if ok, why := life.Fresh(env.Now(), margin); !ok {
		env.Log.Debug("cache miss", "reason", why, "signedAt", life.SignedAt)
		return execcred.Credential{}, false
	}
	return execcred.Credential{Token: e.Token, Expiration: life.ServeUntil(margin)}, true
}

// identity gathers the key inputs from flags, environment and file stamps,
// resolving what the aws CLI would: flag, then AWS_REGION /
// AWS_DEFAULT_REGION, AWS_PROFILE / AWS_DEFAULT_PROFILE. A region that only
// the profile knows stays "", and the profile's name and file stamp stand in
// for it.
func (env Env) identity(in Input) identity {
	id := identity{
		Cluster: in.ClusterName, Region: in.Region, Profile: in.Profile, ProfileFlag: in.Profile != "",
		RoleARN: in.RoleARN, SessionName: in.SessionName, ExternalID: in.ExternalID,
		Env: map[string]string{},
	}
	if in.ClusterID != "" {
		id.Cluster, id.ClusterIsID = in.ClusterID, true
	}
	id.Region = firstNonEmpty(in.Region, env.Getenv("AWS_REGION"), env.Getenv("AWS_DEFAULT_REGION"))
	id.Profile = firstNonEmpty(in.Profile, env.Getenv("AWS_PROFILE"), env.Getenv("AWS_DEFAULT_PROFILE"), "default")
	if !id.ProfileFlag {
		// Environment keys beat AWS_PROFILE (token-spec.md §7.16).
		id.AccessKeyID = firstNonEmpty(env.Getenv("AWS_ACCESS_KEY_ID"), env.Getenv("AWS_ACCESS_KEY"))
	}
	for _, k := range identityEnv {
		if v := env.Getenv(k); v != "" {
			id.Env[k] = v
		}
	}
	id.Config = stamp(firstNonEmpty(env.Getenv("AWS_CONFIG_FILE"), filepath.Join(env.Home, ".aws", "config")))
	id.Credentials = stamp(firstNonEmpty(env.Getenv("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(env.Home, ".aws", "credentials")))
	return id
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func expiresText(c aws.Credentials) string {
	if !c.CanExpire {
		return "never"
	}
	return c.Expires.UTC().Format(time.RFC3339)
}
